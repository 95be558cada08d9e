package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary be tokend itself: a test starts it as a
// subprocess with TOKEND_TEST_AS_MAIN=1, so the service under test is built
// with the same flags (the race detector included) and needs no go build.
func TestMain(m *testing.M) {
	if os.Getenv("TOKEND_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// process is one tokend run as a subprocess on a data directory.
type process struct {
	t        *testing.T
	dataDir  string
	httpAddr string
	natsAddr string
	cmd      *exec.Cmd
	stderr   *lockedBuffer
	exited   chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newProcess picks the ports and data directory of a tokend; start runs it.
func newProcess(t *testing.T) *process {
	return &process{t: t, dataDir: t.TempDir(), httpAddr: freeAddr(t), natsAddr: freeAddr(t)}
}

// start runs tokend and waits until it answers /readyz. The process is
// killed when the test ends, whatever its outcome.
func (p *process) start(extraEnv ...string) {
	p.t.Helper()
	p.cmd = newServeCmd(p)
	p.cmd.Env = append(p.cmd.Env, extraEnv...)
	p.stderr = &lockedBuffer{}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	cmd, exited := p.cmd, p.exited
	go func() { cmd.Wait(); close(exited) }()
	p.t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if p.t.Failed() {
			p.t.Logf("tokend stderr:\n%s", p.stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + p.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			p.t.Fatalf("tokend exited before it was ready:\n%s", p.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("tokend not ready after 60 s:\n%s", p.stderr.String())
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("tokend did not stop within 30 s of SIGTERM:\n%s", p.stderr.String())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Fatalf("tokend exited with %d after SIGTERM:\n%s", code, p.stderr.String())
	}
}

func (p *process) license() string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dataDir, "admin.license"))
	if err != nil {
		p.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// call makes one HTTP request with the admin license and decodes a JSON answer into out.
func (p *process) call(method, path string, body any, out any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+p.httpAddr+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.license())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode >= 300 {
		return resp, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return resp, json.Unmarshal(data, out)
	}
	return resp, nil
}

func (p *process) mustCall(method, path string, body any, out any) *http.Response {
	p.t.Helper()
	resp, err := p.call(method, path, body, out)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp
}

// grepStderr reports whether tokend's stderr holds s.
func (p *process) grepStderr(s string) bool {
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return true
		}
	}
	return false
}

func newServeCmd(p *process) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "serve", "--data-dir", p.dataDir, "--http", p.httpAddr, "--nats-listen", p.natsAddr, "--rate-limit", "off")
	cmd.Env = append(os.Environ(), "TOKEND_TEST_AS_MAIN=1")
	return cmd
}
