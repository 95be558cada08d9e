package projections

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tokend/tokend/domain"
)

// TestWireDecodeMatchesEncodingJSON holds the fast event decoder to
// encoding/json: on every body tokend writes it must take the fast path and
// decode the same value, and on anything odd it must fall back and so still
// decode the same value (or fail the same way).
func TestWireDecodeMatchesEncodingJSON(t *testing.T) {
	var bodies [][]byte
	capture := func(e domain.Event) uint64 {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
		return uint64(len(bodies))
	}
	scenario(t, capture)
	for _, e := range historyEvents("h", 20, 11) {
		_ = capture(e)
	}
	for _, b := range bodies {
		var fast wireEvent
		s := jsonScanner{b: b}
		if !s.event(&fast) || !s.end() {
			t.Fatalf("fast path refused %s", b)
		}
		var slow wireEvent
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast %+v\nslow %+v\nof %s", fast, slow, b)
		}
	}

	odd := []string{
		`{"id":"0d7c4d6e-6a1e-5d2f-9a43-0c4f1f1f1f1f","type":"TokenRenamed","schemaVersion":1,"accountId":"a","tokenId":"t","commandId":"0d7c4d6e-6a1e-5d2f-9a43-0c4f1f1f1f10","actor":{"kind":"license","id":"l"},"at":"2026-11-26T21:00:00.123456789Z","data":{"changes":{"name":{"from":"a \"quoted\" \u00e9","to":"b\\c"}}}}`,
		`{"ID":"0d7c4d6e-6a1e-5d2f-9a43-0c4f1f1f1f1f","Type":"TokenIssued","schemaVersion":1}`,
		`{"type":"TokenIssued","schemaVersion":1,"extra":{"nested":[1,2,{"x":null}],"b":true,"f":false},"data":{"changes":{"expirationDate":{"from":null,"to":1800000000},"future":{"from":1}},"newField":"x"}}`,
		`{"type":"TokenIssued","schemaVersion":1.0}`,
		`{"type":"TokenIssued","schemaVersion":2,"data":{"changes":{"status":{"from":"ACTIVE","to":"SUSPENDED"},"name":null}}}`,
		`{"type":"TokenIssued","schemaVersion":1} trailing`,
		`{"type":"TokenIssued","schemaVersion":1,"data":{"changes":{"expirationDate":{"to":1e9}}}}`,
		`{"type":"TokenIssued","schemaVersion":1,"data":{"changes":{"expirationDate":{"to":"17"}}}}`,
		`{"type":"Tok` + "\xff" + `","schemaVersion":1}`,
		`{"type":"TokenIssued","schemaVersion":01}`,
		`{"id":"","schemaVersion":1}`,
		`{"id":null,"actor":null,"data":null,"schemaVersion":null}`,
		` {"type" : "TokenIssued" , "schemaVersion" : 1 } `,
		`null`,
		`[]`,
		``,
		`{"schemaVersion":99999999999999999999}`,
		`{"data":{"changes":{"name":{"from":"a","to":"b"},"name":{"to":"c"}}}}`,
	}
	for _, in := range odd {
		var got, want wireEvent
		gotErr := unmarshalWire([]byte(in), &got)
		wantErr := json.Unmarshal([]byte(in), &want)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v, %v\nwant %+v, %v", in, got, gotErr, want, wantErr)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	evs := historyEvents("bench", 100, 10)
	bodies := make([][]byte, len(evs))
	for i, e := range evs {
		bodies[i], _ = json.Marshal(e)
	}
	b.Run("fast", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := decodeEvent(1, bodies[i%len(bodies)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var w wireEvent
			if err := json.Unmarshal(bodies[i%len(bodies)], &w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzUnmarshalWire: whatever the input, the fast decoder and
// encoding/json agree.
func FuzzUnmarshalWire(f *testing.F) {
	for _, e := range historyEvents("f", 2, 6) {
		b, _ := json.Marshal(e)
		f.Add(b)
	}
	f.Add([]byte(`{"data":{"changes":{"name":{"from":"a\u00e9","to":null}}},"x":[1,{"y":"z"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got, want wireEvent
		gotErr := unmarshalWire(b, &got)
		wantErr := json.Unmarshal(b, &want)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %+v, %v\nwant %+v, %v", b, got, gotErr, want, wantErr)
		}
	})
}
