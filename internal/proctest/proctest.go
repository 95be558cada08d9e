// Package proctest runs `tokend serve` as a subprocess for one test: on a
// data directory and two free loopback ports, rate limiting off, its stdout
// and stderr collected, ready once it answers /readyz, and killed by
// t.Cleanup (its output then logged if the test failed) whatever the test's
// outcome. On Linux the kernel also kills it if the test process dies first.
//
// It exists because cmd/tokend (which runs its own test binary as tokend)
// and e2e (which builds the binary) had each written this harness. The
// executable and its environment are the caller's.
package proctest

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
	"syscall"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer that a test can read while a process (or a
// logger) writes it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// FreeAddr returns a loopback address with a port free at the time of the
// call.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Tokend is a `tokend serve` to run: its executable, environment, data
// directory and addresses. Start may run it several times, one run at a
// time, on the same data directory.
type Tokend struct {
	Exe      string   // the tokend executable
	Env      []string // its whole environment
	DataDir  string
	HTTPAddr string
	NATSAddr string
}

// New is a Tokend of exe with environment env on a fresh data directory
// and free ports.
func New(t testing.TB, exe string, env []string) *Tokend {
	t.Helper()
	return &Tokend{Exe: exe, Env: env, DataDir: t.TempDir(), HTTPAddr: FreeAddr(t), NATSAddr: FreeAddr(t)}
}

// URL is the base URL of its HTTP API.
func (d *Tokend) URL() string { return "http://" + d.HTTPAddr }

// Command is the command line `tokend serve --data-dir --http --nats-listen
// --rate-limit off`, with Env and then extraEnv as its environment.
func (d *Tokend) Command(extraEnv ...string) *exec.Cmd {
	cmd := exec.Command(d.Exe, "serve", "--data-dir", d.DataDir, "--http", d.HTTPAddr, "--nats-listen", d.NATSAddr, "--rate-limit", "off")
	cmd.Env = append(append([]string(nil), d.Env...), extraEnv...)
	return cmd
}

// License is the admin license tokend wrote to its data directory.
func (d *Tokend) License(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.DataDir, "admin.license"))
	if err != nil {
		t.Fatalf("admin license: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// Proc is one run of tokend.
type Proc struct {
	Cmd    *exec.Cmd
	Output *Buffer // stdout and stderr
	exited chan struct{}
}

// Start runs tokend with extraEnv added to its environment and waits up to
// 60 s until it answers /readyz with 200. t.Cleanup kills it, waits for it
// to be gone and, if the test failed, logs the end of its output.
func (d *Tokend) Start(t testing.TB, extraEnv ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: d.Command(extraEnv...), Output: &Buffer{}, exited: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = p.Output, p.Output
	dieWithParent(p.Cmd)
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start tokend: %v", err)
	}
	go func() { p.Cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.Cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("tokend output:\n%s", tail(p.Output.String(), 8000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for !ready(d.URL()) {
		select {
		case <-p.exited:
			t.Fatalf("tokend exited before it was ready: %v", p.Cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("tokend not ready after 60 s")
		}
	}
	return p
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

// Exited is closed once the process is gone.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop sends SIGTERM and fails the test unless the process exits 0 within
// 30 s.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("tokend did not stop within 30 s of SIGTERM")
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("tokend exited with %d after SIGTERM", code)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
