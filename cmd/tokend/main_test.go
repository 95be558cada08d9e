package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/proctest"
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

// process is one tokend run as a subprocess on a data directory: the test
// binary itself, as TestMain makes it tokend.
type process struct {
	t *testing.T
	*proctest.Tokend
	run *proctest.Proc // the latest start
}

// newProcess picks the ports and data directory of a tokend; start runs it.
func newProcess(t *testing.T) *process {
	return &process{t: t, Tokend: proctest.New(t, os.Args[0], append(os.Environ(), "TOKEND_TEST_AS_MAIN=1"))}
}

// start runs tokend and waits until it answers /readyz. The process is
// killed when the test ends, whatever its outcome.
func (p *process) start(extraEnv ...string) {
	p.t.Helper()
	p.run = p.Start(p.t, extraEnv...)
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	p.t.Helper()
	p.run.Kill()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop() {
	p.t.Helper()
	p.run.Stop(p.t)
}

func (p *process) license() string {
	p.t.Helper()
	return p.License(p.t)
}

// call makes one HTTP request with the admin license and decodes a JSON answer into out.
func (p *process) call(method, path string, body any, out any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.URL()+path, r)
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

// grepStderr reports whether tokend's output (stderr and stdout) holds s.
func (p *process) grepStderr(s string) bool {
	sc := bufio.NewScanner(strings.NewReader(p.run.Output.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return true
		}
	}
	return false
}
