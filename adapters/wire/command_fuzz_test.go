package wire

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tokend/tokend/domain"
)

// FuzzNATSCommand feeds any subject tail and body to the NATS intake's
// parsing, as a publisher on tokens.commands.<Type> could: CommandType,
// DecodeEnvelope, then DecodeData for the type. Nothing panics; a body that
// is not a command is ErrMalformed; every other refusal is an
// invalid_argument that names a field (data.<field> for the data), the
// same from the envelope's DecodeData as from DecodeData; an accepted
// envelope has a command id and a data object, and accepted data
// yields a command body of the subject's type.
func FuzzNATSCommand(f *testing.F) {
	id := "3b241101-e2bb-4255-8caf-4136c566a962"
	for _, seed := range []struct{ typ, body string }{
		{"IssueToken", `{"commandId":"` + id + `","data":{"name":"alice","expirationDate":1900000000}}`},
		{"IssueToken", `{"commandId":"` + id + `","data":{"name":"a","note":null,"expirationDate":"1900000000","modelId":"m"}}`},
		{"RenameToken", `{"commandId":"` + id + `","tokenId":"t1","expectedVersion":3,"data":{"name":"bob"}}`},
		{"ChangeNote", `{"commandId":"` + id + `","tokenId":"t1","data":{"note":null}}`},
		{"ChangeExpiration", `{"commandId":"` + id + `","tokenId":"t1","data":{"expirationDate":1.5}}`},
		{"AssignModel", `{"commandId":"` + id + `","tokenId":"t1","data":{"modelId":"m1"}}`},
		{"UpdateToken", `{"commandId":"` + id + `","tokenId":"t1","data":{"status":"cancelled","modelId":null}}`},
		{"CancelToken", `{"commandId":"` + id + `","tokenId":"t1","data":{}}`},
		{"DeleteToken", `{"commandId":"` + id + `","tokenId":"","data":{}}`},
		{"SuspendToken", `{"commandId":"not-a-uuid","data":{}}`},
		{"Nope", `{"commandId":"` + id + `","data":{"x":1}}`},
		{"UnassignModel", `{"commandId":"` + id + `","data":[]}`},
		{"ReactivateToken", `{"data":{}}`},
		{"IssueToken", `[]`}, {"IssueToken", ``}, {"IssueToken", `{} {}`}, {"IssueToken", "{\"commandId\":\"\xff\"}"},
	} {
		f.Add(seed.typ, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, typeName string, body []byte) {
		env, err := DecodeEnvelope(body)
		if err != nil {
			if errors.Is(err, ErrMalformed) {
				if env.CommandID != uuid.Nil {
					t.Fatalf("a malformed body with command id %s", env.CommandID)
				}
			}
			requireNamedRefusal(t, body, err, "")
			return
		}
		if env.CommandID == uuid.Nil || len(env.Data) == 0 || env.Data[0] != '{' {
			t.Fatalf("accepted envelope %+v of %q", env, body)
		}
		typ, ok := CommandType(typeName)
		if !ok {
			return
		}
		cmd, err := DecodeData(typ, env.Data)
		// The envelope's DecodeData skips the scan for valid JSON that
		// DecodeEnvelope already made: it must answer the same.
		if cmd2, err2 := env.DecodeData(typ); !reflect.DeepEqual(cmd2, cmd) || fmt.Sprint(err2) != fmt.Sprint(err) {
			t.Fatalf("%s %q: env.DecodeData = %#v, %v; DecodeData = %#v, %v", typ, body, cmd2, err2, cmd, err)
		}
		if err != nil {
			requireNamedRefusal(t, body, err, "data")
			return
		}
		if cmd == nil {
			t.Fatalf("%s: no command body and no error for %q", typ, body)
		}
		probe := domain.Command{ID: env.CommandID, AccountID: "a", TokenID: "t", Body: cmd}
		if probe.Type() != typ {
			t.Fatalf("data of a %s decoded as a %s", typ, probe.Type())
		}
	})
}

// requireNamedRefusal fails unless err is an invalid_argument whose field
// starts with prefix (any field when prefix is "").
func requireNamedRefusal(t *testing.T, body []byte, err error, prefix string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeInvalidArgument {
		t.Fatalf("refusal of %q is not an invalid_argument: %v", body, err)
	}
	if prefix != "" && !strings.HasPrefix(de.Field, prefix) {
		t.Fatalf("refusal of the data of %q names %q, not a %s field: %v", body, de.Field, prefix, err)
	}
}
