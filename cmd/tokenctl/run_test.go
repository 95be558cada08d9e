package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A provider's day through tokenctl, against the fake: tables by default,
// JSON with -o json, the secret shown once.
func TestProviderDayTablesAndJSON(t *testing.T) {
	f := newFakeTokend(t)

	code, out, errOut := f.run(t, "", "models", "create", "gpt-mini")
	if code != 0 || !strings.Contains(out, "gpt-mini") {
		t.Fatalf("models create: %d %q %q", code, out, errOut)
	}

	code, out, errOut = f.run(t, "", "tokens", "create", "--name", "alice", "--note", "vip", "--expires", "720h")
	if code != 0 {
		t.Fatalf("tokens create: %d %q", code, errOut)
	}
	if !strings.Contains(out, "Secret: tkn_SecretValuet2") {
		t.Errorf("create output lacks the secret:\n%s", out)
	}
	if !strings.Contains(errOut, "only time the secret is shown") {
		t.Errorf("create warned nothing on stderr: %q", errOut)
	}
	create, _ := f.find("POST", "/v1/tokens")
	var body map[string]any
	_ = json.Unmarshal([]byte(create.Body), &body)
	if exp := int64(body["expirationDate"].(float64)); exp < time.Now().Add(719*time.Hour).Unix() || exp > time.Now().Add(721*time.Hour).Unix() {
		t.Errorf("--expires 720h sent %d", exp)
	}

	// The write waited for its own sequence to be readable.
	var settled bool
	for _, r := range f.requests() {
		if r.Method == "GET" && r.Path == "/v1/account" && r.Header.Get("X-Min-Sequence") == "2" {
			settled = true
		}
	}
	if !settled {
		t.Error("tokens create did not wait for the read model (GET /v1/account with X-Min-Sequence: 2)")
	}

	_, _, _ = f.run(t, "", "tokens", "create", "--name", "bob-the-builder", "--expires", "2099-01-01T00:00:00Z")
	code, out, _ = f.run(t, "", "tokens", "list")
	if code != 0 {
		t.Fatalf("tokens list: %d", code)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("list has %d lines, want header and 2 tokens:\n%s", len(lines), out)
	}
	// Columns are aligned: every line has STATUS at the same offset.
	col := strings.Index(lines[0], "STATUS")
	for _, l := range lines[1:] {
		if l[col:col+6] != "ACTIVE" {
			t.Errorf("misaligned table:\n%s", out)
		}
	}
	if !regexp.MustCompile(`^ID\s+NAME\s+STATUS\s+EXPIRES\s+MODEL\s+HINT\s+VERSION$`).MatchString(lines[0]) ||
		!strings.Contains(out, "4070908800") && !strings.Contains(out, "2099-01-01T00:00:00Z") {
		t.Errorf("table:\n%s", out)
	}

	code, out, _ = f.run(t, "", "-o", "json", "tokens", "list")
	var page struct {
		Tokens []struct {
			ID   string  `json:"id"`
			Note *string `json:"note"`
		} `json:"tokens"`
		NextCursor *string `json:"nextCursor"`
	}
	if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Tokens) != 2 || page.NextCursor != nil {
		t.Fatalf("json list: %d %v %s", code, err, out)
	}
	if page.Tokens[1].Note != nil {
		t.Errorf("no note must print as null, got %q", *page.Tokens[1].Note)
	}

	code, out, _ = f.run(t, "", "tokens", "get", "t2")
	if code != 0 || !regexp.MustCompile(`(?m)^Note\s+vip$`).MatchString(out) || !regexp.MustCompile(`(?m)^Model\s+-$`).MatchString(out) {
		t.Errorf("tokens get: %d\n%s", code, out)
	}

	code, out, _ = f.run(t, "", "tokens", "assign", "t2", "m1")
	if code != 0 || !regexp.MustCompile(`(?m)^Model\s+gpt-mini \(m1\)$`).MatchString(out) {
		t.Errorf("tokens assign: %d\n%s", code, out)
	}
	code, _, errOut = f.run(t, "", "tokens", "assign", "t2", "m9")
	if code != exitConflict || !strings.Contains(errOut, "tokenctl: already_assigned: the token is already assigned to another model: unassign it first") {
		t.Errorf("second assign: %d %q", code, errOut)
	}

	code, out, _ = f.run(t, "", "-o", "json", "tokens", "cancel", "t2")
	var tok struct{ Status string }
	if err := json.Unmarshal([]byte(out), &tok); code != 0 || err != nil || tok.Status != "CANCELED" {
		t.Errorf("cancel: %d %v %s", code, err, out)
	}

	code, out, _ = f.run(t, "", "tokens", "delete", "t2")
	if code != 0 || out != "token t2 deleted\n" {
		t.Errorf("delete: %d %q", code, out)
	}
	code, _, errOut = f.run(t, "", "tokens", "get", "t2")
	if code != exitNotFound || errOut != "tokenctl: not_found: token t2 not found\n" {
		t.Errorf("get deleted: %d %q", code, errOut)
	}
}

// tokens update sends exactly the flags given: absent fields stay out,
// --clear-note and --unassign send null.
func TestTokensUpdateSendsOnlyTheGivenFields(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--name", "new"}, `{"name":"new"}`},
		{[]string{"--note", "private"}, `{"note":"private"}`},
		{[]string{"--note", ""}, `{"note":""}`},
		{[]string{"--clear-note"}, `{"note":null}`},
		{[]string{"--status", "suspended"}, `{"status":"SUSPENDED"}`},
		{[]string{"--expires", "1900000000"}, `{"expirationDate":1900000000}`},
		{[]string{"--model", "m1"}, `{"modelId":"m1"}`},
		{[]string{"--unassign"}, `{"modelId":null}`},
		{[]string{"--name", "n", "--clear-note", "--unassign"}, `{"name":"n","note":null,"modelId":null}`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f := newFakeTokend(t)
			f.run(t, "", "tokens", "create", "--name", "a", "--expires", "1h")
			code, _, errOut := f.run(t, "", append([]string{"tokens", "update", "t1"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			r, _ := f.find("PATCH", "/v1/tokens/t1")
			if r.Body != tc.want {
				t.Errorf("body = %s, want %s", r.Body, tc.want)
			}
		})
	}
}

func TestOneFieldCommands(t *testing.T) {
	tests := []struct {
		args         []string
		method, path string
		body         string
	}{
		{[]string{"rename", "t1", "Bob"}, "PATCH", "/v1/tokens/t1", `{"name":"Bob"}`},
		{[]string{"suspend", "t1"}, "PATCH", "/v1/tokens/t1", `{"status":"SUSPENDED"}`},
		{[]string{"reactivate", "t1"}, "PATCH", "/v1/tokens/t1", `{"status":"ACTIVE"}`},
		{[]string{"cancel", "t1"}, "POST", "/v1/tokens/t1/cancel", ``},
		{[]string{"assign", "t1", "m1"}, "PUT", "/v1/tokens/t1/model", `{"modelId":"m1"}`},
		{[]string{"unassign", "t1"}, "DELETE", "/v1/tokens/t1/model", ``},
		{[]string{"delete", "t1"}, "DELETE", "/v1/tokens/t1", ``},
	}
	for _, tc := range tests {
		t.Run(tc.args[0], func(t *testing.T) {
			f := newFakeTokend(t)
			f.run(t, "", "tokens", "create", "--name", "a", "--expires", "1h")
			if code, _, errOut := f.run(t, "", append([]string{"tokens"}, tc.args...)...); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			r, ok := f.find(tc.method, tc.path)
			if !ok || r.Body != tc.body {
				t.Errorf("request %s %s found=%v body %q, want %q", tc.method, tc.path, ok, r.Body, tc.body)
			}
		})
	}
}

func TestIfMatchConflictExitsWithConflict(t *testing.T) {
	f := newFakeTokend(t)
	f.run(t, "", "tokens", "create", "--name", "a", "--expires", "1h")
	code, _, errOut := f.run(t, "", "tokens", "rename", "t1", "b", "--if-match", "7")
	if code != exitConflict || !strings.HasPrefix(errOut, "tokenctl: version_conflict: ") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if r, _ := f.find("PATCH", "/v1/tokens/t1"); r.Header.Get("If-Match") != `"7"` {
		t.Errorf("If-Match = %q", r.Header.Get("If-Match"))
	}
	if code, _, _ := f.run(t, "", "tokens", "rename", "t1", "b", "--if-match", "1"); code != 0 {
		t.Errorf("matching --if-match: exit %d", code)
	}
}

func TestListFlagsBecomeTheQuery(t *testing.T) {
	f := newFakeTokend(t)
	code, _, errOut := f.run(t, "", "tokens", "list", "--status", "active,suspended", "--status", "canceled", "--model", "m1",
		"--assigned=false", "-q", "bo", "--expires-before", "1900000000", "--expires-after", "2026-12-01T00:00:00Z",
		"--sort", "-name", "--limit", "10", "--cursor", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r, _ := f.find("GET", "/v1/tokens")
	want := "assigned=false&cursor=0&expiresAfter=1796083200&expiresBefore=1900000000&limit=10&modelId=m1&q=bo&sort=-name&status=ACTIVE&status=SUSPENDED&status=CANCELED"
	if r.Query != want {
		t.Errorf("query\n got %s\nwant %s", r.Query, want)
	}
}

func TestListAllPagesAndHintsAtMore(t *testing.T) {
	f := newFakeTokend(t)
	for range 5 {
		f.run(t, "", "tokens", "create", "--name", "a", "--expires", "1h")
	}
	code, out, errOut := f.run(t, "", "tokens", "list", "--limit", "2")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(errOut, "--cursor 2") {
		t.Errorf("one page: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = f.run(t, "", "-o", "json", "tokens", "list", "--limit", "2", "--all")
	var page struct{ Tokens []any }
	if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Tokens) != 5 || errOut != "" {
		t.Errorf("--all: %d %v %d tokens, stderr %q", code, err, len(page.Tokens), errOut)
	}
}

func TestAuditTable(t *testing.T) {
	f := newFakeTokend(t)
	code, out, errOut := f.run(t, "", "audit", "--since", "24h", "--until", "2026-12-01T00:00:00Z", "--type", "TokenRenamed")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `name: "old" -> "new"; note: null -> "x"`) || !strings.Contains(out, "license:l1") ||
		!strings.Contains(out, "2026-11-26T21:00:00Z") {
		t.Errorf("audit table:\n%s", out)
	}
	r, _ := f.find("GET", "/v1/audit")
	if !strings.Contains(r.Query, "type=TokenRenamed") || !strings.Contains(r.Query, "until=1796083200") {
		t.Errorf("audit query %s", r.Query)
	}
	if code, out, _ := f.run(t, "", "-o", "json", "tokens", "audit", "t9"); code != exitNotFound || out != "" {
		t.Errorf("audit of a missing token: %d %q", code, out)
	}
}

func TestIntrospectFromArgumentOrStdinWithoutLicense(t *testing.T) {
	f := newFakeTokend(t)
	f.run(t, "", "tokens", "create", "--name", "a", "--note", "secret-note", "--expires", "1h")
	var out, errOut bytes.Buffer
	// No --license, no TOKEND_LICENSE.
	t.Setenv("TOKEND_LICENSE", "")
	code := run(context.Background(), []string{"--url", f.srv.URL, "introspect", "-"}, strings.NewReader("tkn_SecretValuet1\n"), &out, &errOut)
	if code != 0 || !regexp.MustCompile(`(?m)^Active\s+true$`).MatchString(out.String()) || strings.Contains(out.String(), "secret-note") {
		t.Errorf("introspect -: %d\n%s%s", code, out.String(), errOut.String())
	}
	reqs := f.requests()
	if last := reqs[len(reqs)-1]; last.Path != "/v1/introspect" || last.Header.Get("Authorization") != "" {
		t.Errorf("last request %s with Authorization %q", last.Path, last.Header.Get("Authorization"))
	}
	code, outS, _ := f.run(t, "", "-o", "json", "introspect", "tkn_unknown")
	if code != 0 || strings.TrimSpace(outS) != `{
  "active": false
}` {
		t.Errorf("inactive: %d %s", code, outS)
	}
}

func TestEnvironmentConfiguresTheClient(t *testing.T) {
	f := newFakeTokend(t)
	t.Setenv("TOKEND_URL", f.srv.URL)
	t.Setenv("TOKEND_LICENSE", fakeLicense)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"account"}, strings.NewReader(""), &out, &errOut); code != 0 ||
		!regexp.MustCompile(`(?m)^Name\s+default$`).MatchString(out.String()) {
		t.Errorf("account: %d\n%s%s", code, out.String(), errOut.String())
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		status int
		code   string
		args   []string
		want   int
	}{
		{"invalid argument", 400, "invalid_argument", []string{"models", "list"}, exitInvalid},
		{"unauthenticated", 401, "unauthenticated", []string{"account"}, exitAuth},
		{"permission denied", 403, "permission_denied", []string{"accounts", "create", "x"}, exitAuth},
		{"not found", 404, "not_found", []string{"models", "get", "m1"}, exitNotFound},
		{"token canceled", 409, "token_canceled", []string{"tokens", "rename", "t1", "x"}, exitConflict},
		{"version conflict", 412, "version_conflict", []string{"tokens", "suspend", "t1"}, exitConflict},
		{"payload too large", 413, "payload_too_large", []string{"models", "create", "x"}, exitInvalid},
		{"rate limited", 429, "rate_limited", []string{"licenses", "list"}, exitUnavailable},
		{"internal", 500, "internal", []string{"licenses", "issue"}, exitFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTokend(t)
			f.fail.status, f.fail.code = tc.status, tc.code
			code, out, errOut := f.run(t, "", tc.args...)
			if code != tc.want || out != "" || errOut != "tokenctl: "+tc.code+": scripted failure\n" {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q", code, tc.want, out, errOut)
			}
		})
	}
}

func TestUsageErrorsExitTwoWithoutCallingTheService(t *testing.T) {
	tests := map[string][]string{
		"unknown command":        {"bogus"},
		"unknown subcommand":     {"tokens", "bogus"},
		"unknown flag":           {"tokens", "list", "--bogus"},
		"missing argument":       {"tokens", "get"},
		"extra argument":         {"tokens", "get", "a", "b"},
		"missing required flag":  {"tokens", "create", "--name", "x"},
		"bad expiration":         {"tokens", "create", "--name", "x", "--expires", "next week"},
		"note and clear-note":    {"tokens", "update", "t1", "--note", "x", "--clear-note"},
		"model and unassign":     {"tokens", "update", "t1", "--model", "m", "--unassign"},
		"update without changes": {"tokens", "update", "t1"},
		"bad output":             {"-o", "yaml", "account"},
		"bad if-match":           {"tokens", "cancel", "t1", "--if-match", "x"},
		"bad since":              {"audit", "--since", "yesterday"},
		"introspect stdin empty": {"introspect", "-"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFakeTokend(t)
			code, _, errOut := f.run(t, "", args...)
			if code != exitUsage || !strings.HasPrefix(errOut, "tokenctl: ") {
				t.Errorf("exit %d, stderr %q", code, errOut)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
	var out, errOut bytes.Buffer
	t.Setenv("TOKEND_LICENSE", "")
	if code := run(context.Background(), []string{"--url", "http://127.0.0.1:1", "account"}, nil, &out, &errOut); code != exitUsage ||
		!strings.Contains(errOut.String(), "no license") {
		t.Errorf("no license: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"--url", "ftp://x", "--license", "l", "account"}, nil, &out, &errOut); code != exitUsage {
		t.Errorf("bad url: %d %q", code, errOut.String())
	}
}

func TestUnreachableServiceExitsUnavailable(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--url", "http://127.0.0.1:1", "--license", "l", "introspect", "tkn_x"}, nil, &out, &errOut)
	if code != exitUnavailable || !strings.HasPrefix(errOut.String(), "tokenctl: ") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

// Table cells show control characters escaped: a note cannot break the
// alignment or send escape sequences to the terminal.
func TestTableEscapesControlCharacters(t *testing.T) {
	f := newFakeTokend(t)
	f.run(t, "", "tokens", "create", "--name", "a", "--note", "line1\nline2\x1b[31mred\tx", "--expires", "1h")
	_, out, _ := f.run(t, "", "tokens", "get", "t1")
	if !strings.Contains(out, `line1\nline2\x1b[31mred\tx`) || strings.Contains(out, "\x1b") {
		t.Errorf("note printed as %q", out)
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		in   string
		sign int
		want int64
		ok   bool
	}{
		{"1900000000", +1, 1900000000, true},
		{"2027-01-15T08:00:00Z", +1, time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC).Unix(), true},
		{"720h", +1, 1800000000 + 720*3600, true},
		{"30d", +1, 1800000000 + 30*86400, true},
		{"1d12h", +1, 1800000000 + 36*3600, true},
		{"24h", -1, 1800000000 - 86400, true},
		{"", +1, 0, false},
		{"-5", +1, 0, false},
		{"1.5", +1, 0, false},
		{"99999999999999999999", +1, 0, false},
		{"tomorrow", +1, 0, false},
	}
	for _, tc := range tests {
		got, err := parseWhen("expires", tc.in, now, tc.sign)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseWhen(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestProjectionBehindAfterWriteIsOnlyAWarning(t *testing.T) {
	f := newFakeTokend(t)
	f.mu.Lock()
	f.behind = true
	f.mu.Unlock()
	code, out, errOut := f.run(t, "", "models", "create", "m")
	if code != 0 || !strings.Contains(out, "m1") || !strings.Contains(errOut, "warning: the write succeeded") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}
