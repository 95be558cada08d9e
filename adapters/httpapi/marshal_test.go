package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tokend/tokend/projections"
)

// marshalJSON calls a json.Marshaler directly; the answer must stay the
// bytes the Encoder wrote before, so clients see no change.
func TestMarshalJSONOfAMarshalerIsTheEncoders(t *testing.T) {
	model := "m <1> & co"
	for _, v := range []any{
		projections.Introspection{Active: false},
		projections.Introspection{Active: true, View: &projections.EndUserView{ID: "t1", Name: `<b>"x"</b> & ü`, Status: "ACTIVE", ModelName: &model}},
		projections.Introspection{Active: true, View: &projections.EndUserView{}},
	} {
		got, err := marshalJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("\n got %s\nwant %s", got, want.Bytes())
		}
	}
}
