package console_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tokend/tokend/adapters/console"
	"github.com/tokend/tokend/adapters/httpapi"
	"github.com/tokend/tokend/internal/stacktest"
)

// stack is the real service as `tokend serve` wires it, console included:
// an embedded JetStream, a Badger read model with its projector, the
// command service, and the HTTP API on a real loopback listener.
type stack struct {
	t     testing.TB
	url   string
	admin string // the admin license (account default)
}

func newStack(t testing.TB) *stack {
	t.Helper()
	core := stacktest.Start(t)
	srv, err := httpapi.New(httpapi.Config{
		Store:      core.Store,
		Commands:   core.Commands,
		Lag:        core.Projector.Lag,
		PingNATS:   func() error { return core.NC.FlushTimeout(time.Second) },
		Logger:     slog.New(slog.DiscardHandler),
		RateLimits: &httpapi.RateLimits{},
		Console:    console.Handler(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &stack{t: t, url: ts.URL, admin: core.Admin}
}

// call is one request to the API with a license; it fails the test unless
// the answer has status want, and decodes a JSON answer into out (if set).
func (s *stack) call(license, method, path string, body any, want int, out any) http.Header {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if license != "" {
		req.Header.Set("Authorization", "Bearer "+license)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return res.Header
}

// tenant makes an account through the API and returns its license.
func (s *stack) tenant(name string) string {
	s.t.Helper()
	var out struct {
		License string `json:"license"`
	}
	s.call(s.admin, "POST", "/v1/accounts", map[string]any{"name": name}, 201, &out)
	return out.License
}

// tokenView is the part of the API's TokenView the tests read.
type tokenView struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Note           *string `json:"note"`
	ExpirationDate int64   `json:"expirationDate"`
	Status         string  `json:"status"`
	ModelID        *string `json:"modelId"`
	ModelName      *string `json:"modelName"`
	SecretHint     string  `json:"secretHint"`
	Version        int64   `json:"version"`
}
