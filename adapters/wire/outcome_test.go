package wire

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tokend/tokend/domain"
)

func outcomeViaEncodingJSON(t testing.TB, o Outcome) []byte {
	t.Helper()
	w := outcomeJSON{o.CommandID, o.Status, nil, o.Version, o.Sequence, o.Secret, o.Error}
	if o.TokenID != "" {
		w.TokenID = &o.TokenID
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOutcomeJSONIsEncodingJSONs: the hand-written encoding gives
// encoding/json's bytes, with and without each optional field, and for the
// strings encoding/json escapes.
func TestOutcomeJSONIsEncodingJSONs(t *testing.T) {
	for _, s := range []string{"", "plain", `"q" \b`, "<&>", "\x00\x1f\n\u2028\xff é"} {
		for _, o := range []Outcome{
			{CommandID: s, Status: StatusAccepted, TokenID: s, Version: 3, Sequence: 1 << 62, Secret: s},
			{CommandID: s, Status: s, Version: -1},
			Rejected(s, s, domain.Invalid("name", "must not be %q", s)),
			{Error: &ErrorBody{}},
		} {
			got, err := o.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if want := outcomeViaEncodingJSON(t, o); !bytes.Equal(got, want) {
				t.Fatalf("MarshalJSON:\n got %s\nwant %s", got, want)
			}
		}
	}
}

// FuzzOutcomeJSON: any strings and numbers encode as encoding/json encodes
// them.
func FuzzOutcomeJSON(f *testing.F) {
	f.Add("6f0e1f4c-4a59-4c36-9a35-7d8a3b9d2a10", "t", "tkn_x", "m", int64(2), uint64(9), true)
	f.Fuzz(func(t *testing.T, id, token, secret, msg string, version int64, seq uint64, rejected bool) {
		o := Outcome{CommandID: id, Status: StatusAccepted, TokenID: token, Version: version, Sequence: seq, Secret: secret}
		if rejected {
			o.Status, o.Error = StatusRejected, &ErrorBody{Code: domain.Code(msg), Message: msg}
		}
		got, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if want := outcomeViaEncodingJSON(t, o); !bytes.Equal(got, want) {
			t.Fatalf("MarshalJSON:\n got %s\nwant %s", got, want)
		}
	})
}
