package natsjs

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// viaJSON reads an acknowledgement the way jetstream's PublishMsg does.
func viaJSON(b []byte) (*jetstream.PubAck, error) {
	var r struct {
		Error *jetstream.APIError `json:"error,omitempty"`
		*jetstream.PubAck
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, jetstream.ErrInvalidJSAck
	}
	if r.Error != nil {
		return nil, r.Error
	}
	if r.PubAck == nil || r.PubAck.Stream == "" {
		return nil, jetstream.ErrInvalidJSAck
	}
	return r.PubAck, nil
}

// TestParsePubAck: the usual acknowledgements are read without
// encoding/json and as encoding/json reads them; errors and unusual shapes
// go to encoding/json.
func TestParsePubAck(t *testing.T) {
	for _, c := range []struct {
		in   string
		fast bool
	}{
		{`{"stream":"TOKEN_EVENTS","seq":1}`, true},
		{`{"stream":"TOKEN_EVENTS","seq":18446744073709551615}`, false}, // 20 digits: encoding/json's
		{`{"stream":"TOKEN_EVENTS","seq":1234567890123456789}`, true},
		{`{"stream":"TOKEN_EVENTS","seq":42,"duplicate":true}`, true},
		{`{"stream":"TOKEN_EVENTS","seq":42,"domain":"hub"}`, false},
		{`{"stream":"TOKEN_EVENTS","seq":042}`, false},
		{`{"stream":"TOKEN_EVENTS","seq":}`, false},
		{`{"stream":"TOK\"EN","seq":1}`, false},
		{`{"stream":"","seq":1}`, false},
		{`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"TOKEN_EVENTS","seq":0}`, false},
		{`{"seq":1,"stream":"TOKEN_EVENTS"}`, false},
		{`not json`, false},
	} {
		if _, ok := parseUsualPubAck([]byte(c.in)); ok != c.fast {
			t.Errorf("%s: read without encoding/json %v, want %v", c.in, ok, c.fast)
		}
		got, err := parsePubAck([]byte(c.in))
		want, wantErr := viaJSON([]byte(c.in))
		if !reflect.DeepEqual(got, want) || (err == nil) != (wantErr == nil) {
			t.Errorf("%s: got %+v, %v; want %+v, %v", c.in, got, err, want, wantErr)
		}
	}
	_, err := parsePubAck([]byte(`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}}`))
	if !isWrongLastSequence(err) {
		t.Errorf("a wrong-last-sequence refusal reads as %v", err)
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 400 {
		t.Errorf("the refusal is not a *jetstream.APIError: %v", err)
	}
}

// FuzzParsePubAck: whatever the server could answer, an acknowledgement
// read without encoding/json is the one encoding/json reads.
func FuzzParsePubAck(f *testing.F) {
	for _, s := range []string{`{"stream":"TOKEN_EVENTS","seq":1}`, `{"stream":"S","seq":42,"duplicate":true}`,
		`{"error":{"code":503,"description":"x"}}`, `{"stream":"a\u0041","seq":7}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parseUsualPubAck(b)
		if !ok {
			return
		}
		want, err := viaJSON(b)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: read %+v without encoding/json; encoding/json reads %+v, %v", b, got, want, err)
		}
	})
}
