package natsjs_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

func TestSubjects(t *testing.T) {
	tests := []struct{ got, want string }{
		{natsjs.EventSubject("acct", "tok"), "tokens.events.acct.tok"},
		{natsjs.EventSubject("acct", domain.AccountSubject), "tokens.events.acct.account"},
		{natsjs.AccountEventsFilter("acct"), "tokens.events.acct.>"},
		{natsjs.CommandSubject("IssueToken"), "tokens.commands.IssueToken"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestEncodeDecodeEvent(t *testing.T) {
	ev := renamed("acct", "tok", uuid.New(), "old", "new")
	ev.At = time.Date(2026, 11, 26, 22, 0, 0, 5, time.FixedZone("CET", 3600))

	b, err := natsjs.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"at":"2026-11-26T21:00:00.000000005Z"`) {
		t.Errorf("body %s: at not in UTC", b)
	}
	if !strings.Contains(string(b), `"data":{"changes":{"name":{"from":"old","to":"new"}}}`) {
		t.Errorf("body %s: unexpected data", b)
	}
	got, err := natsjs.DecodeEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	want := ev
	want.At = ev.At.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if h := natsjs.EventHeaders(ev).Get("ce-time"); h != "2026-11-26T21:00:00.000000005Z" {
		t.Errorf("ce-time %q", h)
	}

	withVersion := func(v any) []byte {
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if v == nil {
			delete(m, "schemaVersion")
		} else {
			m["schemaVersion"] = v
		}
		out, _ := json.Marshal(m)
		return out
	}
	bad := []struct {
		name string
		data []byte
		want string
	}{
		{"version 2", withVersion(2), "schemaVersion 2"},
		{"version 0", withVersion(0), "schemaVersion"},
		{"no version", withVersion(nil), "schemaVersion"},
		{"string version", withVersion("2"), `schemaVersion "2"`},
		{"not json", []byte("{"), "decode event"},
		{"array", []byte("[]"), "decode event"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := natsjs.DecodeEvent(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeEvent: %v, want an error naming %q", err, tc.want)
			}
		})
	}

	refuse := []struct {
		name string
		edit func(*domain.Event)
	}{
		{"no id", func(e *domain.Event) { e.ID = uuid.Nil }},
		{"no type", func(e *domain.Event) { e.Type = "" }},
		{"other schema", func(e *domain.Event) { e.SchemaVersion = 2 }},
	}
	for _, tc := range refuse {
		t.Run("encode "+tc.name, func(t *testing.T) {
			e := ev
			tc.edit(&e)
			if _, err := natsjs.EncodeEvent(e); err == nil {
				t.Fatal("EncodeEvent: no error")
			}
		})
	}
}

// EncodeEvent calls the event's MarshalJSON directly; its bytes must stay
// those of json.Marshal, HTML escaping and all, since the log already holds
// events written that way.
func TestEncodeEventIsJSONMarshal(t *testing.T) {
	for _, name := range []string{"plain", `<b>&"quoted"</b>`, "ünïcødé ✓", "line\u2028sep", "tab\tx"} {
		ev := renamed("acct", "tok", uuid.New(), "old", name)
		ev.At = ev.At.UTC()
		got, err := natsjs.EncodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%q:\n got %s\nwant %s", name, got, want)
		}
	}
}
