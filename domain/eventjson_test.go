package domain

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
)

// viaEncodingJSON is what MarshalJSON wrote before it wrote by hand.
func viaEncodingJSON(t testing.TB, e Event) []byte {
	t.Helper()
	b, err := json.Marshal(eventJSON{e.ID, e.Type, e.SchemaVersion, e.AccountID, e.TokenID, e.CommandID, e.Actor, FormatTime(e.At), e.Data})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameEncoding(t testing.TB, e Event) {
	t.Helper()
	got, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := viaEncodingJSON(t, e); !bytes.Equal(got, want) {
		t.Fatalf("MarshalJSON:\n got %s\nwant %s", got, want)
	}
}

// TestEventJSONIsEncodingJSONs: the hand-written encoding gives
// encoding/json's bytes for every field, present or absent, and for the
// strings encoding/json escapes.
func TestEventJSONIsEncodingJSONs(t *testing.T) {
	at := time.Date(2026, 11, 27, 5, 0, 0, 120000000, time.UTC)
	s := func(v string) *string { return &v }
	n := func(v int64) *int64 { return &v }
	st := func(v Status) *Status { return &v }
	base := Event{
		ID: uuid.MustParse("0b8f3c2e-7d7b-4e42-8f6c-1c2d3e4f5a6b"), Type: TokenRenamed, SchemaVersion: 1,
		AccountID: "acme", TokenID: "t1", CommandID: uuid.MustParse("6f0e1f4c-4a59-4c36-9a35-7d8a3b9d2a10"),
		Actor: Actor{Kind: ActorLicense, ID: "lic-1"}, At: at,
	}
	for _, str := range []string{"", "plain", `"quoted" \back\`, "<b>&amp;</b>", "tab\tnl\ncr\rbs\bff\f\x00\x1f\x7f",
		"line\u2028para\u2029", "bad\xffutf8\xc3", "emoji 🙂 é", "\u0085next"} {
		e := base
		e.TokenID = str
		e.Actor.ID = str
		e.Data = EventData{
			Changes: Changes{
				Name: &Change[string]{From: s(str), To: s("new " + str)}, Note: &Change[string]{From: nil, To: s(str)},
				ExpirationDate: &Change[int64]{From: n(-5), To: nil}, Status: &Change[Status]{From: st(StatusActive), To: st(Status(str))},
				ModelID: &Change[string]{From: s(str)}, LicenseID: &Change[string]{To: s(str)}, ModelName: &Change[string]{},
			},
			SecretSha256: str, SecretHint: str, LicenseID: str, LicenseSha256: str, ModelID: str,
		}
		sameEncoding(t, e)
		e.Data.Changes = Changes{Status: &Change[Status]{}}
		sameEncoding(t, e)
	}
	sameEncoding(t, base) // no changes, no optional fields
	e := base
	e.At = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	e.Actor = Actor{Kind: ActorSystem}
	e.SchemaVersion = 12
	sameEncoding(t, e)
}

// FuzzEventJSON: any strings, numbers and choice of changes encode as
// encoding/json encodes them.
func FuzzEventJSON(f *testing.F) {
	f.Add("acme", "t1", "lic", "name", "note", int64(1798761600), uint8(0xff), "<&>\u2028\xff")
	f.Add("", "", "", "", "", int64(-1), uint8(0), "")
	f.Fuzz(func(t *testing.T, acct, tok, actor, name, note string, exp int64, which uint8, extra string) {
		s := func(v string) *string { return &v }
		e := Event{ID: uuid.NewSHA1(uuid.Nil, []byte(name)), Type: EventType(extra), SchemaVersion: int(which),
			AccountID: acct, TokenID: tok, CommandID: uuid.NewSHA1(uuid.Nil, []byte(note)),
			Actor: Actor{Kind: extra, ID: actor}, At: time.Unix(exp%(1<<40), exp%1e9).UTC()}
		c := &e.Data.Changes
		if which&1 != 0 {
			c.Name = &Change[string]{From: s(name), To: s(extra)}
		}
		if which&2 != 0 {
			c.Note = &Change[string]{To: s(note)}
		}
		if which&4 != 0 {
			c.ExpirationDate = &Change[int64]{From: &exp}
		}
		if which&8 != 0 {
			v := Status(extra)
			c.Status = &Change[Status]{To: &v}
		}
		if which&16 != 0 {
			c.ModelID = &Change[string]{From: s(actor), To: s(tok)}
		}
		if which&32 != 0 {
			c.LicenseID, c.ModelName = &Change[string]{To: s(acct)}, &Change[string]{From: s(note)}
		}
		if which&64 != 0 {
			e.Data.SecretSha256, e.Data.SecretHint, e.Data.LicenseID = name, note, extra
		}
		if which&128 != 0 {
			e.Data.LicenseSha256, e.Data.ModelID = actor, acct
		}
		sameEncoding(t, e)
	})
}

func BenchmarkEventMarshalJSON(b *testing.B) {
	name, to := "old name", "new name"
	e := Event{ID: uuid.New(), Type: TokenRenamed, SchemaVersion: 1, AccountID: "6f0e1f4c-4a59-4c36-9a35-7d8a3b9d2a10",
		TokenID: "0b8f3c2e-7d7b-4e42-8f6c-1c2d3e4f5a6b", CommandID: uuid.New(), Actor: Actor{Kind: ActorLicense, ID: "0b8f3c2e-7d7b-4e42-8f6c-1c2d3e4f5a6c"},
		At: time.Now(), Data: EventData{Changes: Changes{Name: &Change[string]{From: &name, To: &to}}}}
	b.Run("by-hand", func(b *testing.B) {
		for b.Loop() {
			_, _ = e.MarshalJSON()
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			viaEncodingJSON(b, e)
		}
	})
}
