package wire_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
)

const cmdID = "3b241101-e2bb-4255-8caf-4136c566a962"

func TestDecodeEnvelope(t *testing.T) {
	v := int64(3)
	ok := []struct {
		name string
		body string
		want wire.Envelope
	}{
		{"issue", `{"commandId":"` + cmdID + `","data":{"name":"a"}}`,
			wire.Envelope{CommandID: uuid.MustParse(cmdID), Data: json.RawMessage(`{"name":"a"}`)}},
		{"upper-case id, token, version", `{"commandId":"` + strings.ToUpper(cmdID) + `","tokenId":"t1","expectedVersion":3,"data":{}}`,
			wire.Envelope{CommandID: uuid.MustParse(cmdID), TokenID: "t1", ExpectedVersion: &v, Data: json.RawMessage(`{}`)}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			got, err := wire.DecodeEnvelope([]byte(c.body))
			// Only what a caller sees: not whether Data was scanned already.
			got = wire.Envelope{CommandID: got.CommandID, TokenID: got.TokenID, ExpectedVersion: got.ExpectedVersion, Data: got.Data}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("DecodeEnvelope = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}

	malformed := []string{
		``, `null`, `[]`, `"x"`, `{`, `{"commandId":"` + cmdID + `","data":{}} {}`, "{\"commandId\":\"\xff\"}",
		`{"data":{}}`, `{"commandId":"nope","data":{}}`, `{"commandId":42,"data":{}}`,
		`{"commandId":"{` + cmdID + `}","data":{}}`,
	}
	for _, body := range malformed {
		_, err := wire.DecodeEnvelope([]byte(body))
		if !errors.Is(err, wire.ErrMalformed) || domain.CodeOf(err) != domain.CodeInvalidArgument {
			t.Errorf("DecodeEnvelope(%q) = %v, want a malformed invalid_argument", body, err)
		}
	}

	invalid := []struct{ body, field string }{
		{`{"commandId":"` + cmdID + `"}`, "data"},
		{`{"commandId":"` + cmdID + `","data":[]}`, "data"},
		{`{"commandId":"` + cmdID + `","data":{},"extra":1}`, "extra"},
		{`{"commandId":"` + cmdID + `","data":{},"expectedVersion":-1}`, "expectedVersion"},
		{`{"commandId":"` + cmdID + `","data":{},"expectedVersion":1.5}`, "expectedVersion"},
		{`{"commandId":"` + cmdID + `","data":{},"tokenId":7}`, "tokenId"},
		{`{"commandId":"` + cmdID + `","data":{},"tokenId":""}`, "tokenId"},
		{`{"commandId":"` + cmdID + `","data":{},"data":{}}`, "data"},
	}
	for _, c := range invalid {
		env, err := wire.DecodeEnvelope([]byte(c.body))
		var de *domain.Error
		if errors.Is(err, wire.ErrMalformed) || !errors.As(err, &de) || de.Field != c.field || env.CommandID.String() != cmdID {
			t.Errorf("DecodeEnvelope(%s) = %+v, %v; want an invalid %s with the command id", c.body, env, err, c.field)
		}
	}
}

func TestDecodeData(t *testing.T) {
	m := "m1"
	ok := []struct {
		typ  domain.CommandType
		data string
		want domain.CommandBody
	}{
		{domain.CmdIssueToken, `{"name":" a ","note":null,"expirationDate":"1900000000","modelId":"m1"}`,
			domain.IssueToken{Name: " a ", ExpirationDate: 1900000000, ModelID: "m1"}},
		{domain.CmdRenameToken, `{"name":"b"}`, domain.RenameToken{Name: "b"}},
		{domain.CmdChangeNote, `{"note":null}`, domain.ChangeNote{}},
		{domain.CmdChangeNote, `{"note":"n"}`, domain.ChangeNote{Note: "n"}},
		{domain.CmdChangeExpiration, `{"expirationDate":1900000000}`, domain.ChangeExpiration{ExpirationDate: 1900000000}},
		{domain.CmdAssignModel, `{"modelId":"m1"}`, domain.AssignModel{ModelID: "m1"}},
		{domain.CmdUpdateToken, `{"status":"cancelled","modelId":"m1"}`,
			domain.UpdateToken{Status: domain.Some("CANCELED"), ModelID: domain.Some(&m)}},
		{domain.CmdSuspendToken, `{}`, domain.SuspendToken{}},
		{domain.CmdReactivateToken, `{}`, domain.ReactivateToken{}},
		{domain.CmdCancelToken, `{}`, domain.CancelToken{}},
		{domain.CmdUnassignModel, `{}`, domain.UnassignModel{}},
		{domain.CmdDeleteToken, ` {} `, domain.DeleteToken{}},
	}
	for _, c := range ok {
		got, err := wire.DecodeData(c.typ, json.RawMessage(c.data))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("DecodeData(%s, %s) = %#v, %v; want %#v", c.typ, c.data, got, err, c.want)
		}
	}
	if len(ok) < len(domain.TokenCommandTypes) {
		t.Fatalf("only %d of %d command types covered", len(ok), len(domain.TokenCommandTypes))
	}

	bad := []struct {
		typ        domain.CommandType
		data, want string
	}{
		{domain.CmdIssueToken, `{"name":"a"}`, "data.expirationDate: required"},
		{domain.CmdIssueToken, `{"name":"a","expirationDate":1,"status":"ACTIVE"}`, "data.status: cannot be set when issuing"},
		{domain.CmdRenameToken, `{}`, "data.name: required"},
		{domain.CmdRenameToken, `{"name":null}`, "data.name: must not be null"},
		{domain.CmdChangeNote, `{}`, "data.note: required"},
		{domain.CmdAssignModel, `{"modelId":""}`, "data.modelId: must name a model"},
		{domain.CmdUpdateToken, `{"status":"gone"}`, "data.status: must be one of"},
		{domain.CmdSuspendToken, `{"reason":"x"}`, "data.reason: unknown field"},
		{domain.CmdUpdateToken, `{"id":"x"}`, "data.id: is read-only"},
		{"Frobnicate", `{}`, "type: unknown command type"},
	}
	for _, c := range bad {
		_, err := wire.DecodeData(c.typ, json.RawMessage(c.data))
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.CodeInvalidArgument || !strings.HasPrefix(de.Message, c.want) || !strings.HasPrefix(de.Message, de.Field+": ") {
			t.Errorf("DecodeData(%s, %s) = %v, want %q…", c.typ, c.data, err, c.want)
		}
	}
}

func TestOutcomeJSON(t *testing.T) {
	cases := []struct {
		o    wire.Outcome
		want string
	}{
		{wire.Outcome{CommandID: cmdID, Status: wire.StatusAccepted, TokenID: "t", Version: 2, Sequence: 9, Secret: "tkn_x"},
			`{"commandId":"` + cmdID + `","status":"accepted","tokenId":"t","version":2,"sequence":9,"secret":"tkn_x"}`},
		{wire.Rejected(cmdID, "", domain.ErrUnauthenticated),
			`{"commandId":"` + cmdID + `","status":"rejected","tokenId":null,"version":0,"sequence":0,"error":{"code":"unauthenticated","message":"a valid license is required"}}`},
		{wire.Rejected(cmdID, "t", errors.New("nats: timeout")),
			`{"commandId":"` + cmdID + `","status":"rejected","tokenId":"t","version":0,"sequence":0,"error":{"code":"internal","message":"internal error"}}`},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.o)
		if err != nil || string(b) != c.want {
			t.Errorf("Marshal = %s, %v\nwant %s", b, err, c.want)
		}
		var back wire.Outcome
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, c.o) {
			t.Errorf("round trip of %s: %+v, %v", b, back, err)
		}
	}
}
