package sdk

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// seen is one request as the fake server received it.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

// fakeServer is an httptest.Server whose answers a test scripts, and which
// records every request it receives.
type fakeServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

// newFake starts a fake whose handler gets the 1-based number of the request.
func newFake(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *fakeServer {
	t.Helper()
	f := &fakeServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(b)})
		n := len(f.reqs)
		f.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

func (f *fakeServer) last(t *testing.T) seen {
	t.Helper()
	r := f.requests()
	if len(r) == 0 {
		t.Fatal("the server received no request")
	}
	return r[len(r)-1]
}

// client returns a Client of the fake with fast retries and fresh
// connections: net/http's Transport itself silently retries some requests
// that fail on a reused connection, which would blur the attempt counts.
func (f *fakeServer) client(opts ...Option) *Client {
	base := []Option{
		WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}),
	}
	return New(f.URL, "lic_test", append(base, opts...)...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// dropConnection closes the connection without answering, as a crashed
// server or a cut network would.
func dropConnection(t *testing.T, w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		t.Error("the ResponseWriter cannot hijack")
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

// tokenJSON is a TokenView as the service writes it.
func tokenJSON(id string) map[string]any {
	return map[string]any{
		"id": id, "name": "name-" + id, "note": nil, "expirationDate": 1900000000,
		"status": "ACTIVE", "expired": false, "modelId": nil, "modelName": nil,
		"secretHint": "tkn_abcd", "createdAt": 1800000000, "updatedAt": 1800000000, "version": 1,
	}
}
