package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/internal/proctest"
	"github.com/tokend/tokend/internal/stacktest"
	"github.com/tokend/tokend/projections"
)

// stack is the real service for one test: an embedded JetStream server, a
// Badger read model with its projector, the command service, and the API on
// a real loopback listener.
type stack struct {
	t      testing.TB
	core   *stacktest.Core
	srv    *Server
	ts     *httptest.Server
	client *http.Client // checks every exchange against docs/openapi.yaml
	store  *projections.Store
	nc     *nats.Conn
	admin  string           // the admin license (account default)
	logs   *proctest.Buffer // the server's log
}

// stackOption adjusts the Config before New.
type stackOption func(*Config)

func withRateLimits(l RateLimits) stackOption { return func(c *Config) { c.RateLimits = &l } }

func newStack(t testing.TB, opts ...stackOption) *stack {
	t.Helper()
	core := stacktest.Start(t)
	logs := &proctest.Buffer{}
	cfg := Config{
		Store:      core.Store,
		Commands:   core.Commands,
		Lag:        core.Projector.Lag,
		PingNATS:   func() error { return core.NC.FlushTimeout(time.Second) },
		Logger:     slog.New(slog.NewJSONHandler(logs, nil)),
		RateLimits: &RateLimits{}, // off unless a test turns it on
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	client := &http.Client{Transport: &validatingTransport{t: t, base: ts.Client().Transport, router: openAPIRouter(t)}}
	return &stack{t: t, core: core, srv: srv, ts: ts, client: client, store: core.Store, nc: core.NC, admin: core.Admin, logs: logs}
}

// lastSeq is the stream's last sequence: what "no event appended" compares.
func (s *stack) lastSeq() uint64 {
	s.t.Helper()
	return s.core.LastSeq(s.t)
}

// req is one request to the stack.
type req struct {
	method, path string
	license      string // sent as Bearer when set
	body         any    // string/[]byte sent raw; anything else JSON-encoded
	ctype        string // default application/json when there is a body
	headers      map[string]string
}

// resp is an answer, body read.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// code returns the error code of an error answer.
func (r resp) code() string {
	var e errorBody
	_ = json.Unmarshal(r.body, &e)
	return string(e.Error.Code)
}

func (s *stack) do(q req) resp {
	s.t.Helper()
	var body io.Reader
	switch b := q.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(q.method, s.ts.URL+q.path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if q.body != nil {
		ct := q.ctype
		if ct == "" {
			ct = "application/json"
		}
		if ct != "-" {
			hr.Header.Set("Content-Type", ct)
		}
	}
	if q.license != "" {
		hr.Header.Set("Authorization", "Bearer "+q.license)
	}
	for k, v := range q.headers {
		hr.Header.Set(k, v)
	}
	res, err := s.client.Do(hr)
	if err != nil {
		s.t.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// must does q and fails unless it answers status.
func (s *stack) must(status int, q req) resp {
	s.t.Helper()
	r := s.do(q)
	if r.status != status {
		s.t.Fatalf("%s %s: status %d, want %d: %s", q.method, q.path, r.status, status, r.body)
	}
	return r
}

// tenant is an account made through the API, with its license.
type tenant struct {
	id, license string
}

func (s *stack) newTenant(name string) tenant {
	s.t.Helper()
	r := s.must(201, req{method: "POST", path: "/v1/accounts", license: s.admin, body: map[string]any{"name": name}})
	var out struct {
		Account struct{ ID string } `json:"account"`
		License string              `json:"license"`
	}
	r.json(s.t, &out)
	return tenant{id: out.Account.ID, license: out.License}
}

func (s *stack) newModel(license, name string) string {
	s.t.Helper()
	r := s.must(201, req{method: "POST", path: "/v1/models", license: license, body: map[string]any{"name": name}})
	var m projections.Model
	r.json(s.t, &m)
	return m.ID
}

type issued struct {
	view   projections.TokenView
	secret string
	seq    uint64
}

func (s *stack) newToken(license string, body map[string]any) issued {
	s.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	if _, ok := body["name"]; !ok {
		body["name"] = "token"
	}
	if _, ok := body["expirationDate"]; !ok {
		body["expirationDate"] = inDays(30)
	}
	r := s.must(201, req{method: "POST", path: "/v1/tokens", license: license, body: body})
	var out struct {
		Token  projections.TokenView `json:"token"`
		Secret string                `json:"secret"`
	}
	r.json(s.t, &out)
	seq, _ := strconv.ParseUint(r.header.Get("X-Sequence"), 10, 64)
	return issued{view: out.Token, secret: out.Secret, seq: seq}
}

func inDays(d int) int64 { return time.Now().Add(time.Duration(d) * 24 * time.Hour).Unix() }

// minSeq is the header map that makes a read wait for seq.
func minSeq(seq uint64) map[string]string {
	return map[string]string{"X-Min-Sequence": strconv.FormatUint(seq, 10)}
}

func seqOf(t testing.TB, r resp) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(r.header.Get("X-Sequence"), 10, 64)
	if err != nil {
		t.Fatalf("X-Sequence %q: %v", r.header.Get("X-Sequence"), err)
	}
	return n
}
