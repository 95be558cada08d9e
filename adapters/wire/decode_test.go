package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tokend/tokend/domain"
)

var fuzzSpecs = []BodySpec{IssueTokenSpec, PatchTokenSpec, NameSpec, AssignModelSpec, IntrospectSpec, EmptySpec, renameTokenSpec, changeNoteSpec, changeExpirationSpec, envelopeSpec}

// FuzzDecodeBody: decoding never panics, and every body it accepts keeps the
// rules: valid UTF-8, exactly one JSON object, only known fields, each once,
// of the right type, null only where nullable, required ones present, names,
// notes and statuses valid, expiration dates whole non-negative seconds.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","expirationDate":1900000000}`,
		`{"name":" a ","note":null,"expirationDate":"1900000000","modelId":null}`,
		`{"name":"a","note":"n","expirationDate":1900000000,"modelId":"m"}`,
		`{"status":"cancelled","modelId":null,"note":null}`,
		`{"status":"ACTIVE","name":"x\u00e9\ud83d\ude00"}`,
		`{"expirationDate":1.5}`, `{"expirationDate":-1}`, `{"expirationDate":1e9}`,
		`{"name":"a\ud800"}`, `{"name":"a\\ud800"}`, `{"name":"\u0085"}`,
		`{"modelId":"m"} `, `{} {}`, `[]`, `null`, ``, `{"token":"tkn_x"}`,
		`{"name":"a","name":"b"}`, "{\"name\":\"\xff\"}", `{"a":{"b":[1,2,{"c":null}]}}`,
		`{"commandId":"3b241101-e2bb-4255-8caf-4136c566a962","tokenId":"t","expectedVersion":3,"data":{"name":"a"}}`,
		`{"commandId":"3B241101-E2BB-4255-8CAF-4136C566A962","data":{},"expectedVersion":1.0}`,
		`{"na\u006de":"a"}`, `{"note":"x\"},\"name\":\"y","name":"b"}`, ` { "data" : { "x" : [ "}" , { } ] } , "name" : "c" } `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, spec := range fuzzSpecs {
			sameAsTokens(t, body, spec)
			d, err := DecodeBody(body, spec)
			if err != nil {
				var de *domain.Error
				if !asDomainError(err, &de) || de.Code != domain.CodeInvalidArgument || de.Field == "" && !strings.Contains(de.Message, ": ") {
					t.Fatalf("refusal %v is not an invalid_argument naming a field", err)
				}
				continue
			}
			checkAccepted(t, body, spec, d)
		}
	})
}

// sameAsTokens: on a valid JSON object, the plain scan of decodeMembers
// decodes exactly what encoding/json's Decoder does (decodeTokens), and
// refuses with the same error (of several missing required fields, both
// name the same one: checkRequired's order is fixed).
func sameAsTokens(t *testing.T, body []byte, spec BodySpec) {
	t.Helper()
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if !utf8.Valid(body) || !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' {
		return
	}
	fast, fastErr := decodeMembers(trimmed, spec)
	slow, slowErr := decodeTokens(body, spec)
	if (fastErr == nil) != (slowErr == nil) {
		t.Fatalf("%q: scan %v, decoder %v", body, fastErr, slowErr)
	}
	if fastErr != nil {
		if fastErr.Error() != slowErr.Error() {
			t.Fatalf("%q: scan refuses with %q, decoder with %q", body, fastErr, slowErr)
		}
		return
	}
	if len(fast) != len(slow) {
		t.Fatalf("%q: scan %v, decoder %v", body, fast, slow)
	}
	for k, f := range fast {
		g := slow[k]
		if f.Set != g.Set || f.Null != g.Null || f.Str != g.Str || f.Num != g.Num || !bytes.Equal(f.Raw, g.Raw) {
			t.Fatalf("%q: field %q: scan %+v, decoder %+v", body, k, f, g)
		}
	}
}

func asDomainError(err error, de **domain.Error) bool {
	e, ok := err.(*domain.Error)
	*de = e
	return ok
}

// checkAccepted asserts the rules on a body decodeBody accepted.
func checkAccepted(t *testing.T, body []byte, spec BodySpec, d Body) {
	t.Helper()
	if !utf8.Valid(body) || !json.Valid(body) {
		t.Fatalf("accepted a body that is not valid UTF-8 JSON: %q", body)
	}
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		t.Fatalf("accepted a body that is not an object: %q", body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("accepted %q, which does not decode as an object: %v", body, err)
	}
	if len(raw) != len(d) || len(d) != countKeys(t, body) {
		t.Fatalf("accepted %q with duplicate or dropped fields: %d keys, %d decoded", body, countKeys(t, body), len(d))
	}
	for name, rule := range spec.Fields {
		f, present := d[name]
		if rule.Required && !present {
			t.Fatalf("accepted %q without required %s", body, name)
		}
		if !present {
			continue
		}
		v := raw[name]
		if f.Null {
			if !rule.Nullable || string(v) != "null" {
				t.Fatalf("accepted null %s in %q", name, body)
			}
			continue
		}
		switch rule.Kind {
		case KindExpiration:
			if f.Num < 0 || bytes.ContainsAny(v, ".eE-") {
				t.Fatalf("accepted expirationDate %s (%d)", v, f.Num)
			}
			continue
		case KindName:
			if _, err := domain.ParseName(name, f.Str); err != nil {
				t.Fatalf("accepted name %q: %v", f.Str, err)
			}
		case KindNote:
			if _, err := domain.ParseNote(f.Str); err != nil {
				t.Fatalf("accepted note %q: %v", f.Str, err)
			}
		case KindStatus:
			if _, err := domain.ParseStatus(f.Str); err != nil {
				t.Fatalf("accepted status %q: %v", f.Str, err)
			}
			continue // canonicalised
		case KindModelID:
			if f.Str == "" {
				t.Fatalf("accepted an empty modelId in %q", body)
			}
		case KindVersion:
			if f.Num < 0 || bytes.ContainsAny(v, ".eE-\"") {
				t.Fatalf("accepted version %s (%d)", v, f.Num)
			}
			continue
		case KindObject:
			if v[0] != '{' || string(f.Raw) != string(v) {
				t.Fatalf("accepted %s as an object (%s)", v, f.Raw)
			}
			continue
		case KindUUID:
			if len(f.Str) != 36 || uuid.MustParse(f.Str) == uuid.Nil {
				t.Fatalf("accepted UUID %q", f.Str)
			}
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil || s != f.Str {
			t.Fatalf("%s decoded as %q, encoding/json says %q (%v)", name, f.Str, s, err)
		}
		if !utf8.ValidString(f.Str) || strings.ContainsRune(f.Str, utf8.RuneError) && !bytes.Contains(body, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
			t.Fatalf("%s holds a replacement character the client did not send: %q", name, body)
		}
	}
	for k := range raw {
		if _, ok := spec.Fields[k]; !ok {
			t.Fatalf("accepted unknown field %q", k)
		}
	}
}

// countKeys counts the top-level keys of an object, duplicates included.
func countKeys(t *testing.T, body []byte) int {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// TestDecodeBody pins the decoder's answers for the forms API.md names.
func TestDecodeBody(t *testing.T) {
	ok := func(body string, spec BodySpec) Body {
		t.Helper()
		d, err := DecodeBody([]byte(body), spec)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return d
	}
	d := ok(`{"name":"a","expirationDate":"001900000000","note":null,"modelId":null}`, IssueTokenSpec)
	if d.Get("expirationDate").Num != 1900000000 || !d.Get("note").Null || !d.Get("modelId").Null {
		t.Fatalf("decoded %+v", d)
	}
	d = ok(" \n{\"status\":\"Cancelled\",\"name\":\"x\\ud83d\\ude00\"}\n ", PatchTokenSpec)
	if d.Get("status").Str != "CANCELED" || d.Get("name").Str != "x😀" {
		t.Fatalf("decoded %+v", d)
	}
	u := PatchTokenBody(ok(`{"modelId":null,"note":null}`, PatchTokenSpec))
	if !u.ModelID.Set || u.ModelID.Value != nil || !u.Note.Set || u.Note.Value != "" || u.Name.Set {
		t.Fatalf("patch = %+v", u)
	}
	ok(`{}`, EmptySpec)
	for _, body := range []string{`{"a":1}`, `{}x`, `[{}]`} {
		if _, err := DecodeBody([]byte(body), EmptySpec); err == nil {
			t.Fatalf("%s accepted by the empty spec", body)
		}
	}
	// Field labels of hostile keys are quoted and short.
	_, err := DecodeBody([]byte(`{"`+strings.Repeat("\\n", 200)+`":1}`), EmptySpec)
	if err == nil || len(err.Error()) > 200 || strings.ContainsRune(err.Error(), '\n') {
		t.Fatalf("hostile key: %v", err)
	}
}

// BenchmarkDecodeBody: a command envelope and its data, as the NATS intake
// decodes them, by the plain scan DecodeBody takes for a valid body and by
// encoding/json's Decoder it takes for a broken one.
//
//	go test -run '^$' -bench DecodeBody ./adapters/wire
func BenchmarkDecodeBody(b *testing.B) {
	env := []byte(`{"commandId":"3b241101-e2bb-4255-8caf-4136c566a962","tokenId":"0b6f1e2a-6c1d-5b8e-9f3a-2d4c6e8a0b1c","data":{"name":"token 1234 n2.77"}}`)
	data := []byte(`{"name":"token 1234 n2.77"}`)
	for _, c := range []struct {
		name   string
		decode func([]byte, BodySpec) (Body, error)
	}{{"scan", DecodeBody}, {"decoder", decodeTokens}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.decode(env, envelopeSpec); err != nil {
					b.Fatal(err)
				}
				if _, err := c.decode(data, renameTokenSpec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMissingFieldsNamedInAFixedOrder: a body missing several required
// fields always gets the same refusal, naming the first of them in
// alphabetical order, not whichever a map iteration met first.
func TestMissingFieldsNamedInAFixedOrder(t *testing.T) {
	spec := dataSpecs[domain.CmdIssueToken] // name and expirationDate required
	for range 50 {
		_, err := DecodeBody([]byte(`{"note":"n"}`), spec)
		if err == nil || err.Error() != "expirationDate: required" {
			t.Fatalf("DecodeBody = %v, want expirationDate: required", err)
		}
	}
}
