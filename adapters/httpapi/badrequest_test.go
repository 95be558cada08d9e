package httpapi

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/domain"
)

// onlyReader hides a reader's length, so the client sends it chunked,
// without Content-Length.
type onlyReader struct{ io.Reader }

// TestBadRequests: each request is refused with its status, code and a
// message naming the field, and no event is appended to the stream.
func TestBadRequests(t *testing.T) {
	s := newStack(t)
	acme := s.newTenant("acme")
	lic := acme.license
	model := s.newModel(lic, "m")
	tok := s.newToken(lic, map[string]any{"modelId": model})
	canceled := s.newToken(lic, nil)
	s.must(200, req{method: "POST", path: "/v1/tokens/" + canceled.view.ID + "/cancel", license: lic})
	var issued struct{ ID, License string }
	s.must(201, req{method: "POST", path: "/v1/licenses", license: lic}).json(t, &issued)
	s.must(204, req{method: "DELETE", path: "/v1/licenses/" + issued.ID, license: lic})
	unknownLicense, _ := domain.NewSecret(domain.LicensePrefix)
	badChecksum := corruptLast(lic)

	future := strconv.FormatInt(inDays(30), 10)
	tokPath := "/v1/tokens/" + tok.view.ID
	create := func(fields string) string { return `{"name":"n","expirationDate":` + future + fields + `}` }
	createNoName := func(name string) string { return `{"name":` + name + `,"expirationDate":` + future + `}` }
	createExp := func(exp string) string { return `{"name":"n","expirationDate":` + exp + `}` }
	huge := `{"name":"n","note":"` + strings.Repeat("x", 70000) + `","expirationDate":` + future + `}`

	type tc struct {
		name   string
		q      req
		status int
		code   string
		field  string // the message must start with it ("" skips)
	}
	post := func(body any) req { return req{method: "POST", path: "/v1/tokens", license: lic, body: body} }
	patch := func(body any) req { return req{method: "PATCH", path: tokPath, license: lic, body: body} }
	get := func(path string) req { return req{method: "GET", path: path, license: lic} }
	const bad, unauth = 400, 401
	const ia = "invalid_argument"
	cases := []tc{
		// Types and nulls.
		{"name is a number", post(createNoName("5")), bad, ia, "name"},
		{"name is null", post(createNoName("null")), bad, ia, "name"},
		{"name is an object", post(createNoName(`{"a":1}`)), bad, ia, "name"},
		{"name missing", post(`{"expirationDate":` + future + `}`), bad, ia, "name"},
		{"note is a number", post(create(`,"note":1`)), bad, ia, "note"},
		{"modelId is a number", post(create(`,"modelId":5`)), bad, ia, "modelId"},
		{"modelId is empty", post(create(`,"modelId":""`)), bad, ia, "modelId"},
		{"modelId names no model", post(create(`,"modelId":"00000000-0000-4000-8000-000000000000"`)), bad, ia, "modelId"},
		// Names.
		{"empty name", post(createNoName(`""`)), bad, ia, "name"},
		{"whitespace name", post(createNoName(`"  \t\n "`)), bad, ia, "name"},
		{"name with BEL", post(createNoName(`"a\u0007b"`)), bad, ia, "name"},
		{"name with NUL", post(createNoName(`"a\u0000b"`)), bad, ia, "name"},
		{"name with DEL", post(createNoName("\"a\x7fb\"")), bad, ia, "name"},
		{"name with U+0085", post(createNoName("\"a\u0085b\"")), bad, ia, "name"},
		{"name of 201 characters", post(createNoName(`"` + strings.Repeat("é", 201) + `"`)), bad, ia, "name"},
		{"name with a lone surrogate", post(createNoName(`"a\ud800b"`)), bad, ia, "name"},
		{"note of 2001 characters", post(create(`,"note":"` + strings.Repeat("n", 2001) + `"`)), bad, ia, "note"},
		// Expiration dates.
		{"expiration in the past", post(createExp(strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10))), bad, ia, "expirationDate"},
		{"expiration now", post(createExp(strconv.FormatInt(time.Now().Unix()-1, 10))), bad, ia, "expirationDate"},
		{"expiration too distant", post(createExp(strconv.FormatInt(inDays(400), 10))), bad, ia, "expirationDate"},
		{"expiration zero", post(createExp("0")), bad, ia, "expirationDate"},
		{"fractional expiration", post(createExp(future + ".5")), bad, ia, "expirationDate"},
		{"fraction .0", post(createExp(future + ".0")), bad, ia, "expirationDate"},
		{"negative expiration", post(createExp("-" + future)), bad, ia, "expirationDate"},
		{"exponent expiration", post(createExp("2e9")), bad, ia, "expirationDate"},
		{"negative digit string", post(createExp(`"-` + future + `"`)), bad, ia, "expirationDate"},
		{"digit string with letters", post(createExp(`"12abc"`)), bad, ia, "expirationDate"},
		{"digit string with a fraction", post(createExp(`"` + future + `.5"`)), bad, ia, "expirationDate"},
		{"empty digit string", post(createExp(`""`)), bad, ia, "expirationDate"},
		{"overflowing expiration", post(createExp("99999999999999999999999")), bad, ia, "expirationDate"},
		{"boolean expiration", post(createExp("true")), bad, ia, "expirationDate"},
		{"null expiration", post(createExp("null")), bad, ia, "expirationDate"},
		// Fields.
		{"unknown field", post(create(`,"colour":"red"`)), bad, ia, "colour"},
		{"read-only id", post(create(`,"id":"x"`)), bad, ia, "id"},
		{"status on creation", post(create(`,"status":"ACTIVE"`)), bad, ia, "status"},
		{"duplicate field", post(create(`,"name":"m"`)), bad, ia, "name"},
		// Bodies.
		{"trailing object", post(create("") + ` {}`), bad, ia, "body"},
		{"trailing garbage", post(create("") + `x`), bad, ia, "body"},
		{"invalid UTF-8", post([]byte(createNoName("\"a\xffb\""))), bad, ia, "body"},
		{"empty body", post(""), bad, ia, "body"},
		{"whitespace body", post("  \n"), bad, ia, "body"},
		{"null body", post("null"), bad, ia, "body"},
		{"array body", post(`[` + create("") + `]`), bad, ia, "body"},
		{"string body", post(`"name"`), bad, ia, "body"},
		{"truncated JSON", post(`{"name":`), bad, ia, "body"},
		{"wrong content type", req{method: "POST", path: "/v1/tokens", license: lic, body: create(""), ctype: "text/plain"}, 415, "unsupported_media_type", ""},
		{"no content type", req{method: "POST", path: "/v1/tokens", license: lic, body: create(""), ctype: "-"}, 415, "unsupported_media_type", ""},
		{"latin-1 charset", req{method: "POST", path: "/v1/tokens", license: lic, body: create(""), ctype: "application/json; charset=iso-8859-1"}, 415, "unsupported_media_type", ""},
		{"form on a JSON endpoint", req{method: "POST", path: "/v1/tokens", license: lic, body: "name=n", ctype: "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
		{"huge body", post(huge), 413, "payload_too_large", ""},
		{"65,537 bytes of valid JSON", post(create("") + strings.Repeat(" ", MaxBodyBytes+1-len(create("")))), 413, "payload_too_large", ""},
		{"huge chunked body", post(onlyReader{strings.NewReader(huge)}), 413, "payload_too_large", ""},
		// PATCH.
		{"bad status", patch(`{"status":"paused"}`), bad, ia, "status"},
		{"status with a dotless i", patch(`{"status":"actıve"}`), bad, ia, "status"},
		{"null status", patch(`{"status":null}`), bad, ia, "status"},
		{"numeric status", patch(`{"status":1}`), bad, ia, "status"},
		{"null name in PATCH", patch(`{"name":null}`), bad, ia, "name"},
		{"null expiration in PATCH", patch(`{"expirationDate":null}`), bad, ia, "expirationDate"},
		{"read-only version", patch(`{"version":3}`), bad, ia, "version"},
		{"read-only modelName", patch(`{"modelName":"x"}`), bad, ia, "modelName"},
		{"two changes, one bad", patch(`{"name":"ok","status":"nope"}`), bad, ia, "status"},
		{"past expiration in PATCH", patch(`{"expirationDate":1000}`), bad, ia, "expirationDate"},
		{"change of a canceled token", req{method: "PATCH", path: "/v1/tokens/" + canceled.view.ID, license: lic, body: `{"name":"x"}`}, 409, "token_canceled", ""},
		{"assign while assigned", req{method: "PUT", path: tokPath + "/model", license: lic, body: `{"modelId":"` + s.newModel(lic, "m2") + `"}`}, 409, "already_assigned", ""},
		{"assign null", req{method: "PUT", path: tokPath + "/model", license: lic, body: `{"modelId":null}`}, bad, ia, "modelId"},
		{"assign nothing", req{method: "PUT", path: tokPath + "/model", license: lic, body: `{}`}, bad, ia, "modelId"},
		{"cancel with a field", req{method: "POST", path: tokPath + "/cancel", license: lic, body: `{"reason":"x"}`}, bad, ia, "reason"},
		{"If-Match not a version", req{method: "PATCH", path: tokPath, license: lic, body: `{"name":"x"}`, headers: map[string]string{"If-Match": "3"}}, bad, ia, "If-Match"},
		{"Idempotency-Key not a UUID", req{method: "PATCH", path: tokPath, license: lic, body: `{"name":"x"}`, headers: map[string]string{"Idempotency-Key": "k1"}}, bad, ia, "Idempotency-Key"},
		{"token id that is a subject wildcard", req{method: "PATCH", path: "/v1/tokens/*", license: lic, body: `{"name":"x"}`}, 404, "not_found", ""},
		{"token id of the account subject", req{method: "DELETE", path: "/v1/tokens/account", license: lic}, 404, "not_found", ""},
		// Licenses.
		{"no license", req{method: "POST", path: "/v1/tokens", body: create("")}, unauth, "unauthenticated", ""},
		{"malformed license", req{method: "POST", path: "/v1/tokens", license: "lic_abc", body: create("")}, unauth, "unauthenticated", ""},
		{"license with a bad checksum", req{method: "POST", path: "/v1/tokens", license: badChecksum, body: create("")}, unauth, "unauthenticated", ""},
		{"unknown license", req{method: "POST", path: "/v1/tokens", license: unknownLicense, body: create("")}, unauth, "unauthenticated", ""},
		{"revoked license", req{method: "POST", path: "/v1/tokens", license: issued.License, body: create("")}, unauth, "unauthenticated", ""},
		{"token secret as a license", req{method: "POST", path: "/v1/tokens", license: tok.secret, body: create("")}, unauth, "unauthenticated", ""},
		{"basic scheme", req{method: "GET", path: "/v1/tokens", headers: map[string]string{"Authorization": "Basic " + lic}}, unauth, "unauthenticated", ""},
		{"account by a non-admin", req{method: "POST", path: "/v1/accounts", license: lic, body: `{"name":"x"}`}, 403, "permission_denied", ""},
		{"account with an empty name", req{method: "POST", path: "/v1/accounts", license: s.admin, body: `{"name":""}`}, bad, ia, "name"},
		{"model with a control character", req{method: "POST", path: "/v1/models", license: lic, body: `{"name":"a\u001bb"}`}, bad, ia, "name"},
		{"model with an id", req{method: "POST", path: "/v1/models", license: lic, body: `{"name":"a","id":"x"}`}, bad, ia, "id"},
		// Queries.
		{"bad status filter", get("/v1/tokens?status=paused"), bad, ia, "status"},
		{"empty status filter", get("/v1/tokens?status="), bad, ia, "status"},
		{"limit 0", get("/v1/tokens?limit=0"), bad, ia, "limit"},
		{"limit 1001", get("/v1/tokens?limit=1001"), bad, ia, "limit"},
		{"limit not a number", get("/v1/tokens?limit=ten"), bad, ia, "limit"},
		{"assigned=yes", get("/v1/tokens?assigned=yes"), bad, ia, "assigned"},
		{"bad sort", get("/v1/tokens?sort=size"), bad, ia, "sort"},
		{"negative expiresBefore", get("/v1/tokens?expiresBefore=-1"), bad, ia, "expiresBefore"},
		{"misspelt parameter", get("/v1/tokens?stauts=active"), bad, ia, "stauts"},
		{"sort twice", get("/v1/tokens?sort=name&sort=-name"), bad, ia, "sort"},
		{"bad cursor", get("/v1/tokens?cursor=!!"), bad, ia, "cursor"},
		{"fractional since", get("/v1/audit?since=1.5"), bad, ia, "since"},
		{"until before since", get("/v1/audit?since=10&until=5"), bad, ia, "until"},
		{"unknown event type", get("/v1/audit?type=TokenStolen"), bad, ia, "type"},
		{"since on a token's trail", get(tokPath + "/audit?since=1"), bad, ia, "since"},
		{"bad X-Min-Sequence", req{method: "GET", path: tokPath, license: lic, headers: map[string]string{"X-Min-Sequence": "soon"}}, bad, ia, "X-Min-Sequence"},
		// Introspection.
		{"introspect a number", req{method: "POST", path: "/v1/introspect", body: `{"token":5}`}, bad, ia, "token"},
		{"introspect nothing", req{method: "POST", path: "/v1/introspect", body: `{}`}, bad, ia, "token"},
		{"introspect a form without token", req{method: "POST", path: "/v1/introspect", body: "tok=x", ctype: "application/x-www-form-urlencoded"}, bad, ia, "token"},
		{"introspect as text", req{method: "POST", path: "/v1/introspect", body: "tkn_x", ctype: "text/plain"}, 415, "unsupported_media_type", ""},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := s.lastSeq()
			r := s.do(c.q)
			var e errorBody
			if err := json.Unmarshal(r.body, &e); err != nil {
				t.Fatalf("not a JSON error: %d %s", r.status, r.body)
			}
			if r.status != c.status || string(e.Error.Code) != c.code {
				t.Fatalf("got %d %s (%s), want %d %s", r.status, e.Error.Code, e.Error.Message, c.status, c.code)
			}
			if c.field != "" && !strings.HasPrefix(e.Error.Message, c.field+": ") {
				t.Errorf("message %q does not name %s", e.Error.Message, c.field)
			}
			if after := s.lastSeq(); after != before {
				t.Errorf("events appended: stream went from %d to %d", before, after)
			}
		})
	}
}
