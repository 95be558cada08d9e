package sdk

import (
	"encoding/json"
	"testing"
)

func TestTokenRoundTripsTheWireForm(t *testing.T) {
	const wire = `{"id":"t1","name":"alice","note":null,"expirationDate":1900000000,"status":"ACTIVE","expired":false,"modelId":null,"modelName":null,"secretHint":"tkn_AbCd","createdAt":1800000000,"updatedAt":1800000001,"version":3}`
	var tok Token
	if err := json.Unmarshal([]byte(wire), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.Note != "" || tok.ModelID != "" || tok.Version != 3 || tok.Status != StatusActive || tok.Expires().Unix() != 1900000000 {
		t.Errorf("decoded %+v", tok)
	}
	b, err := json.Marshal(tok)
	if err != nil || string(b) != wire {
		t.Errorf("encoded %s (%v)\nwant    %s", b, err, wire)
	}
	tok.Note, tok.ModelID, tok.ModelName = "vip", "m1", "gpt"
	b, _ = json.Marshal(tok)
	var back Token
	if err := json.Unmarshal(b, &back); err != nil || back != tok {
		t.Errorf("round trip %+v (%v), want %+v", back, err, tok)
	}
}

func TestAuditChangeKeepsNullAndRawValues(t *testing.T) {
	var e AuditEntry
	err := json.Unmarshal([]byte(`{"sequence":9,"eventId":"e","type":"TokenNoteChanged","tokenId":"t1",
		"at":"2026-11-26T21:00:00.123456789Z","actor":{"kind":"license","id":"l1"},"commandId":"c",
		"changes":{"note":{"from":null,"to":"vip"},"expirationDate":{"from":1,"to":2}}}`), &e)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.Changes["note"]; string(n.From) != "null" || string(n.To) != `"vip"` {
		t.Errorf("note change = %s -> %s", n.From, n.To)
	}
	if x := e.Changes["expirationDate"]; string(x.From) != "1" || string(x.To) != "2" {
		t.Errorf("expiration change = %s -> %s", x.From, x.To)
	}
}

func TestInactiveIntrospectionSaysNothingElse(t *testing.T) {
	b, _ := json.Marshal(Introspection{Name: "ignored"})
	if string(b) != `{"active":false}` {
		t.Errorf("encoded %s", b)
	}
	const active = `{"active":true,"id":"t1","name":"alice","expirationDate":1900000000,"status":"ACTIVE","expired":false,"modelId":null,"modelName":null,"createdAt":1,"updatedAt":2}`
	var in Introspection
	if err := json.Unmarshal([]byte(active), &in); err != nil || !in.Active || in.Name != "alice" {
		t.Fatalf("decoded %+v, %v", in, err)
	}
	if b, _ = json.Marshal(in); string(b) != active {
		t.Errorf("encoded %s\nwant    %s", b, active)
	}
}

func TestPagesMarshalNullCursorAndEmptyList(t *testing.T) {
	b, _ := json.Marshal(Page{})
	if string(b) != `{"tokens":[],"nextCursor":null}` {
		t.Errorf("Page = %s", b)
	}
	b, _ = json.Marshal(AuditPage{NextCursor: "x"})
	if string(b) != `{"entries":[],"nextCursor":"x"}` {
		t.Errorf("AuditPage = %s", b)
	}
}
