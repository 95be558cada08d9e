// Package e2e runs the real binaries: tokend serve as a subprocess on a
// temporary data directory and random ports, driven by tokenctl (also a
// subprocess) and the Go SDK.
package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// binaries builds tokend and tokenctl into t.TempDir() and returns that
// directory. go's build cache makes every build after the first a link.
func binaries(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the binaries with")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/tokend", "./cmd/tokenctl")
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the binaries: %v\n%s", err, out)
	}
	return dir
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

// syncBuffer collects a subprocess's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// service is a running tokend.
type service struct {
	bin     string
	url     string
	dataDir string
	license string // the admin license
}

// startService runs tokend serve on fresh ports and data directory, waits
// until it is ready, and reads the admin license it wrote. The process is
// killed when the test ends, failed or not; its log is shown on failure.
func startService(t *testing.T, bin string) *service {
	t.Helper()
	dataDir := t.TempDir()
	httpAddr, natsAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(filepath.Join(bin, "tokend"), "serve",
		"--data-dir", dataDir, "--http", httpAddr, "--nats-listen", natsAddr, "--rate-limit", "off")
	cmd.Env = cleanEnv() // flags only: a TOKEND_ADMIN_LICENSE would skip admin.license
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tokend: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("tokend log:\n%s", tail(logs.String(), 8000))
		}
	})

	s := &service{bin: bin, url: "http://" + httpAddr, dataDir: dataDir}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("tokend exited before it was ready: %v", err)
		default:
		}
		if ready(s.url) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("tokend was not ready within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "admin.license"))
	if err != nil {
		t.Fatalf("admin license: %v", err)
	}
	s.license = strings.TrimSpace(string(b))
	return s
}

func ready(base string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// result is one tokenctl run.
type result struct {
	code           int
	stdout, stderr string
}

// ctl runs tokenctl against s with the admin license in its environment, as
// a user would set it up; stdin feeds `introspect -`.
func (s *service) ctl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "tokenctl"), args...)
	cmd.Env = append(cleanEnv(), "TOKEND_URL="+s.url, "TOKEND_LICENSE="+s.license)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("tokenctl %v: %v", args, err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// ok runs tokenctl and fails the test unless it exits 0.
func (s *service) ok(t *testing.T, args ...string) result {
	t.Helper()
	r := s.ctl(t, "", args...)
	if r.code != 0 {
		t.Fatalf("tokenctl %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// cleanEnv is the test's environment without the TOKEND_ variables of
// whoever runs it, so that the subprocesses see only what the test sets.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOKEND_") {
			env = append(env, kv)
		}
	}
	return env
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
