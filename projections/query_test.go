package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/domain"
)

// listWorld issues 60 tokens of "acme" straight through the apply path,
// with repeated names, creation times and expiration dates so that every
// order needs its id tie-break, and every status and assignment.
func listWorld(t *testing.T) (*Store, *world) {
	t.Helper()
	s := openStore(t, filepath.Join(t.TempDir(), ReadModelDir), baseTime)
	out := directSink(t, s)
	w := newWorld(t, "acme", out)
	w.createAccount("Acme")
	w.registerModel("m1", "One")
	w.registerModel("m2", "Two")
	other := newWorld(t, "other", out)
	other.createAccount("Other")
	other.registerModel("m1", "Other's one")
	names := []string{"Alpha", "beta", "ALPHA", "Gamma ray", "delta", "beta"}
	for i := 0; i < 60; i++ {
		model := []string{"", "m1", "m2"}[i%3]
		id := fmt.Sprintf("t%02d", (i*37)%60) // ids not in creation order
		w.issue(id, names[i%len(names)], 10+i%4, model, "")
		if i%5 != 0 {
			w.now = w.now.Add(-time.Second) // same second as the previous token
		}
		if i%10 == 0 {
			other.issue(fmt.Sprintf("o%02d", i), "Alpha other", 12, "m1", "")
		}
	}
	for i, id := range sortedCopy(keys(w.tokens)) {
		switch i % 7 {
		case 1:
			w.do(id, domain.SuspendToken{})
		case 2:
			w.do(id, domain.CancelToken{})
		case 3:
			w.do(id, domain.DeleteToken{})
		case 4:
			w.do(id, domain.RenameToken{Name: "Renamed " + id})
		}
	}
	return s, w
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// expectList is the reference: filter and sort the folded tokens.
func expectList(w *world, q ListQuery) []string {
	var out []domain.Token
	for _, tok := range w.tokens {
		if !tok.Live() {
			continue
		}
		if len(q.Statuses) > 0 && !slices.ContainsFunc(q.Statuses, func(s domain.Status) bool {
			p, _ := domain.ParseStatus(string(s))
			return p == tok.Status()
		}) {
			continue
		}
		if q.ModelID != "" && tok.ModelID() != q.ModelID {
			continue
		}
		if q.Assigned != nil && *q.Assigned != (tok.ModelID() != "") {
			continue
		}
		if q.Q != "" && !strings.Contains(strings.ToLower(tok.Name()), strings.ToLower(q.Q)) {
			continue
		}
		if q.ExpiresBefore != nil && tok.ExpirationDate() >= *q.ExpiresBefore {
			continue
		}
		if q.ExpiresAfter != nil && tok.ExpirationDate() <= *q.ExpiresAfter {
			continue
		}
		out = append(out, tok)
	}
	sortBy := strings.TrimPrefix(q.Sort, "-")
	desc := strings.HasPrefix(q.Sort, "-") || q.Sort == ""
	if sortBy == "" {
		sortBy = "createdAt"
	}
	slices.SortFunc(out, func(a, b domain.Token) int {
		var c int
		switch sortBy {
		case "createdAt":
			c = cmpInt(a.CreatedAt().Unix(), b.CreatedAt().Unix())
		case "expirationDate":
			c = cmpInt(a.ExpirationDate(), b.ExpirationDate())
		case "name":
			c = strings.Compare(strings.ToLower(a.Name()), strings.ToLower(b.Name()))
		}
		if c == 0 {
			c = strings.Compare(a.ID(), b.ID())
		}
		if desc {
			c = -c
		}
		return c
	})
	ids := make([]string, len(out))
	for i, tok := range out {
		ids[i] = tok.ID()
	}
	return ids
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pageAll pages through a list and returns every id, checking page sizes.
func pageAll(t *testing.T, s *Store, acct string, q ListQuery) []string {
	t.Helper()
	var all []string
	for pages := 0; ; pages++ {
		page, err := s.ListTokens(acct, q)
		if err != nil {
			t.Fatalf("ListTokens(%+v): %v", q, err)
		}
		limit := q.Limit
		if limit == 0 {
			limit = DefaultLimit
		}
		if len(page.Tokens) > limit {
			t.Fatalf("page of %d, limit %d", len(page.Tokens), limit)
		}
		if pages > 0 && len(page.Tokens) == 0 {
			t.Fatalf("an empty page behind a next cursor (%+v)", q)
		}
		all = append(all, ids(page.Tokens)...)
		if page.NextCursor == nil {
			return all
		}
		if len(page.Tokens) < limit {
			t.Fatalf("short page (%d of %d) with a next cursor", len(page.Tokens), limit)
		}
		if pages > 1000 {
			t.Fatal("endless paging")
		}
		q.Cursor = *page.NextCursor
	}
}

func ptr[T any](v T) *T { return &v }

func TestListFiltersAndSorts(t *testing.T) {
	s, w := listWorld(t)
	exp := baseTime.Add(11 * 24 * time.Hour).Unix()
	filters := []struct {
		name string
		q    ListQuery
	}{
		{"all", ListQuery{}},
		{"active", ListQuery{Statuses: []domain.Status{"active"}}},
		{"suspended", ListQuery{Statuses: []domain.Status{domain.StatusSuspended}}},
		{"canceled as cancelled", ListQuery{Statuses: []domain.Status{"CANCELLED"}}},
		{"two statuses", ListQuery{Statuses: []domain.Status{domain.StatusSuspended, domain.StatusActive}}},
		{"status repeated", ListQuery{Statuses: []domain.Status{domain.StatusActive, "Active"}}},
		{"model", ListQuery{ModelID: "m1"}},
		{"model and status", ListQuery{ModelID: "m2", Statuses: []domain.Status{domain.StatusActive}}},
		{"unknown model", ListQuery{ModelID: "m9"}},
		{"assigned", ListQuery{Assigned: ptr(true)}},
		{"unassigned", ListQuery{Assigned: ptr(false)}},
		{"unassigned with a model", ListQuery{Assigned: ptr(false), ModelID: "m1"}},
		{"assigned and suspended", ListQuery{Assigned: ptr(true), Statuses: []domain.Status{domain.StatusSuspended}}},
		{"q", ListQuery{Q: "ALP"}},
		{"q and status", ListQuery{Q: "a", Statuses: []domain.Status{domain.StatusCanceled}}},
		{"q matches nothing", ListQuery{Q: "zzz"}},
		{"expires before", ListQuery{ExpiresBefore: &exp}},
		{"expires after", ListQuery{ExpiresAfter: &exp}},
		{"expires window", ListQuery{ExpiresAfter: ptr(exp - 2*86400), ExpiresBefore: ptr(exp + 86400)}},
		{"expires empty window", ListQuery{ExpiresAfter: &exp, ExpiresBefore: &exp}},
	}
	for _, f := range filters {
		for _, sort := range []string{"", "createdAt", "-createdAt", "name", "-name", "expirationDate", "-expirationDate"} {
			for _, limit := range []int{0, 1, 7} {
				q := f.q
				q.Sort, q.Limit = sort, limit
				t.Run(fmt.Sprintf("%s/%s/%d", f.name, sort, limit), func(t *testing.T) {
					want := expectList(w, q)
					got := pageAll(t, s, "acme", q)
					if !slices.Equal(got, want) {
						t.Fatalf("got  %v\nwant %v", got, want)
					}
				})
			}
		}
	}
	if got := pageAll(t, s, "other", ListQuery{}); len(got) != 6 {
		t.Errorf("other account lists %v", got)
	}
	if got := pageAll(t, s, "nobody", ListQuery{}); len(got) != 0 {
		t.Errorf("unknown account lists %v", got)
	}
	// The views in a page are the same as Token's.
	page, _ := s.ListTokens("acme", ListQuery{Limit: 5})
	for _, v := range page.Tokens {
		one, err := s.Token("acme", v.ID)
		if err != nil || !reflect.DeepEqual(one, v) {
			t.Errorf("list view %+v, Token %+v %v", v, one, err)
		}
	}
}

// nextCursor is null on the last page, also when the filter is checked on
// each token (q) or entry (type) rather than served by an index, and the
// matches end exactly at the limit.
func TestLastPageHasNoCursor(t *testing.T) {
	s, w := listWorld(t)
	want := expectList(w, ListQuery{Q: "gamma"})
	if len(want) < 2 {
		t.Fatalf("the world has %d gammas", len(want))
	}
	page, err := s.ListTokens("acme", ListQuery{Q: "gamma", Limit: len(want)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Tokens) != len(want) || page.NextCursor != nil {
		t.Fatalf("q page: %d tokens, cursor %v; want %d and none", len(page.Tokens), page.NextCursor, len(want))
	}
	audit, err := s.AccountAudit("acme", AuditQuery{Type: domain.AccountCreated, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit.Entries) != 1 || audit.NextCursor != nil {
		t.Fatalf("type page: %d entries, cursor %v; want 1 and none", len(audit.Entries), audit.NextCursor)
	}
}

func TestListValidation(t *testing.T) {
	s, _ := listWorld(t)
	first, err := s.ListTokens("acme", ListQuery{Sort: "name", Limit: 2})
	if err != nil || first.NextCursor == nil {
		t.Fatal(first, err)
	}
	cases := []struct {
		name  string
		q     ListQuery
		field string
	}{
		{"sort", ListQuery{Sort: "id"}, "sort"},
		{"sort case", ListQuery{Sort: "CreatedAt"}, "sort"},
		{"limit negative", ListQuery{Limit: -1}, "limit"},
		{"limit too big", ListQuery{Limit: 1001}, "limit"},
		{"status", ListQuery{Statuses: []domain.Status{"EXPIRED"}}, "status"},
		{"status empty", ListQuery{Statuses: []domain.Status{""}}, "status"},
		{"expiresBefore", ListQuery{ExpiresBefore: ptr(int64(-1))}, "expiresBefore"},
		{"expiresAfter", ListQuery{ExpiresAfter: ptr(int64(-5))}, "expiresAfter"},
		{"q", ListQuery{Q: "\xff"}, "q"},
		{"modelId", ListQuery{ModelID: "a\x00b"}, "modelId"},
		{"cursor garbage", ListQuery{Cursor: "!!!"}, "cursor"},
		{"cursor empty payload", ListQuery{Cursor: "AQ"}, "cursor"},
		{"cursor of another sort", ListQuery{Sort: "-name", Cursor: *first.NextCursor}, "cursor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.ListTokens("acme", tc.q)
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.CodeInvalidArgument || de.Field != tc.field || !strings.HasPrefix(de.Message, tc.field) {
				t.Fatalf("err = %#v, want invalid_argument on %s", err, tc.field)
			}
		})
	}
	if _, err := s.ListTokens("acme", ListQuery{Limit: 1000}); err != nil {
		t.Errorf("limit 1000: %v", err)
	}
	if p, err := s.ListTokens("acme", ListQuery{Sort: "name", Limit: 2, Cursor: *first.NextCursor}); err != nil || len(p.Tokens) != 2 {
		t.Errorf("second page: %v %v", p, err)
	}
	b, _ := json.Marshal(TokenPage{Tokens: []TokenView{}})
	if string(b) != `{"tokens":[],"nextCursor":null}` {
		t.Errorf("empty page JSON %s", b)
	}
}

func TestAuditQueries(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), ReadModelDir), baseTime)
	w := newWorld(t, "acme", directSink(t, s))
	w.createAccount("Acme")
	w.registerModel("m1", "One")
	w.issue("t1", "first", 30, "", "hello")
	t0 := w.now.Unix()
	w.do("t1", domain.RenameToken{Name: "second"})
	w.do("t1", domain.UpdateToken{Note: domain.Some(""), ModelID: domain.Some(ptr("m1")), Status: domain.Some("suspended")})
	w.issue("t2", "other", 30, "", "")
	w.do("t1", domain.DeleteToken{})
	wOther := newWorld(t, "beta", w.out)
	wOther.createAccount("Beta")

	tr, err := s.TokenAudit("acme", "t1", AuditQuery{})
	if err != nil || len(tr.Entries) != 4 || tr.NextCursor != nil {
		t.Fatalf("t1 trail %+v %v", tr, err)
	}
	got, _ := json.Marshal(tr.Entries[2])
	var m map[string]any
	_ = json.Unmarshal(got, &m)
	ch, _ := json.Marshal(m["changes"])
	if string(ch) != `{"modelId":{"from":null,"to":"m1"},"note":{"from":"hello","to":null},"status":{"from":"ACTIVE","to":"SUSPENDED"}}` {
		t.Errorf("changes %s", ch)
	}
	if m["type"] != "TokenUpdated" || m["tokenId"] != "t1" || m["actor"].(map[string]any)["kind"] != "license" ||
		m["at"] != "2026-11-26T21:00:05.123456789Z" || m["commandId"] == "" || m["eventId"] == "" {
		t.Errorf("entry %s", got)
	}
	if tr.Entries[0].Type != domain.TokenIssued || tr.Entries[3].Type != domain.TokenDeleted || tr.Entries[0].Sequence >= tr.Entries[1].Sequence {
		t.Errorf("trail order %+v", tr.Entries)
	}
	if _, err := s.TokenAudit("beta", "t1", AuditQuery{}); !isCode(err, domain.CodeNotFound) {
		t.Errorf("another account's trail: %v", err)
	}
	if _, err := s.TokenAudit("acme", "nope", AuditQuery{}); !isCode(err, domain.CodeNotFound) {
		t.Errorf("missing token's trail: %v", err)
	}

	all, _ := s.AccountAudit("acme", AuditQuery{})
	if len(all.Entries) != 7 || all.Entries[0].Type != domain.AccountCreated || all.Entries[0].TokenID != "" {
		t.Fatalf("account trail %+v", all.Entries)
	}
	acct, _ := json.Marshal(all.Entries[1])
	if strings.Contains(string(acct), "tokenId") {
		t.Errorf("account-level entry has a tokenId: %s", acct)
	}
	cases := []struct {
		name string
		q    AuditQuery
		want []domain.EventType
	}{
		{"type", AuditQuery{Type: domain.TokenIssued}, []domain.EventType{domain.TokenIssued, domain.TokenIssued}},
		{"since inclusive", AuditQuery{Since: &t0}, []domain.EventType{domain.TokenIssued, domain.TokenRenamed, domain.TokenUpdated, domain.TokenIssued, domain.TokenDeleted}},
		{"until inclusive", AuditQuery{Until: ptr(t0 + 1)}, []domain.EventType{domain.AccountCreated, domain.ModelRegistered, domain.TokenIssued, domain.TokenRenamed}},
		{"window and type", AuditQuery{Since: ptr(t0 + 1), Until: ptr(t0 + 3), Type: domain.TokenIssued}, []domain.EventType{domain.TokenIssued}},
		{"empty window", AuditQuery{Since: ptr(t0 + 1), Until: &t0}, nil},
	}
	for _, tc := range cases {
		for _, limit := range []int{0, 1, 2} {
			q := tc.q
			q.Limit = limit
			var types []domain.EventType
			for {
				page, err := s.AccountAudit("acme", q)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				for _, e := range page.Entries {
					types = append(types, e.Type)
				}
				if page.NextCursor == nil {
					break
				}
				q.Cursor = *page.NextCursor
			}
			if !slices.Equal(types, tc.want) {
				t.Errorf("%s, limit %d: %v, want %v", tc.name, limit, types, tc.want)
			}
		}
	}
	p1, _ := s.TokenAudit("acme", "t1", AuditQuery{Limit: 3})
	p2, err := s.TokenAudit("acme", "t1", AuditQuery{Limit: 3, Cursor: *p1.NextCursor})
	if err != nil || len(p2.Entries) != 1 || p2.Entries[0].Type != domain.TokenDeleted || p2.NextCursor != nil {
		t.Errorf("token trail page 2: %+v %v", p2, err)
	}
	for name, q := range map[string]AuditQuery{
		"limit": {Limit: 1001}, "since": {Since: ptr(int64(-1))}, "until": {Until: ptr(int64(-1))},
		"type": {Type: "Nope"}, "cursor": {Cursor: "zz"},
	} {
		_, err := s.AccountAudit("acme", q)
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.CodeInvalidArgument || de.Field != name {
			t.Errorf("%s: %v", name, err)
		}
	}
	if p, err := s.AccountAudit("nobody", AuditQuery{}); err != nil || len(p.Entries) != 0 {
		t.Errorf("unknown account's trail: %v %v", p, err)
	}
}

func TestIntrospect(t *testing.T) {
	var now atomic.Int64
	now.Store(baseTime.Unix())
	dir := filepath.Join(t.TempDir(), ReadModelDir)
	s, err := Open(dir, Options{Clock: func() time.Time { return time.Unix(now.Load(), 0) }, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	w := newWorld(t, "acme", directSink(t, s))
	w.createAccount("Acme")
	w.registerModel("m1", "One")
	w.issue("active", "Active one", 30, "m1", "private note")
	w.issue("short", "Short lived", 1, "", "")
	w.issue("suspended", "S", 30, "", "")
	w.do("suspended", domain.SuspendToken{})
	w.issue("canceled", "C", 30, "", "")
	w.do("canceled", domain.CancelToken{})
	w.issue("deleted", "D", 30, "", "")
	w.do("deleted", domain.DeleteToken{})

	in := func(id string) string {
		t.Helper()
		r, err := s.Introspect(domain.HashSecret(w.secrets[id]))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const inactive = `{"active":false}`
	for _, id := range []string{"suspended", "canceled", "deleted"} {
		if got := in(id); got != inactive {
			t.Errorf("%s: %s", id, got)
		}
	}
	w.secrets["unknown"] = "tkn_unknown"
	if got := in("unknown"); got != inactive {
		t.Errorf("unknown: %s", got)
	}
	for _, bad := range []string{"", "xyz", strings.Repeat("g", 64)} {
		if r, err := s.Introspect(bad); err != nil || r.Active {
			t.Errorf("malformed hash %q: %+v %v", bad, r, err)
		}
	}
	tok := w.tokens["active"]
	want := fmt.Sprintf(`{"active":true,"id":"active","name":"Active one","expirationDate":%d,"status":"ACTIVE","expired":false,"modelId":"m1","modelName":"One","createdAt":%d,"updatedAt":%d}`,
		tok.ExpirationDate(), tok.CreatedAt().Unix(), tok.UpdatedAt().Unix())
	if got := in("active"); got != want {
		t.Errorf("active:\n got %s\nwant %s", got, want)
	}
	if got := in("short"); !strings.HasPrefix(got, `{"active":true,"id":"short"`) || !strings.Contains(got, `"modelId":null,"modelName":null`) {
		t.Errorf("short before expiry: %s", got)
	}
	r, _ := s.Introspect(domain.HashSecret(w.secrets["active"]))
	if r.AccountID != "acme" {
		t.Errorf("account %q", r.AccountID)
	}
	// At the expiration second the token is expired.
	now.Store(w.tokens["short"].ExpirationDate())
	if got := in("short"); got != inactive {
		t.Errorf("expired: %s", got)
	}
	if v, _ := s.Token("acme", "short"); !v.Expired || v.Status != domain.StatusActive {
		t.Errorf("expired view %+v", v)
	}
	b, _ := json.Marshal(Introspection{Active: false, View: &EndUserView{ID: "x"}})
	if string(b) != inactive {
		t.Errorf("inactive with a view: %s", b)
	}
}

func TestWaitFor(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), ReadModelDir), baseTime)
	ctx := context.Background()
	if err := s.WaitFor(ctx, 0, time.Millisecond); err != nil {
		t.Fatalf("WaitFor(0) = %v", err)
	}
	start := time.Now()
	err := s.WaitFor(ctx, 1, 50*time.Millisecond)
	if !errors.Is(err, domain.ErrProjectionBehind) || domain.CodeOf(err) != domain.CodeProjectionBehind {
		t.Fatalf("WaitFor timeout = %v", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
		t.Errorf("timed out after %v", d)
	}

	w := newWorld(t, "acme", directSink(t, s))
	done := make(chan error, 1)
	go func() { done <- s.WaitFor(ctx, 2, 20*time.Second) }()
	w.createAccount("Acme")
	select {
	case err := <-done:
		t.Fatalf("returned before sequence 2: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	start = time.Now()
	w.registerModel("m", "M")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("woke after %v", d)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if err := s.WaitFor(cctx, 100, 20*time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled WaitFor = %v", err)
	}
}
