package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/sdk"
)

// TestProviderDay walks through a provider's day against a real tokend, with
// tokenctl and the SDK: register models, issue a token whose secret is shown
// once, list with filters and orders, change each field in turn, be refused
// a second model, move the token to it, cancel, delete; then read the audit
// trail and check what introspection shows.
func TestProviderDay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts tokend")
	}
	s := startService(t, binaries(t))
	validateAgainstOpenAPI(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := sdk.New(s.url, s.license)

	acct := s.ok(t, "account", "-o", "json")
	var account sdk.Account
	mustJSON(t, acct.stdout, &account)
	if account.Name != "default" {
		t.Fatalf("admin account = %+v", account)
	}

	// Models: one through tokenctl, one through the SDK.
	var gpt sdk.Model
	mustJSON(t, s.ok(t, "models", "create", "gpt-mini", "-o", "json").stdout, &gpt)
	other, err := c.CreateModel(ctx, "other-model")
	if err != nil {
		t.Fatal(err)
	}
	if r := s.ok(t, "models", "list"); !strings.Contains(r.stdout, "gpt-mini") || !strings.Contains(r.stdout, "other-model") {
		t.Errorf("models list:\n%s", r.stdout)
	}

	// Issue: the secret is shown once, with a warning.
	r := s.ok(t, "tokens", "create", "--name", "alice", "--note", "vip customer", "--expires", "720h", "-o", "json")
	var created sdk.CreatedToken
	mustJSON(t, r.stdout, &created)
	tok, secret := created.Token, created.Secret
	if !strings.HasPrefix(secret, "tkn_") || len(secret) != 53 || tok.SecretHint != secret[:8] || tok.Note != "vip customer" {
		t.Fatalf("created %+v with secret %q", tok, secret)
	}
	if !strings.Contains(r.stderr, "only time the secret is shown") {
		t.Errorf("no warning on stderr: %q", r.stderr)
	}
	exp1 := tok.ExpirationDate
	if d := exp1 - time.Now().Unix(); d < 719*3600 || d > 721*3600 {
		t.Errorf("--expires 720h gave %d s from now", d)
	}

	// Two more tokens through the SDK, for the filters and orders.
	bob, err := c.CreateToken(ctx, sdk.CreateTokenRequest{Name: "Bob", ExpirationDate: time.Now().Add(48 * time.Hour).Unix(), ModelID: gpt.ID})
	if err != nil {
		t.Fatal(err)
	}
	carol, err := c.CreateToken(ctx, sdk.CreateTokenRequest{Name: "carol", ExpirationDate: time.Now().Add(100 * 24 * time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateToken(ctx, carol.Token.ID, sdk.UpdateTokenRequest{Status: sdk.Some(sdk.StatusSuspended)}); err != nil {
		t.Fatal(err)
	}

	// A repeated creation with the same Idempotency-Key issues no second
	// token, and its answer has no secret.
	key := "0b1c4a3e-5f6d-4e7a-8b9c-0d1e2f3a4b5c"
	dave1, err := c.CreateToken(ctx, sdk.CreateTokenRequest{Name: "dave", ExpirationDate: time.Now().Add(time.Hour).Unix()}, sdk.IdempotencyKey(key))
	if err != nil {
		t.Fatal(err)
	}
	dave2, err := c.CreateToken(ctx, sdk.CreateTokenRequest{Name: "dave", ExpirationDate: time.Now().Add(time.Hour).Unix()}, sdk.IdempotencyKey(key))
	if err != nil || dave2.Token.ID != dave1.Token.ID || dave1.Secret == "" || dave2.Secret != "" {
		t.Errorf("repeated create: %+v / %+v (%v)", dave1, dave2, err)
	}
	if err := c.DeleteToken(ctx, dave1.Token.ID); err != nil {
		t.Fatal(err)
	}

	// Lists: filters and orders, through tokenctl and the SDK.
	names := func(args ...string) []string {
		t.Helper()
		var p sdk.Page
		mustJSON(t, s.ok(t, append([]string{"tokens", "list", "-o", "json"}, args...)...).stdout, &p)
		var out []string
		for _, tk := range p.Tokens {
			out = append(out, tk.Name)
		}
		return out
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		// (No check of the default order, -createdAt: these tokens were
		// created within a second or two, and ties go by id.)
		{[]string{"--sort", "name"}, []string{"alice", "Bob", "carol"}},
		{[]string{"--sort", "-name"}, []string{"carol", "Bob", "alice"}},
		{[]string{"--sort", "expirationDate"}, []string{"Bob", "alice", "carol"}},
		{[]string{"--status", "suspended"}, []string{"carol"}},
		{[]string{"--status", "active", "--sort", "name"}, []string{"alice", "Bob"}},
		{[]string{"-q", "AL"}, []string{"alice"}},
		{[]string{"--assigned"}, []string{"Bob"}},
		{[]string{"--assigned=false", "--sort", "name"}, []string{"alice", "carol"}},
		{[]string{"--model", gpt.ID}, []string{"Bob"}},
		{[]string{"--expires-before", "31d", "--sort", "name"}, []string{"alice", "Bob"}},
		{[]string{"--expires-after", "31d"}, []string{"carol"}},
		{[]string{"--limit", "1", "--all", "--sort", "name"}, []string{"alice", "Bob", "carol"}},
	} {
		if got := names(tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("tokens list %v = %v, want %v", tc.args, got, tc.want)
		}
	}
	var paged []string
	for tk, err := range c.AllTokens(ctx, sdk.ListOptions{Limit: 1, Sort: sdk.SortNameDesc}) {
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, tk.Name)
	}
	if !slices.Equal(paged, []string{"carol", "Bob", "alice"}) {
		t.Errorf("AllTokens by -name, one a page = %v", paged)
	}
	if tr := s.ok(t, "tokens", "list"); !strings.Contains(tr.stdout, "SUSPENDED") || !strings.Contains(tr.stdout, "gpt-mini") {
		t.Errorf("table:\n%s", tr.stdout)
	}

	// The SDK reads its own writes: an introspection right after a
	// suspension, through the same client, already sees it.
	var wmeta sdk.Meta
	if _, err := c.UpdateToken(ctx, bob.Token.ID, sdk.UpdateTokenRequest{Status: sdk.Some(sdk.StatusSuspended)}, sdk.WithResponseMeta(&wmeta)); err != nil {
		t.Fatal(err)
	}
	if wmeta.Sequence == 0 || wmeta.Sequence != c.LastSequence() || wmeta.Version != 2 {
		t.Errorf("write meta %+v, LastSequence %d", wmeta, c.LastSequence())
	}
	if in, err := c.Introspect(ctx, bob.Secret); err != nil || in.Active {
		t.Errorf("introspect after suspend: %+v %v", in, err)
	}
	if _, err := c.UpdateToken(ctx, bob.Token.ID, sdk.UpdateTokenRequest{Status: sdk.Some(sdk.StatusActive)}); err != nil {
		t.Fatal(err)
	}
	if in, err := c.Introspect(ctx, bob.Secret); err != nil || !in.Active || in.ModelName != "gpt-mini" || in.Name != "Bob" {
		t.Errorf("introspect after reactivate: %+v %v", in, err)
	}

	// The end user's view while active: introspection never shows the note.
	assertIntrospection(t, s, secret, true)

	// Change each field in turn.
	exp2 := time.Now().Add(60 * 24 * time.Hour).Unix()
	steps := [][]string{
		{"tokens", "rename", tok.ID, "Alice B."},
		{"tokens", "update", tok.ID, "--note", "moved to the enterprise plan"},
		{"tokens", "update", tok.ID, "--expires", fmt.Sprint(exp2)},
		{"tokens", "suspend", tok.ID},
		{"tokens", "reactivate", tok.ID},
		{"tokens", "assign", tok.ID, gpt.ID},
	}
	for _, step := range steps {
		s.ok(t, step...)
	}
	got, err := c.GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Alice B." || got.Note != "moved to the enterprise plan" || got.ExpirationDate != exp2 ||
		got.Status != sdk.StatusActive || got.ModelID != gpt.ID || got.ModelName != "gpt-mini" || got.Version != 7 {
		t.Errorf("after the changes: %+v", got)
	}
	assertIntrospection(t, s, secret, true)

	// A second model is refused: unassign first.
	r = s.ctl(t, "", "tokens", "assign", tok.ID, other.ID)
	if r.code != 4 || !strings.HasPrefix(r.stderr, "tokenctl: already_assigned: ") {
		t.Errorf("second assign: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := c.AssignModel(ctx, tok.ID, other.ID); !errors.Is(err, sdk.ErrAlreadyAssigned) {
		t.Errorf("SDK second assign: %v", err)
	}
	if _, err := c.UpdateToken(ctx, tok.ID, sdk.UpdateTokenRequest{ModelID: sdk.Some(other.ID)}); !errors.Is(err, sdk.ErrAlreadyAssigned) {
		t.Errorf("SDK second assign by PATCH: %v", err)
	}
	s.ok(t, "tokens", "unassign", tok.ID)
	var moved sdk.Token
	mustJSON(t, s.ok(t, "tokens", "assign", tok.ID, other.ID, "-o", "json").stdout, &moved)
	if moved.ModelID != other.ID || moved.ModelName != "other-model" {
		t.Errorf("after the move: %+v", moved)
	}

	// A stale version is refused.
	if _, err := c.UpdateToken(ctx, tok.ID, sdk.UpdateTokenRequest{Name: sdk.Some("x")}, sdk.IfMatch(3)); !errors.Is(err, sdk.ErrVersionConflict) {
		t.Errorf("stale If-Match: %v", err)
	}

	// Cancel: final. Cancelling again changes nothing; other changes are refused.
	var canceled sdk.Token
	mustJSON(t, s.ok(t, "tokens", "cancel", tok.ID, "-o", "json").stdout, &canceled)
	if canceled.Status != sdk.StatusCanceled {
		t.Errorf("canceled: %+v", canceled)
	}
	var meta sdk.Meta
	again, err := c.CancelToken(ctx, tok.ID, sdk.WithResponseMeta(&meta))
	if err != nil || again.Version != canceled.Version || meta.Version != canceled.Version {
		t.Errorf("cancel again: %+v, meta %+v, %v", again, meta, err)
	}
	if r := s.ctl(t, "", "tokens", "rename", tok.ID, "nope"); r.code != 4 || !strings.HasPrefix(r.stderr, "tokenctl: token_canceled: ") {
		t.Errorf("rename a canceled token: exit %d, %q", r.code, r.stderr)
	}
	assertIntrospection(t, s, secret, false)

	// Delete: gone from lists and lookups, its trail stays.
	if r := s.ok(t, "tokens", "delete", tok.ID); r.stdout != "token "+tok.ID+" deleted\n" {
		t.Errorf("delete: %q", r.stdout)
	}
	if r := s.ctl(t, "", "tokens", "get", tok.ID); r.code != 3 || r.stderr != "tokenctl: not_found: token "+tok.ID+" not found\n" {
		t.Errorf("get a deleted token: exit %d, %q", r.code, r.stderr)
	}
	if _, err := c.GetToken(ctx, tok.ID); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("SDK get a deleted token: %v", err)
	}
	if got := names("--sort", "name"); !slices.Equal(got, []string{"Bob", "carol"}) {
		t.Errorf("list after delete = %v", got)
	}
	assertIntrospection(t, s, secret, false)

	// The audit trail: every change with its from and to.
	var trail sdk.AuditPage
	mustJSON(t, s.ok(t, "tokens", "audit", tok.ID, "--all", "-o", "json").stdout, &trail)
	want := []struct {
		typ     string
		changes map[string][2]any
	}{
		{"TokenIssued", map[string][2]any{"name": {nil, "alice"}, "note": {nil, "vip customer"}, "expirationDate": {nil, exp1}, "status": {nil, "ACTIVE"}}},
		{"TokenRenamed", map[string][2]any{"name": {"alice", "Alice B."}}},
		{"TokenNoteChanged", map[string][2]any{"note": {"vip customer", "moved to the enterprise plan"}}},
		{"TokenExpirationChanged", map[string][2]any{"expirationDate": {exp1, exp2}}},
		{"TokenSuspended", map[string][2]any{"status": {"ACTIVE", "SUSPENDED"}}},
		{"TokenReactivated", map[string][2]any{"status": {"SUSPENDED", "ACTIVE"}}},
		{"ModelAssigned", map[string][2]any{"modelId": {nil, gpt.ID}}},
		{"ModelUnassigned", map[string][2]any{"modelId": {gpt.ID, nil}}},
		{"ModelAssigned", map[string][2]any{"modelId": {nil, other.ID}}},
		{"TokenCanceled", map[string][2]any{"status": {"ACTIVE", "CANCELED"}}},
		{"TokenDeleted", map[string][2]any{}},
	}
	if len(trail.Entries) != len(want) {
		var types []string
		for _, e := range trail.Entries {
			types = append(types, e.Type)
		}
		t.Fatalf("audit has %d entries %v, want %d", len(trail.Entries), types, len(want))
	}
	for i, w := range want {
		e := trail.Entries[i]
		if e.Type != w.typ || e.TokenID != tok.ID || e.Actor.Kind != "license" || e.Sequence == 0 || e.At.IsZero() {
			t.Errorf("entry %d = %s %s %+v, want %s", i, e.Type, e.TokenID, e.Actor, w.typ)
		}
		if i > 0 && e.Sequence <= trail.Entries[i-1].Sequence {
			t.Errorf("entry %d out of order", i)
		}
		for field, fromTo := range w.changes {
			ch, ok := e.Changes[field]
			if !ok {
				t.Errorf("entry %d (%s) has no change of %s: %v", i, e.Type, field, e.Changes)
				continue
			}
			if !sameJSON(ch.From, fromTo[0]) || !sameJSON(ch.To, fromTo[1]) {
				t.Errorf("entry %d (%s) %s: %s -> %s, want %v -> %v", i, e.Type, field, ch.From, ch.To, fromTo[0], fromTo[1])
			}
		}
		if w.typ != "TokenIssued" && len(e.Changes) != len(w.changes) {
			t.Errorf("entry %d (%s) changes %v, want only %v", i, e.Type, keys(e.Changes), w.changes)
		}
	}
	// The same through the account's trail and the SDK's iterator, by type.
	var renamed []sdk.AuditEntry
	for e, err := range c.AllAudit(ctx, sdk.AuditOptions{Type: "TokenRenamed", Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		renamed = append(renamed, e)
	}
	if len(renamed) != 1 || renamed[0].TokenID != tok.ID {
		t.Errorf("account trail of TokenRenamed: %+v", renamed)
	}
	if r := s.ok(t, "audit", "--type", "ModelRegistered"); strings.Count(r.stdout, "ModelRegistered") != 2 {
		t.Errorf("audit --type ModelRegistered:\n%s", r.stdout)
	}

	// The secret was shown once: nothing read later holds it.
	everything := s.ok(t, "tokens", "audit", tok.ID, "--all", "-o", "json").stdout +
		s.ok(t, "audit", "--all", "-o", "json").stdout +
		s.ok(t, "tokens", "list", "--all", "-o", "json").stdout +
		s.ok(t, "tokens", "get", bob.Token.ID, "-o", "json").stdout
	for _, sec := range []string{secret, bob.Secret, carol.Secret} {
		if strings.Contains(everything, sec) || strings.Contains(everything, sec[8:]) {
			t.Errorf("a secret was shown again")
		}
	}
}

// assertIntrospection checks what an end user sees of their secret, through
// tokenctl (the secret on stdin) and the raw API: active or not, and never
// the note.
func assertIntrospection(t *testing.T, s *service, secret string, active bool) {
	t.Helper()
	r := s.ctl(t, secret+"\n", "introspect", "-", "-o", "json", "--license", "")
	if r.code != 0 {
		t.Fatalf("introspect: exit %d %s", r.code, r.stderr)
	}
	var in map[string]any
	mustJSON(t, r.stdout, &in)
	if in["active"] != active {
		t.Errorf("introspect active = %v, want %v: %s", in["active"], active, r.stdout)
	}
	if !active && len(in) != 1 {
		t.Errorf("an inactive token shows more than active: %s", r.stdout)
	}
	resp, err := http.Post(s.url+"/v1/introspect", "application/x-www-form-urlencoded", strings.NewReader("token="+secret))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var fields map[string]any
	mustJSON(t, string(raw), &fields)
	if _, ok := fields["note"]; ok || strings.Contains(string(raw), "vip customer") || strings.Contains(string(raw), "enterprise plan") {
		t.Errorf("introspection shows the note: %s", raw)
	}
	if fields["active"] != active {
		t.Errorf("raw introspection: %s", raw)
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

// sameJSON reports whether raw holds want (nil for null; numbers compared as
// integers).
func sameJSON(raw json.RawMessage, want any) bool {
	var got any
	if err := json.Unmarshal(raw, &got); err != nil {
		return false
	}
	switch w := want.(type) {
	case int64:
		f, ok := got.(float64)
		return ok && int64(f) == w
	default:
		return got == want
	}
}

func keys(m map[string]sdk.Change) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
