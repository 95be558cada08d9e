package httpapi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// TestProviderDay walks a provider through the endpoints: model, token
// (secret once), list, changes one by one, assignment rules, cancel, delete,
// audit.
func TestProviderDay(t *testing.T) {
	s := newStack(t)
	acme := s.newTenant("Acme AI")
	lic := acme.license

	r := s.must(200, req{method: "GET", path: "/v1/account", license: lic})
	var acc projections.AccountView
	r.json(t, &acc)
	if acc.ID != acme.id || acc.Name != "Acme AI" {
		t.Fatalf("account = %+v", acc)
	}

	gpt := s.newModel(lic, "  gpt-small ")
	big := s.newModel(lic, "gpt-big")
	var models struct{ Models []projections.Model }
	s.must(200, req{method: "GET", path: "/v1/models", license: lic, headers: minSeq(s.lastSeq())}).json(t, &models)
	if len(models.Models) != 2 {
		t.Fatalf("models = %+v", models)
	}
	var m projections.Model
	s.must(200, req{method: "GET", path: "/v1/models/" + gpt, license: lic}).json(t, &m)
	if m.Name != "gpt-small" {
		t.Fatalf("model name %q: not trimmed", m.Name)
	}

	tok := s.newToken(lic, map[string]any{"name": " Alice ", "note": "vip", "expirationDate": strconv.FormatInt(inDays(10), 10), "modelId": gpt})
	if !domain.CheckSecret(domain.TokenSecretPrefix, tok.secret) || tok.view.SecretHint != tok.secret[:8] {
		t.Fatalf("secret %q hint %q", tok.secret, tok.view.SecretHint)
	}
	if tok.view.Name != "Alice" || *tok.view.Note != "vip" || *tok.view.ModelName != "gpt-small" || tok.view.Version != 1 || tok.view.Status != "ACTIVE" {
		t.Fatalf("issued view = %+v", tok.view)
	}
	path := "/v1/tokens/" + tok.view.ID

	// The secret is never shown again.
	r = s.must(200, req{method: "GET", path: path, license: lic, headers: minSeq(tok.seq)})
	if strings.Contains(string(r.body), tok.secret) || r.header.Get("ETag") != `"1"` {
		t.Fatalf("GET token: %s, ETag %s", r.body, r.header.Get("ETag"))
	}

	steps := []struct {
		body  map[string]any
		check func(v projections.TokenView) bool
	}{
		{map[string]any{"name": "Alice B"}, func(v projections.TokenView) bool { return v.Name == "Alice B" }},
		{map[string]any{"note": nil}, func(v projections.TokenView) bool { return v.Note == nil }},
		{map[string]any{"note": "again"}, func(v projections.TokenView) bool { return v.Note != nil && *v.Note == "again" }},
		{map[string]any{"expirationDate": inDays(20)}, func(v projections.TokenView) bool { return v.ExpirationDate > inDays(19) }},
		{map[string]any{"status": "suspended"}, func(v projections.TokenView) bool { return v.Status == "SUSPENDED" }},
		{map[string]any{"status": "Active"}, func(v projections.TokenView) bool { return v.Status == "ACTIVE" }},
		{map[string]any{"modelId": nil}, func(v projections.TokenView) bool { return v.ModelID == nil && v.ModelName == nil }},
		{map[string]any{"modelId": big}, func(v projections.TokenView) bool { return *v.ModelName == "gpt-big" }},
	}
	version := int64(1)
	for i, st := range steps {
		r := s.must(200, req{method: "PATCH", path: path, license: lic, body: st.body})
		var v projections.TokenView
		r.json(t, &v)
		version++
		if !st.check(v) || v.Version != version || r.header.Get("ETag") != `"`+strconv.FormatInt(version, 10)+`"` {
			t.Fatalf("step %d %v: view %+v, ETag %s", i, st.body, v, r.header.Get("ETag"))
		}
	}
	// Assigning another model while assigned is refused; unassign, then assign.
	if r := s.must(409, req{method: "PUT", path: path + "/model", license: lic, body: map[string]any{"modelId": gpt}}); r.code() != "already_assigned" {
		t.Fatalf("code %s", r.code())
	}
	s.must(200, req{method: "DELETE", path: path + "/model", license: lic})
	s.must(200, req{method: "PUT", path: path + "/model", license: lic, body: map[string]any{"modelId": gpt}})
	// Assigning the model it has is a no-op: same version.
	r = s.must(200, req{method: "PUT", path: path + "/model", license: lic, body: map[string]any{"modelId": gpt}})
	if r.header.Get("ETag") != `"11"` {
		t.Fatalf("no-op ETag %s", r.header.Get("ETag"))
	}

	// List with filters and sorting.
	s.newToken(lic, map[string]any{"name": "bob"})
	var page struct {
		Tokens     []projections.TokenView
		NextCursor *string
	}
	s.must(200, req{method: "GET", path: "/v1/tokens?status=active&sort=name&modelId=" + gpt, license: lic, headers: minSeq(s.lastSeq())}).json(t, &page)
	if len(page.Tokens) != 1 || page.Tokens[0].ID != tok.view.ID || page.NextCursor != nil {
		t.Fatalf("filtered list = %+v", page)
	}
	s.must(200, req{method: "GET", path: "/v1/tokens?sort=-name&limit=1", license: lic}).json(t, &page)
	if len(page.Tokens) != 1 || page.Tokens[0].Name != "bob" || page.NextCursor == nil {
		t.Fatalf("first page = %+v", page)
	}
	s.must(200, req{method: "GET", path: "/v1/tokens?sort=-name&limit=1&cursor=" + url.QueryEscape(*page.NextCursor), license: lic}).json(t, &page)
	if len(page.Tokens) != 1 || page.Tokens[0].Name != "Alice B" {
		t.Fatalf("second page = %+v", page)
	}

	// Cancel; then every change but deletion is refused; cancelling again is fine.
	s.must(200, req{method: "POST", path: path + "/cancel", license: lic})
	if r := s.must(409, req{method: "PATCH", path: path, license: lic, body: map[string]any{"name": "x"}}); r.code() != "token_canceled" {
		t.Fatalf("code %s", r.code())
	}
	s.must(200, req{method: "POST", path: path + "/cancel", license: lic, body: "{}"})
	r = s.must(204, req{method: "DELETE", path: path, license: lic})
	delSeq := seqOf(t, r)
	s.must(404, req{method: "GET", path: path, license: lic, headers: minSeq(delSeq)})

	// The audit trail stays, oldest first, with from and to.
	var audit struct {
		Entries []projections.AuditEntry
	}
	s.must(200, req{method: "GET", path: path + "/audit?limit=1000", license: lic}).json(t, &audit)
	if n := len(audit.Entries); n != 13 || audit.Entries[0].Type != "TokenIssued" || audit.Entries[n-1].Type != "TokenDeleted" {
		t.Fatalf("audit: %d entries: %+v", n, audit.Entries)
	}
	if c := audit.Entries[1].Changes.Name; c == nil || *c.From != "Alice" || *c.To != "Alice B" {
		t.Fatalf("rename entry = %+v", audit.Entries[1])
	}
	s.must(200, req{method: "GET", path: "/v1/audit?type=modelregistered", license: lic}).json(t, &audit)
	if len(audit.Entries) != 2 {
		t.Fatalf("account audit by type = %+v", audit.Entries)
	}
}

// TestIntrospection: the end user's view, never the note, and inactive
// answers with nothing but active:false.
func TestIntrospection(t *testing.T) {
	s := newStack(t)
	lic := s.newTenant("acme").license
	model := s.newModel(lic, "m")
	tok := s.newToken(lic, map[string]any{"name": "end user", "note": "SECRET-NOTE", "modelId": model})

	for _, q := range []req{
		{method: "POST", path: "/v1/introspect", body: map[string]any{"token": tok.secret}, headers: minSeq(tok.seq)},
		{method: "POST", path: "/v1/introspect", body: "token=" + url.QueryEscape(tok.secret) + "&token_type_hint=access_token", ctype: "application/x-www-form-urlencoded"},
	} {
		r := s.must(200, q)
		if strings.Contains(string(r.body), "SECRET-NOTE") || strings.Contains(string(r.body), "note") ||
			strings.Contains(string(r.body), "version") || strings.Contains(string(r.body), "secretHint") {
			t.Fatalf("introspection shows provider fields: %s", r.body)
		}
		var in map[string]any
		r.json(t, &in)
		if in["active"] != true || in["name"] != "end user" || in["modelName"] != "m" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("introspection = %s", r.body)
		}
	}
	// End users read the model their token is assigned to, and only that one.
	other := s.newModel(lic, "other")
	s.must(200, req{method: "GET", path: "/v1/models/" + model, license: tok.secret})
	s.must(404, req{method: "GET", path: "/v1/models/" + other, license: tok.secret})

	inactive := func(body any, ctype string) {
		t.Helper()
		r := s.must(200, req{method: "POST", path: "/v1/introspect", body: body, ctype: ctype})
		if strings.TrimSpace(string(r.body)) != `{"active":false}` {
			t.Fatalf("inactive answer = %s", r.body)
		}
	}
	inactive(map[string]any{"token": "tkn_nope"}, "")
	inactive(map[string]any{"token": corruptLast(tok.secret)}, "")
	unknown, _ := domain.NewSecret(domain.TokenSecretPrefix)
	inactive(map[string]any{"token": unknown}, "")
	inactive("token="+url.QueryEscape(s.admin), "application/x-www-form-urlencoded")

	r := s.must(200, req{method: "PATCH", path: "/v1/tokens/" + tok.view.ID, license: lic, body: map[string]any{"status": "SUSPENDED"}})
	s.must(200, req{method: "GET", path: "/v1/tokens/" + tok.view.ID, license: lic, headers: minSeq(seqOf(t, r))})
	inactive(map[string]any{"token": tok.secret}, "")
	s.must(401, req{method: "GET", path: "/v1/models/" + model, license: tok.secret})

	r = s.must(204, req{method: "DELETE", path: "/v1/tokens/" + tok.view.ID, license: lic})
	s.must(200, req{method: "GET", path: "/v1/models", license: lic, headers: minSeq(seqOf(t, r))})
	inactive(map[string]any{"token": tok.secret}, "")
}

// TestCrossTenant: another account's token and model answer 404 exactly as
// missing ones do, for reads and writes, and nothing is appended.
func TestCrossTenant(t *testing.T) {
	s := newStack(t)
	a, b := s.newTenant("a"), s.newTenant("b")
	modelA := s.newModel(a.license, "model-a")
	modelB := s.newModel(b.license, "model-b")
	tokA := s.newToken(a.license, map[string]any{"modelId": modelA})
	s.must(200, req{method: "GET", path: "/v1/tokens/" + tokA.view.ID, license: a.license, headers: minSeq(tokA.seq)})
	missing := "00000000-0000-4000-8000-000000000000"

	cases := []req{
		{method: "GET", path: "/v1/tokens/%s"},
		{method: "PATCH", path: "/v1/tokens/%s", body: map[string]any{"name": "stolen"}},
		{method: "POST", path: "/v1/tokens/%s/cancel"},
		{method: "PUT", path: "/v1/tokens/%s/model", body: map[string]any{"modelId": modelB}},
		{method: "DELETE", path: "/v1/tokens/%s/model"},
		{method: "DELETE", path: "/v1/tokens/%s"},
		{method: "GET", path: "/v1/tokens/%s/audit"},
	}
	for _, c := range cases {
		before := s.lastSeq()
		var bodies []string
		for _, id := range []string{tokA.view.ID, missing} {
			q := c
			q.path = strings.Replace(c.path, "%s", id, 1)
			q.license = b.license
			r := s.must(404, q)
			if r.code() != "not_found" {
				t.Fatalf("%s %s: code %s", q.method, q.path, r.code())
			}
			bodies = append(bodies, strings.ReplaceAll(string(r.body), id, "ID"))
		}
		if bodies[0] != bodies[1] {
			t.Errorf("%s %s: another account's token answers %s, a missing one %s", c.method, c.path, bodies[0], bodies[1])
		}
		if after := s.lastSeq(); after != before {
			t.Errorf("%s %s: appended events %d..%d", c.method, c.path, before+1, after)
		}
	}
	// Models: another account's is not found; it cannot be assigned either.
	s.must(404, req{method: "GET", path: "/v1/models/" + modelA, license: b.license})
	if r := s.must(400, req{method: "POST", path: "/v1/tokens", license: b.license, body: map[string]any{"name": "x", "expirationDate": inDays(1), "modelId": modelA}}); r.code() != "invalid_argument" {
		t.Fatalf("code %s", r.code())
	}
	// Lists and audits hold only the caller's own.
	var page struct{ Tokens []projections.TokenView }
	s.must(200, req{method: "GET", path: "/v1/tokens", license: b.license}).json(t, &page)
	if len(page.Tokens) != 0 {
		t.Fatalf("b lists a's tokens: %+v", page.Tokens)
	}
	var audit struct{ Entries []projections.AuditEntry }
	s.must(200, req{method: "GET", path: "/v1/audit", license: b.license}).json(t, &audit)
	for _, e := range audit.Entries {
		if e.TokenID == tokA.view.ID {
			t.Fatalf("b's audit holds a's token: %+v", e)
		}
	}
	// The token is untouched.
	var v projections.TokenView
	s.must(200, req{method: "GET", path: "/v1/tokens/" + tokA.view.ID, license: a.license}).json(t, &v)
	if v.Version != 1 {
		t.Fatalf("a's token moved: %+v", v)
	}
}

// TestConcurrencyHeaders: ETag, If-Match, X-Sequence and X-Min-Sequence.
func TestConcurrencyHeaders(t *testing.T) {
	s := newStack(t)
	lic := s.newTenant("acme").license
	tok := s.newToken(lic, nil)
	path := "/v1/tokens/" + tok.view.ID
	if tok.seq != s.lastSeq() {
		t.Fatalf("X-Sequence %d, stream at %d", tok.seq, s.lastSeq())
	}
	// Read your writes.
	r := s.must(200, req{method: "GET", path: path, license: lic, headers: minSeq(tok.seq)})
	if r.header.Get("ETag") != `"1"` {
		t.Fatalf("ETag %q", r.header.Get("ETag"))
	}
	s.must(304, req{method: "GET", path: path, license: lic, headers: map[string]string{"If-None-Match": `"1"`}})
	s.must(304, req{method: "GET", path: path, license: lic, headers: map[string]string{"If-None-Match": `"7", W/"1"`}})
	s.must(200, req{method: "GET", path: path, license: lic, headers: map[string]string{"If-None-Match": `"2"`}})

	r = s.must(200, req{method: "PATCH", path: path, license: lic, body: map[string]any{"name": "n2"}, headers: map[string]string{"If-Match": `"1"`}})
	if r.header.Get("ETag") != `"2"` || seqOf(t, r) != s.lastSeq() {
		t.Fatalf("ETag %s X-Sequence %s", r.header.Get("ETag"), r.header.Get("X-Sequence"))
	}
	before := s.lastSeq()
	if r := s.must(412, req{method: "PATCH", path: path, license: lic, body: map[string]any{"name": "n3"}, headers: map[string]string{"If-Match": `"1"`}}); r.code() != "version_conflict" {
		t.Fatalf("code %s", r.code())
	}
	s.must(412, req{method: "DELETE", path: path, license: lic, headers: map[string]string{"If-Match": `"1"`}})
	s.must(400, req{method: "PATCH", path: path, license: lic, body: map[string]any{"name": "n3"}, headers: map[string]string{"If-Match": `W/"2"`}})
	if s.lastSeq() != before {
		t.Fatal("a refused conditional write appended an event")
	}
	// A no-op write answers the current version and the token's last event.
	r = s.must(200, req{method: "PATCH", path: path, license: lic, body: map[string]any{"name": "n2"}, headers: map[string]string{"If-Match": `"2"`}})
	if r.header.Get("ETag") != `"2"` || seqOf(t, r) != before {
		t.Fatalf("no-op: ETag %s X-Sequence %s, want \"2\" and %d", r.header.Get("ETag"), r.header.Get("X-Sequence"), before)
	}
	// Two writers on one version: exactly one wins.
	const writers = 8
	codes := make(chan int, writers)
	for i := range writers {
		go func() {
			r := s.do(req{method: "PATCH", path: path, license: lic, body: map[string]any{"name": "w" + strconv.Itoa(i)}, headers: map[string]string{"If-Match": `"2"`}})
			codes <- r.status
		}()
	}
	won := 0
	for range writers {
		switch c := <-codes; c {
		case 200:
			won++
		case 412:
		default:
			t.Fatalf("concurrent conditional PATCH answered %d", c)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d writers on version 2 won", won, writers)
	}
	// A body of exactly 65,536 bytes is read.
	body := `{"name":"big","expirationDate":` + strconv.FormatInt(inDays(1), 10) + `}`
	s.must(201, req{method: "POST", path: "/v1/tokens", license: lic, body: body + strings.Repeat(" ", MaxBodyBytes-len(body))})
	// A model write answers its event's sequence.
	r = s.must(201, req{method: "POST", path: "/v1/models", license: lic, body: map[string]any{"name": "m"}})
	if seqOf(t, r) != s.lastSeq() || r.header.Get("ETag") == "" {
		t.Fatalf("model write headers %v", r.header)
	}
	// Waiting for a sequence that never comes: 503 projection_behind.
	if testing.Short() {
		return
	}
	r = s.must(503, req{method: "GET", path: path, license: lic, headers: minSeq(s.lastSeq() + 100)})
	if r.code() != "projection_behind" || r.header.Get("Retry-After") == "" {
		t.Fatalf("behind: %s %v", r.body, r.header)
	}
}

// TestIdempotencyKey: a retried write with the same key is the same command.
func TestIdempotencyKey(t *testing.T) {
	s := newStack(t)
	a, b := s.newTenant("a"), s.newTenant("b")
	key := map[string]string{"Idempotency-Key": "3b241101-e2bb-4255-8caf-4136c566a962"}
	body := map[string]any{"name": "t", "expirationDate": inDays(1)}
	r1 := s.must(201, req{method: "POST", path: "/v1/tokens", license: a.license, body: body, headers: key})
	before := s.lastSeq()
	r2 := s.must(200, req{method: "POST", path: "/v1/tokens", license: a.license, body: body, headers: key})
	var c1, c2 map[string]any
	r1.json(t, &c1)
	r2.json(t, &c2)
	if c2["secret"] != nil || c1["secret"] == nil || c1["token"].(map[string]any)["id"] != c2["token"].(map[string]any)["id"] {
		t.Fatalf("retry: first %s, second %s", r1.body, r2.body)
	}
	if s.lastSeq() != before || seqOf(t, r2) != seqOf(t, r1) {
		t.Fatal("the retry appended an event")
	}
	// A repeated PATCH, after another change, answers the first run's
	// X-Sequence and the token as it is now, with that token's ETag.
	id := c1["token"].(map[string]any)["id"].(string)
	patchKey := map[string]string{"Idempotency-Key": "7d444840-9dc0-11d1-b245-5ffdce74fad2"}
	p1 := s.must(200, req{method: "PATCH", path: "/v1/tokens/" + id, license: a.license, body: map[string]any{"name": "first"}, headers: patchKey})
	s.must(200, req{method: "PATCH", path: "/v1/tokens/" + id, license: a.license, body: map[string]any{"name": "second"}})
	p2 := s.must(200, req{method: "PATCH", path: "/v1/tokens/" + id, license: a.license, body: map[string]any{"name": "first"}, headers: patchKey})
	var view map[string]any
	p2.json(t, &view)
	if seqOf(t, p2) != seqOf(t, p1) || view["name"] != "second" || p2.header.Get("ETag") != fmt.Sprintf(`"%v"`, view["version"]) {
		t.Fatalf("repeated PATCH: X-Sequence %d (first %d), ETag %s, body %s", seqOf(t, p2), seqOf(t, p1), p2.header.Get("ETag"), p2.body)
	}
	// The same key in another account is another command.
	s.must(201, req{method: "POST", path: "/v1/tokens", license: b.license, body: body, headers: key})
	s.must(400, req{method: "POST", path: "/v1/tokens", license: b.license, body: body, headers: map[string]string{"Idempotency-Key": "nope"}})
}

// TestAccountsAndLicenses: admin-only account creation, license issue, list
// and revocation that works at once.
func TestAccountsAndLicenses(t *testing.T) {
	s := newStack(t)
	acme := s.newTenant("acme")
	if r := s.must(403, req{method: "POST", path: "/v1/accounts", license: acme.license, body: map[string]any{"name": "x"}}); r.code() != "permission_denied" {
		t.Fatalf("code %s", r.code())
	}
	r := s.must(201, req{method: "POST", path: "/v1/licenses", license: acme.license})
	var lic struct{ ID, License string }
	r.json(t, &lic)
	if !domain.CheckSecret(domain.LicensePrefix, lic.License) || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("issued %s", r.body)
	}
	// The new license works at once.
	s.must(200, req{method: "GET", path: "/v1/account", license: lic.License})
	var list struct{ Licenses []map[string]any }
	r = s.must(200, req{method: "GET", path: "/v1/licenses", license: lic.License})
	r.json(t, &list)
	if len(list.Licenses) != 2 || strings.Contains(string(r.body), "lic_") || strings.Contains(string(r.body), "sha") {
		t.Fatalf("licenses = %s", r.body)
	}
	// Another account's license is not found; revoking works at once.
	other := s.newTenant("other")
	s.must(404, req{method: "DELETE", path: "/v1/licenses/" + lic.ID, license: other.license})
	s.must(204, req{method: "DELETE", path: "/v1/licenses/" + lic.ID, license: acme.license})
	if r := s.must(401, req{method: "GET", path: "/v1/account", license: lic.License}); r.code() != "unauthenticated" || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("revoked license: %s", r.body)
	}
	// Revoking again is a no-op.
	s.must(204, req{method: "DELETE", path: "/v1/licenses/" + lic.ID, license: acme.license})
	s.must(200, req{method: "GET", path: "/v1/licenses", license: acme.license}).json(t, &list)
	for _, l := range list.Licenses {
		if l["id"] == lic.ID && l["revoked"] != true {
			t.Fatalf("licenses after revoke = %+v", list)
		}
	}
}

// TestRoutes: unknown routes and wrong methods answer JSON errors.
func TestRoutes(t *testing.T) {
	s := newStack(t)
	for _, c := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/nope", 404, "not_found", ""},
		{"GET", "/v1/tokens/", 404, "not_found", ""},
		{"GET", "/", 404, "not_found", ""},
		{"PUT", "/v1/tokens", 405, "method_not_allowed", "GET, HEAD, POST"},
		{"POST", "/v1/tokens/x", 405, "method_not_allowed", "DELETE, GET, HEAD, PATCH"},
		{"GET", "/v1/introspect", 405, "method_not_allowed", "POST"},
	} {
		r := s.do(req{method: c.method, path: c.path, license: s.admin})
		if r.status != c.status || r.code() != c.code || r.header.Get("Allow") != c.allow || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s Allow %q: %s", c.method, c.path, r.status, r.code(), r.header.Get("Allow"), r.body)
		}
	}
}

// TestHealthReadyMetrics: liveness, readiness and the Prometheus text.
func TestHealthReadyMetrics(t *testing.T) {
	s := newStack(t)
	s.must(200, req{method: "GET", path: "/healthz"})
	r := s.must(200, req{method: "GET", path: "/readyz"})
	var ready readiness
	r.json(t, &ready)
	if ready.Status != "ready" || ready.NATS != "ok" {
		t.Fatalf("readyz = %s", r.body)
	}
	lic := s.newTenant("m").license
	s.newToken(lic, nil)
	s.must(400, req{method: "POST", path: "/v1/tokens", license: lic, body: map[string]any{"name": ""}})
	s.srv.Metrics().ObserveCommand("IssueToken", OutcomeAccepted) // the hook other intakes call
	r = s.must(200, req{method: "GET", path: "/metrics"})
	text := string(r.body)
	for _, want := range []string{
		`tokend_http_requests_total{code="201",route="POST /v1/tokens"} 1`,
		`tokend_http_requests_total{code="400",route="POST /v1/tokens"} 1`,
		`tokend_http_request_duration_seconds_bucket{code="201",route="POST /v1/tokens",le="+Inf"} 1`,
		`tokend_commands_total{outcome="accepted",type="IssueToken"} 2`,
		`tokend_commands_total{outcome="accepted",type="CreateAccount"} 1`,
		"tokend_projector_lag_sequences ",
		"tokend_projector_lag_seconds ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// NATS gone: not ready, still alive.
	s.nc.Close()
	r = s.must(503, req{method: "GET", path: "/readyz"})
	r.json(t, &ready)
	if ready.Status != "unready" || ready.NATS != "unreachable" {
		t.Fatalf("readyz without NATS = %s", r.body)
	}
	s.must(200, req{method: "GET", path: "/healthz"})
	s.must(200, req{method: "GET", path: "/openapi.yaml"})
}

// TestLogs: one JSON line per request with id, method, route, status and
// duration; the request id goes in and out; no secret or license, ever.
func TestLogs(t *testing.T) {
	s := newStack(t)
	lic := s.newTenant("acme").license
	tok := s.newToken(lic, nil)
	s.must(200, req{method: "POST", path: "/v1/introspect", body: map[string]any{"token": tok.secret}})
	s.must(401, req{method: "GET", path: "/v1/account", license: corruptLast(lic)})
	r := s.must(200, req{method: "GET", path: "/v1/tokens?q=" + url.QueryEscape(lic), license: lic, headers: map[string]string{"X-Request-Id": "trace-42"}})
	if r.header.Get("X-Request-Id") != "trace-42" {
		t.Fatalf("X-Request-Id %q", r.header.Get("X-Request-Id"))
	}
	r = s.must(200, req{method: "GET", path: "/healthz", headers: map[string]string{"X-Request-Id": "bad id\twith tab"}})
	if id := r.header.Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
		t.Fatalf("unusable X-Request-Id echoed: %q", id)
	}
	logs := s.logs.String()
	for _, secret := range []string{lic, tok.secret, s.admin, "lic_", "tkn_", "Bearer"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("logs hold %q:\n%s", secret, logs)
		}
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if l["requestId"] == "trace-42" {
			found = l["method"] == "GET" && l["route"] == "GET /v1/tokens" && l["status"] == float64(200) && l["durationMs"] != nil
		}
	}
	if !found {
		t.Fatalf("no complete log line for trace-42:\n%s", logs)
	}
}

// TestMalformedSecretsSkipLookups: a malformed license or token secret is
// refused before the read model is touched.
func TestMalformedSecretsSkipLookups(t *testing.T) {
	s := newStack(t)
	lic := s.newTenant("acme").license
	tok := s.newToken(lic, nil)
	s.must(200, req{method: "GET", path: "/v1/tokens/" + tok.view.ID, license: lic, headers: minSeq(tok.seq)})
	before := s.store.KeysRead()
	for _, bad := range []string{"lic_short", lic[:len(lic)-1] + "!", "tkn_" + lic[4:], strings.ToUpper(lic)} {
		s.must(401, req{method: "GET", path: "/v1/account", license: bad})
		s.must(200, req{method: "POST", path: "/v1/introspect", body: map[string]any{"token": bad}})
		s.must(401, req{method: "GET", path: "/v1/models/m", license: bad})
	}
	if after := s.store.KeysRead(); after != before {
		t.Fatalf("malformed credentials read %d keys", after-before)
	}
	s.must(200, req{method: "POST", path: "/v1/introspect", body: map[string]any{"token": tok.secret}})
	if s.store.KeysRead() == before {
		t.Fatal("KeysRead does not count introspection lookups; the check above proves nothing")
	}
}

// corruptLast changes a secret's last character (its checksum's last
// digit) to another base62 digit, so that its checksum no longer matches.
func corruptLast(s string) string {
	if strings.HasSuffix(s, "x") {
		return s[:len(s)-1] + "y"
	}
	return s[:len(s)-1] + "x"
}
