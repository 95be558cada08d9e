package domain_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const goldenDir = "testdata/golden"

// goldenEvent is one decided event with the state of its aggregate before it.
type goldenEvent struct {
	event     domain.Event
	tokBefore domain.Token
	accBefore domain.Account
}

// goldenHistory decides, with fixed ids, actors and clock, a history that
// holds every event type, and returns the first event of each type.
func goldenHistory(t *testing.T) map[domain.EventType]goldenEvent {
	t.Helper()
	const (
		acc = "6f0e1f4c-4a59-4c36-9a35-7d8a3b9d2a10"
		tok = "0b8f3c2e-7d7b-4e42-8f6c-1c2d3e4f5a6b"
	)
	lic := domain.Actor{Kind: domain.ActorLicense, ID: "lic-0001"}
	at := time.Date(2026, 11, 26, 21, 0, 0, 123456789, time.UTC)
	secret := secretFromBytes(domain.TokenSecretPrefix, bytes.Repeat([]byte{0xa5}, 32))
	license := secretFromBytes(domain.LicensePrefix, bytes.Repeat([]byte{0x5a}, 32))
	license2 := secretFromBytes(domain.LicensePrefix, bytes.Repeat([]byte{0x3c}, 32))

	out := map[domain.EventType]goldenEvent{}
	var (
		a     domain.Account
		token domain.Token
		n     int
	)
	record := func(evs []domain.Event, err error, g goldenEvent) {
		t.Helper()
		if err != nil || len(evs) != 1 {
			t.Fatalf("golden history step %d: %v %v", n, evs, err)
		}
		g.event = evs[0]
		if _, seen := out[g.event.Type]; !seen {
			out[g.event.Type] = g
		}
	}
	accountStep := func(actor domain.Actor, body domain.CommandBody) {
		t.Helper()
		n++
		c := domain.Command{ID: uid(0x100 + n), AccountID: acc, Actor: actor, Body: body}
		evs, err := domain.DecideAccount(a, c, at.Add(time.Duration(n)*time.Minute))
		record(evs, err, goldenEvent{accBefore: a})
		a = domain.EvolveAccount(a, evs[0])
	}
	tokenStep := func(body domain.CommandBody) {
		t.Helper()
		n++
		c := domain.Command{ID: uid(0x100 + n), AccountID: acc, TokenID: tok, Actor: lic, Body: body}
		evs, err := domain.Decide(token, c, domain.Rules{Now: at.Add(time.Duration(n) * time.Minute), Models: a})
		record(evs, err, goldenEvent{tokBefore: token})
		token = domain.Evolve(token, evs[0])
	}

	accountStep(domain.SystemActor, domain.CreateAccount{Name: "Acme AI", LicenseID: "lic-0001", LicenseSha256: domain.HashSecret(license)})
	accountStep(lic, domain.RegisterModel{ModelID: "mdl-1", Name: "Sonnet"})
	accountStep(lic, domain.RegisterModel{ModelID: "mdl-2", Name: "Haiku"})
	accountStep(lic, domain.IssueLicense{LicenseID: "lic-0002", LicenseSha256: domain.HashSecret(license2)})
	accountStep(lic, domain.RevokeLicense{LicenseID: "lic-0002"})
	tokenStep(domain.IssueToken{
		Name: " Mobile app ", Note: "for bob", ExpirationDate: at.Add(30 * day).Unix(), ModelID: "mdl-1",
		SecretSha256: domain.HashSecret(secret), SecretHint: domain.Hint(secret),
	})
	tokenStep(domain.RenameToken{Name: "Mobile app (iOS)"})
	tokenStep(domain.ChangeNote{Note: ""})
	tokenStep(domain.ChangeExpiration{ExpirationDate: at.Add(60 * day).Unix()})
	tokenStep(domain.SuspendToken{})
	tokenStep(domain.ReactivateToken{})
	tokenStep(domain.UnassignModel{})
	tokenStep(domain.AssignModel{ModelID: "mdl-2"})
	tokenStep(domain.UpdateToken{Name: domain.Some("Mobile"), Note: domain.Some("quota: 10k/day"), Status: domain.Some("suspended")})
	tokenStep(domain.CancelToken{})
	tokenStep(domain.DeleteToken{})

	// No secret or license, whole, ever reaches an event.
	for typ, g := range out {
		b, _ := json.Marshal(g.event)
		for _, s := range []string{secret, license, license2} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret: %s", typ, b)
			}
		}
	}
	return out
}

func goldenPath(typ domain.EventType) string { return filepath.Join(goldenDir, string(typ)+".json") }

// encodeGolden is the golden form of an event: its JSON encoding, exactly as
// json.Marshal gives it (the body of the JetStream message), and a newline.
func encodeGolden(t *testing.T, e domain.Event) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("marshal %s: %v", e.Type, err)
	}
	return append(b, '\n')
}

// TestGoldenEvents compares the JSON encoding of every event type with its
// golden file, byte for byte. `go test ./domain -update` rewrites them.
func TestGoldenEvents(t *testing.T) {
	events := goldenHistory(t)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range domain.AllEventTypes {
		t.Run(string(typ), func(t *testing.T) {
			g, ok := events[typ]
			if !ok {
				t.Fatalf("the golden history has no %s", typ)
			}
			got := encodeGolden(t, g.event)
			if *update {
				if err := os.WriteFile(goldenPath(typ), got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath(typ))
			if err != nil {
				t.Fatalf("%v (run `go test ./domain -update` to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s encodes differently from %s (if the change is meant, run `go test ./domain -update`)\n got %s\nwant %s", typ, goldenPath(typ), got, want)
			}
		})
	}
	// Every golden file is for an event type, and there is one for each.
	files, err := filepath.Glob(filepath.Join(goldenDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	var names, want []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	for _, typ := range domain.AllEventTypes {
		want = append(want, string(typ)+".json")
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("golden files %v, want %v", names, want)
	}
}

// TestGoldenRoundTrip decodes each golden file into a domain.Event,
// re-encodes it to the same bytes, and checks that Evolve (or EvolveAccount)
// of the decoded event gives the same state as of the decided one.
func TestGoldenRoundTrip(t *testing.T) {
	events := goldenHistory(t)
	for _, typ := range domain.AllEventTypes {
		t.Run(string(typ), func(t *testing.T) {
			raw, err := os.ReadFile(goldenPath(typ))
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			var e domain.Event
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if again := encodeGolden(t, e); !bytes.Equal(again, raw) {
				t.Errorf("re-encoded\n got %s\nwant %s", again, raw)
			}
			g := events[typ]
			if !reflect.DeepEqual(e, g.event) {
				t.Errorf("decoded %+v\nwant    %+v", e, g.event)
			}
			if typ.IsAccountEvent() {
				got, want := domain.EvolveAccount(g.accBefore, e), domain.EvolveAccount(g.accBefore, g.event)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("EvolveAccount of the decoded event\n got %+v\nwant %+v", got, want)
				}
				return
			}
			got, want := domain.Evolve(g.tokBefore, e), domain.Evolve(g.tokBefore, g.event)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Evolve of the decoded event\n got %+v\nwant %+v", got.Snapshot(), want.Snapshot())
			}
		})
	}
}

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// TestEventShape checks the golden bodies against API.md's description of
// an event, reading them as plain JSON.
func TestEventShape(t *testing.T) {
	for _, typ := range domain.AllEventTypes {
		t.Run(string(typ), func(t *testing.T) {
			raw, err := os.ReadFile(goldenPath(typ))
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatal(err)
			}
			keys := []string{"id", "type", "schemaVersion", "accountId", "commandId", "actor", "at", "data"}
			if !typ.IsAccountEvent() {
				keys = append(keys, "tokenId")
			}
			var got []string
			for k := range body {
				got = append(got, k)
			}
			slices.Sort(keys)
			slices.Sort(got)
			if !slices.Equal(got, keys) {
				t.Errorf("keys %v, want %v", got, keys)
			}
			if body["type"] != string(typ) || body["schemaVersion"] != 1.0 {
				t.Errorf("type %v schemaVersion %v", body["type"], body["schemaVersion"])
			}
			for _, k := range []string{"id", "commandId"} {
				if s, _ := body[k].(string); !uuidRE.MatchString(s) {
					t.Errorf("%s %q is not a lower-case UUID", k, s)
				}
			}
			if at, _ := body["at"].(string); !strings.HasSuffix(at, "Z") {
				t.Errorf("at %q is not UTC", at)
			} else if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
				t.Errorf("at: %v", err)
			}
			actor, _ := body["actor"].(map[string]any)
			switch actor["kind"] {
			case "system":
				if len(actor) != 1 {
					t.Errorf("system actor %v", actor)
				}
			case "license":
				if id, _ := actor["id"].(string); id == "" || len(actor) != 2 {
					t.Errorf("license actor %v", actor)
				}
			default:
				t.Errorf("actor %v", actor)
			}
			data, _ := body["data"].(map[string]any)
			changes, ok := data["changes"].(map[string]any)
			if !ok {
				t.Fatalf("data has no changes: %s", raw)
			}
			for field, c := range changes {
				m, _ := c.(map[string]any)
				_, hasFrom := m["from"]
				_, hasTo := m["to"]
				if len(m) != 2 || !hasFrom || !hasTo {
					t.Errorf("changes.%s = %v, want {from, to}", field, c)
				}
			}
			switch typ {
			case domain.TokenIssued:
				if s, _ := data["secretSha256"].(string); !sha256RE.MatchString(s) {
					t.Errorf("secretSha256 %q", s)
				}
				for _, f := range []string{"name", "note", "expirationDate", "status", "modelId"} {
					if m, _ := changes[f].(map[string]any); m == nil || m["from"] != nil || m["to"] == nil {
						t.Errorf("TokenIssued changes.%s = %v, want from null", f, changes[f])
					}
				}
			case domain.TokenDeleted:
				if len(changes) != 0 {
					t.Errorf("TokenDeleted changes %v, want {}", changes)
				}
			case domain.AccountCreated:
				if s, _ := data["licenseSha256"].(string); !sha256RE.MatchString(s) || data["licenseId"] != "lic-0001" || actor["kind"] != "system" {
					t.Errorf("AccountCreated data %v actor %v", data, actor)
				}
			case domain.ModelRegistered:
				if len(changes) != 2 || changes["modelId"] == nil || changes["modelName"] == nil || data["modelId"] != "mdl-1" {
					t.Errorf("ModelRegistered data %v", data)
				}
			case domain.TokenUpdated:
				if len(changes) < 2 {
					t.Errorf("TokenUpdated with %d changes", len(changes))
				}
			default:
				if len(changes) != 1 {
					t.Errorf("%s with %d changes, want 1", typ, len(changes))
				}
			}
		})
	}
}

func TestEventTypes(t *testing.T) {
	if len(domain.AllEventTypes) != 15 {
		t.Errorf("%d event types, want 15", len(domain.AllEventTypes))
	}
	seen := map[domain.EventType]bool{}
	var account []domain.EventType
	for _, typ := range domain.AllEventTypes {
		if seen[typ] {
			t.Errorf("%s twice", typ)
		}
		seen[typ] = true
		if typ.IsAccountEvent() {
			account = append(account, typ)
		}
		e := domain.Event{Type: typ, TokenID: "tok"}
		if want := map[bool]string{true: domain.AccountSubject, false: "tok"}[typ.IsAccountEvent()]; e.Subject() != want {
			t.Errorf("%s subject %q, want %q", typ, e.Subject(), want)
		}
	}
	want := []domain.EventType{domain.AccountCreated, domain.LicenseIssued, domain.LicenseRevoked, domain.ModelRegistered}
	if !slices.Equal(account, want) {
		t.Errorf("account events %v, want %v", account, want)
	}
}
