// Package e2e runs the real binaries: tokend serve as a subprocess on a
// temporary data directory and random ports, driven by tokenctl (also a
// subprocess) and the Go SDK.
package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/proctest"
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
	// Flags only: a TOKEND_ADMIN_LICENSE would skip admin.license.
	d := proctest.New(t, filepath.Join(bin, "tokend"), cleanEnv())
	d.Start(t)
	return &service{bin: bin, url: d.URL(), dataDir: d.DataDir, license: d.License(t)}
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
