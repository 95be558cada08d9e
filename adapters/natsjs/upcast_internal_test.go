package natsjs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tokend/tokend/domain"
)

// v1ToV2 is the kind of step docs/events.md describes, for a version 2 this
// build does not have: it renames TokenIssued's data.secretHint to
// data.secretPrefix and leaves every other type as it was.
func v1ToV2(body map[string]json.RawMessage) error {
	var typ string
	if err := json.Unmarshal(body["type"], &typ); err != nil {
		return err
	}
	if typ != string(domain.TokenIssued) {
		return nil
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(body["data"], &data); err != nil {
		return err
	}
	if hint, ok := data["secretHint"]; ok {
		data["secretPrefix"] = hint
		delete(data, "secretHint")
	}
	b, err := json.Marshal(data)
	body["data"] = b
	return err
}

func golden(t *testing.T, typ domain.EventType) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "domain", "testdata", "golden", string(typ)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A body at the version this build writes passes through untouched, byte
// for byte, and decodes like plain encoding/json would.
func TestUpcastCurrentVersionIsIdentity(t *testing.T) {
	for _, typ := range domain.AllEventTypes {
		in := golden(t, typ)
		out, err := Upcast(in)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if &out[0] != &in[0] {
			t.Errorf("%s: a current body was copied or rewritten", typ)
		}
		var want domain.Event
		if err := json.Unmarshal(in, &want); err != nil {
			t.Fatal(err)
		}
		got, err := DecodeEvent(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: DecodeEvent = %+v, %v; want %+v", typ, got, err, want)
		}
	}
}

// A chain of steps lifts an old body to the target version, one version at a
// time, and stamps each version it reaches.
func TestUpcastLiftsVersion1(t *testing.T) {
	steps := map[int]upcaster{1: v1ToV2}
	out, err := upcast(golden(t, domain.TokenIssued), 2, steps)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		SchemaVersion int                        `json:"schemaVersion"`
		Data          map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(out, &body); err != nil {
		t.Fatal(err)
	}
	if body.SchemaVersion != 2 || string(body.Data["secretPrefix"]) != `"tkn_dHMO"` || body.Data["secretHint"] != nil {
		t.Fatalf("upcast TokenIssued to 2: %s", out)
	}
	// Other types are only restamped.
	out, err = upcast(golden(t, domain.TokenRenamed), 2, steps)
	if err != nil || !strings.Contains(string(out), `"schemaVersion":2`) || !strings.Contains(string(out), `"Mobile app (iOS)"`) {
		t.Fatalf("upcast TokenRenamed to 2: %s, %v", out, err)
	}
}

func TestUpcastRefuses(t *testing.T) {
	v1 := golden(t, domain.TokenRenamed)
	with := func(v string) []byte {
		return []byte(strings.Replace(string(v1), `"schemaVersion":1`, `"schemaVersion":`+v, 1))
	}
	cases := []struct {
		name   string
		data   []byte
		target int
		steps  map[int]upcaster
		want   string
	}{
		{"newer than the reader", with("2"), 1, nil, "unsupported schemaVersion 2"},
		{"a gap in the chain", v1, 3, map[int]upcaster{1: v1ToV2}, "no upcaster from schemaVersion 2 to 3"},
		{"a failing step", v1, 2, map[int]upcaster{1: func(map[string]json.RawMessage) error { return os.ErrInvalid }}, "upcast schemaVersion 1 to 2"},
		{"null", with("null"), 1, nil, "no schemaVersion"},
		{"negative", with("-1"), 1, nil, "unsupported schemaVersion -1"},
		{"fraction", with("1.5"), 1, nil, "unsupported schemaVersion 1.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := upcast(c.data, c.target, c.steps)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("upcast: %v, want an error containing %q", err, c.want)
			}
		})
	}
}
