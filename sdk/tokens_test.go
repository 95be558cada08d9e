package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
)

// The tri-state update: an absent field is not sent, a set one is, and null
// clears (note) or unassigns (modelId).
func TestUpdateTokenEncodesAbsentValueAndNull(t *testing.T) {
	tests := []struct {
		name string
		req  UpdateTokenRequest
		want string
	}{
		{"nothing", UpdateTokenRequest{}, `{}`},
		{"set note", UpdateTokenRequest{Note: Some("vip")}, `{"note":"vip"}`},
		{"empty note is a value", UpdateTokenRequest{Note: Some("")}, `{"note":""}`},
		{"clear note", UpdateTokenRequest{Note: Null[string]()}, `{"note":null}`},
		{"assign", UpdateTokenRequest{ModelID: Some("m1")}, `{"modelId":"m1"}`},
		{"unassign", UpdateTokenRequest{ModelID: Null[string]()}, `{"modelId":null}`},
		{"several", UpdateTokenRequest{
			Name: Some("n"), ExpirationDate: Some[int64](1900000000), Status: Some(StatusSuspended), Note: Null[string](),
		}, `{"name":"n","note":null,"expirationDate":1900000000,"status":"SUSPENDED"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, tokenJSON("t1")) })
			if _, err := f.client().UpdateToken(context.Background(), "t1", tc.req); err != nil {
				t.Fatal(err)
			}
			r := f.last(t)
			if r.Method != http.MethodPatch || r.Path != "/v1/tokens/t1" || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request = %s %s (%s)", r.Method, r.Path, r.Header.Get("Content-Type"))
			}
			if r.Body != tc.want {
				t.Errorf("body = %s, want %s", r.Body, tc.want)
			}
		})
	}
}

func TestUpdateTokenRefusesNullForFieldsThatCannotBeCleared(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { t.Error("unexpected request") })
	for name, req := range map[string]UpdateTokenRequest{
		"name":           {Name: Null[string]()},
		"expirationDate": {ExpirationDate: Null[int64]()},
		"status":         {Status: Null[Status]()},
	} {
		_, err := f.client().UpdateToken(context.Background(), "t1", req)
		if !errors.Is(err, ErrInvalidArgument) || err.Error() != "invalid_argument: "+name+": must not be null" {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestOptionalJSONRoundTrip(t *testing.T) {
	var got struct {
		A Optional[string] `json:"a,omitzero"`
		B Optional[string] `json:"b,omitzero"`
		C Optional[int64]  `json:"c,omitzero"`
	}
	if err := json.Unmarshal([]byte(`{"a":"x","b":null}`), &got); err != nil {
		t.Fatal(err)
	}
	if v, ok := got.A.Get(); !ok || v != "x" || !got.B.IsNull() || !got.C.IsZero() || got.C.IsSet() {
		t.Errorf("decoded %+v", got)
	}
	b, _ := json.Marshal(got)
	if string(b) != `{"a":"x","b":null}` {
		t.Errorf("encoded %s", b)
	}
}

// The iterator follows nextCursor to the end, passes the filters on every
// page, and stops fetching when the loop breaks.
func TestAllTokensPagesThroughEveryPage(t *testing.T) {
	const total, limit = 7, 3
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		var toks []any
		for i := start; i < min(start+limit, total); i++ {
			toks = append(toks, tokenJSON(fmt.Sprint("t", i)))
		}
		var next any
		if start+limit < total {
			next = strconv.Itoa(start + limit)
		}
		writeJSON(w, 200, map[string]any{"tokens": toks, "nextCursor": next})
	})
	c := f.client()
	opts := ListOptions{Status: []Status{StatusActive, StatusSuspended}, Query: "bot", Sort: SortNameDesc, Limit: limit, Assigned: new(false)}
	var ids []string
	for tok, err := range c.AllTokens(context.Background(), opts) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
	}
	if fmt.Sprint(ids) != "[t0 t1 t2 t3 t4 t5 t6]" {
		t.Errorf("ids = %v", ids)
	}
	reqs := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("pages fetched = %d, want 3", len(reqs))
	}
	for i, r := range reqs {
		q, _ := url.ParseQuery(r.RawQuery)
		if fmt.Sprint(q["status"]) != "[ACTIVE SUSPENDED]" || q.Get("q") != "bot" || q.Get("sort") != "-name" ||
			q.Get("limit") != "3" || q.Get("assigned") != "false" {
			t.Errorf("page %d query = %s", i, r.RawQuery)
		}
		if wantCursor := []string{"", "3", "6"}[i]; q.Get("cursor") != wantCursor {
			t.Errorf("page %d cursor = %q, want %q", i, q.Get("cursor"), wantCursor)
		}
	}

	// Breaking out early fetches no more pages.
	before := len(f.requests())
	for range c.AllTokens(context.Background(), ListOptions{Limit: limit}) {
		break
	}
	if got := len(f.requests()) - before; got != 1 {
		t.Errorf("pages fetched for one token = %d, want 1", got)
	}
}

func TestAllTokensYieldsAPageErrorAndStops(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			writeJSON(w, 200, map[string]any{"tokens": []any{tokenJSON("t0")}, "nextCursor": "c1"})
			return
		}
		writeError(w, 400, CodeInvalidArgument, "cursor: malformed")
	})
	var ids []string
	var errs []error
	for tok, err := range f.client().AllTokens(context.Background(), ListOptions{}) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, tok.ID)
	}
	if len(ids) != 1 || len(errs) != 1 || !errors.Is(errs[0], ErrInvalidArgument) {
		t.Errorf("ids %v, errs %v", ids, errs)
	}
}

func TestAuditIteratorsAndQueries(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		entry := map[string]any{
			"sequence": n, "eventId": "e", "type": "TokenRenamed", "tokenId": "t1",
			"at": "2026-11-26T21:00:00.123456789Z", "actor": map[string]any{"kind": "license", "id": "l1"},
			"commandId": "c", "changes": map[string]any{"name": map[string]any{"from": "a", "to": "b"}},
		}
		next := any(nil)
		if r.URL.Query().Get("cursor") == "" {
			next = "p2"
		}
		writeJSON(w, 200, map[string]any{"entries": []any{entry}, "nextCursor": next})
	})
	c := f.client()
	var n int
	for e, err := range c.AllAudit(context.Background(), AuditOptions{Since: 10, Until: 20, Type: "TokenRenamed", Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if string(e.Changes["name"].From) != `"a"` || e.At.Nanosecond() != 123456789 || e.Actor.ID != "l1" {
			t.Errorf("entry = %+v", e)
		}
	}
	if n != 2 {
		t.Errorf("entries = %d, want 2", n)
	}
	q, _ := url.ParseQuery(f.requests()[1].RawQuery)
	if f.requests()[1].Path != "/v1/audit" || q.Get("since") != "10" || q.Get("until") != "20" || q.Get("type") != "TokenRenamed" ||
		q.Get("limit") != "1" || q.Get("cursor") != "p2" {
		t.Errorf("second audit request = %s?%s", f.requests()[1].Path, f.requests()[1].RawQuery)
	}
	n = 0
	for _, err := range c.AllTokenAudit(context.Background(), "t/1", PageOptions{Limit: 5}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if last := f.last(t); n != 2 || last.Path != "/v1/tokens/t/1/audit" || last.RawQuery != "cursor=p2&limit=5" {
		t.Errorf("token audit: %d entries, last request %s?%s", n, last.Path, last.RawQuery)
	}
}

// The client sends the X-Sequence of its last write as X-Min-Sequence on its
// later reads, and never on writes.
func TestReadYourWrites(t *testing.T) {
	var mu sync.Mutex
	seq := 40
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method != http.MethodGet && r.URL.Path != "/v1/introspect" {
			mu.Lock()
			seq++
			w.Header().Set("X-Sequence", strconv.Itoa(seq))
			mu.Unlock()
			w.Header().Set("ETag", `"2"`)
		}
		writeJSON(w, 200, tokenJSON("t1"))
	})
	ctx := context.Background()
	c := f.client()

	if _, err := c.GetToken(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if h := f.last(t).Header.Get("X-Min-Sequence"); h != "" {
		t.Errorf("read before any write sent X-Min-Sequence %q", h)
	}
	var meta Meta
	if _, err := c.CancelToken(ctx, "t1", WithResponseMeta(&meta)); err != nil {
		t.Fatal(err)
	}
	if meta.Sequence != 41 || meta.Version != 2 || c.LastSequence() != 41 {
		t.Errorf("meta = %+v, LastSequence = %d", meta, c.LastSequence())
	}
	if _, err := c.AssignModel(ctx, "t1", "m1"); err != nil { // a write: sends no X-Min-Sequence
		t.Fatal(err)
	}
	if h := f.last(t).Header.Get("X-Min-Sequence"); h != "" {
		t.Errorf("a write sent X-Min-Sequence %q", h)
	}
	if _, err := c.GetToken(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if h := f.last(t).Header.Get("X-Min-Sequence"); h != "42" {
		t.Errorf("read after writes: X-Min-Sequence = %q, want 42", h)
	}
	if _, err := c.Introspect(ctx, "tkn_x"); err != nil {
		t.Fatal(err)
	}
	if h := f.last(t).Header.Get("X-Min-Sequence"); h != "42" {
		t.Errorf("introspect after writes: X-Min-Sequence = %q, want 42", h)
	}
	// MinSequence overrides the automatic value; 0 sends none.
	if _, err := c.GetToken(ctx, "t1", MinSequence(7)); err != nil {
		t.Fatal(err)
	}
	if h := f.last(t).Header.Get("X-Min-Sequence"); h != "7" {
		t.Errorf("MinSequence(7): X-Min-Sequence = %q", h)
	}
	if _, err := c.GetToken(ctx, "t1", MinSequence(0)); err != nil {
		t.Fatal(err)
	}
	if h := f.last(t).Header.Get("X-Min-Sequence"); h != "" {
		t.Errorf("MinSequence(0): X-Min-Sequence = %q", h)
	}
	// Turned off, reads send nothing, but MinSequence still works.
	off := f.client(WithReadYourWrites(false))
	if _, err := off.CancelToken(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := off.GetToken(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if h := f.last(t).Header.Get("X-Min-Sequence"); h != "" {
		t.Errorf("read-your-writes off: X-Min-Sequence = %q", h)
	}
}

// LastSequence only grows, also under concurrent writes answered out of order.
func TestLastSequenceIsTheMaximum(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-Sequence", r.URL.Query().Get("seq"))
		w.WriteHeader(204)
	})
	c := New(f.URL, "lic_x")
	var wg sync.WaitGroup
	for i := 1; i <= 50; i++ {
		wg.Go(func() {
			req := request{method: http.MethodDelete, path: "/v1/tokens/x", query: url.Values{"seq": {strconv.Itoa(i)}}, kind: idempotentWrite}
			if err := c.do(context.Background(), req, nil, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := c.LastSequence(); got != 50 {
		t.Errorf("LastSequence = %d, want 50", got)
	}
}

func TestRequestShapes(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.Method + " " + r.URL.Path {
		case "POST /v1/tokens":
			writeJSON(w, 201, map[string]any{"token": tokenJSON("t1"), "secret": "tkn_secret"})
		case "POST /v1/accounts":
			writeJSON(w, 201, map[string]any{"account": map[string]any{"id": "a1", "name": "acme"}, "license": "lic_new"})
		case "POST /v1/licenses":
			writeJSON(w, 201, map[string]any{"id": "l2", "license": "lic_two"})
		case "GET /v1/licenses":
			writeJSON(w, 200, map[string]any{"licenses": []any{map[string]any{"id": "l1", "revoked": true}}})
		case "POST /v1/introspect":
			writeJSON(w, 200, map[string]any{"active": false})
		case "DELETE /v1/licenses/l1", "DELETE /v1/tokens/t1":
			w.WriteHeader(204)
		default:
			writeJSON(w, 200, map[string]any{"id": "x", "name": "y"})
		}
	})
	ctx := context.Background()
	c := f.client(WithUserAgent("test-agent/1"))

	check := func(method, path, body string) seen {
		t.Helper()
		r := f.last(t)
		if r.Method != method || r.Path != path || r.Body != body {
			t.Errorf("request = %s %s %s, want %s %s %s", r.Method, r.Path, r.Body, method, path, body)
		}
		if r.Header.Get("User-Agent") != "test-agent/1" || r.Header.Get("Accept") != "application/json" {
			t.Errorf("%s %s headers = %v", method, path, r.Header)
		}
		if body != "" && r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s Content-Type = %q", method, path, r.Header.Get("Content-Type"))
		}
		return r
	}

	created, err := c.CreateToken(ctx, CreateTokenRequest{Name: "alice", ExpirationDate: 1900000000})
	if err != nil || created.Secret != "tkn_secret" || created.Token.ID != "t1" || created.Token.Note != "" {
		t.Errorf("CreateToken = %+v, %v", created, err)
	}
	if r := check("POST", "/v1/tokens", `{"name":"alice","expirationDate":1900000000}`); r.Header.Get("Authorization") != "Bearer lic_test" {
		t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
	}
	_, _ = c.CreateToken(ctx, CreateTokenRequest{Name: "bob", Note: "n", ExpirationDate: 5, ModelID: "m1"})
	check("POST", "/v1/tokens", `{"name":"bob","note":"n","expirationDate":5,"modelId":"m1"}`)

	_, _ = c.Account(ctx)
	check("GET", "/v1/account", "")
	acct, err := c.CreateAccount(ctx, "acme")
	if err != nil || acct.Account.Name != "acme" || acct.License != "lic_new" {
		t.Errorf("CreateAccount = %+v, %v", acct, err)
	}
	check("POST", "/v1/accounts", `{"name":"acme"}`)
	lics, err := c.Licenses(ctx)
	if err != nil || len(lics) != 1 || !lics[0].Revoked {
		t.Errorf("Licenses = %+v, %v", lics, err)
	}
	check("GET", "/v1/licenses", "")
	lic, err := c.IssueLicense(ctx)
	if err != nil || lic.License != "lic_two" {
		t.Errorf("IssueLicense = %+v, %v", lic, err)
	}
	check("POST", "/v1/licenses", `{}`)
	if err := c.RevokeLicense(ctx, "l1"); err != nil {
		t.Error(err)
	}
	check("DELETE", "/v1/licenses/l1", "")

	_, _ = c.CreateModel(ctx, "gpt")
	check("POST", "/v1/models", `{"name":"gpt"}`)
	_, _ = c.Models(ctx)
	check("GET", "/v1/models", "")
	_, _ = c.Model(ctx, "m 1")
	if r := f.last(t); r.Path != "/v1/models/m 1" {
		t.Errorf("Model path = %q", r.Path)
	}

	_, _ = c.GetToken(ctx, "t1")
	check("GET", "/v1/tokens/t1", "")
	_, _ = c.CancelToken(ctx, "t1")
	check("POST", "/v1/tokens/t1/cancel", "")
	_, _ = c.AssignModel(ctx, "t1", "m1", IfMatch(4))
	if r := check("PUT", "/v1/tokens/t1/model", `{"modelId":"m1"}`); r.Header.Get("If-Match") != `"4"` {
		t.Errorf("If-Match = %q", r.Header.Get("If-Match"))
	}
	_, _ = c.UnassignModel(ctx, "t1")
	check("DELETE", "/v1/tokens/t1/model", "")
	if err := c.DeleteToken(ctx, "t1"); err != nil {
		t.Error(err)
	}
	check("DELETE", "/v1/tokens/t1", "")
	_, _ = c.ListTokens(ctx, ListOptions{ModelID: "m1", ExpiresBefore: 100, ExpiresAfter: 50, Cursor: "abc"})
	if r := check("GET", "/v1/tokens", ""); r.RawQuery != "cursor=abc&expiresAfter=50&expiresBefore=100&modelId=m1" {
		t.Errorf("list query = %s", r.RawQuery)
	}

	in, err := c.Introspect(ctx, "tkn_abc")
	if err != nil || in.Active {
		t.Errorf("Introspect = %+v, %v", in, err)
	}
	if r := check("POST", "/v1/introspect", `{"token":"tkn_abc"}`); r.Header.Get("Authorization") != "" {
		t.Error("Introspect sent the license")
	}
}

func TestBaseURLWithPathPrefixAndTrailingSlash(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 200, map[string]any{"id": "a", "name": "b"})
	})
	c := New(f.URL+"/api/", "lic_x")
	if _, err := c.Account(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := f.last(t).Path; p != "/api/v1/account" {
		t.Errorf("path = %q", p)
	}
}
