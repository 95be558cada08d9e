package natsjs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publish sends m to JetStream and returns its acknowledgement, as
// jetstream's PublishMsg does (a request, sent again twice after 250 ms
// when no stream answers, as a leader election can leave it), but reads the
// usual answer without encoding/json: an append's acknowledgement is
// {"stream":"TOKEN_EVENTS","seq":N} or the same with "duplicate":true, and
// json.Unmarshal of it was about 2.5 µs of every command. Any other answer
// (an error, a domain, fields a newer server adds) takes encoding/json.
func (s *EventStore) publish(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	resp, err := s.nc.RequestMsgWithContext(ctx, m)
	for r := 0; errors.Is(err, nats.ErrNoResponders) && r < jetstream.DefaultPubRetryAttempts; r++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(jetstream.DefaultPubRetryWait):
		}
		resp, err = s.nc.RequestMsgWithContext(ctx, m)
	}
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, jetstream.ErrNoStreamResponse
	}
	if err != nil {
		return nil, err
	}
	return parsePubAck(resp.Data)
}

// parsePubAck reads a JetStream publish acknowledgement.
func parsePubAck(b []byte) (*jetstream.PubAck, error) {
	if ack, ok := parseUsualPubAck(b); ok {
		return ack, nil
	}
	var r struct {
		Error *jetstream.APIError `json:"error,omitempty"`
		*jetstream.PubAck
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, jetstream.ErrInvalidJSAck
	}
	if r.Error != nil {
		return nil, fmt.Errorf("nats: %w", r.Error)
	}
	if r.PubAck == nil || r.PubAck.Stream == "" {
		return nil, jetstream.ErrInvalidJSAck
	}
	return r.PubAck, nil
}

// parseUsualPubAck reads {"stream":"<name>","seq":<digits>} and the same
// with ,"duplicate":true before the brace, exactly as the server writes
// them, for a name of letters, digits, '-' and '_' (as tokend's streams are
// named), and nothing else.
func parseUsualPubAck(b []byte) (*jetstream.PubAck, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"stream":"`))
	if !ok {
		return nil, false
	}
	end := 0
	for end < len(rest) && nameByte(rest[end]) {
		end++
	}
	if end == 0 {
		return nil, false
	}
	stream := rest[:end]
	rest, ok = bytes.CutPrefix(rest[end:], []byte(`","seq":`))
	if !ok {
		return nil, false
	}
	var seq uint64
	n := 0
	for ; n < len(rest) && n < 20 && rest[n] >= '0' && rest[n] <= '9'; n++ {
		seq = seq*10 + uint64(rest[n]-'0')
	}
	if n == 0 || n == 20 || (n > 1 && rest[0] == '0') {
		return nil, false
	}
	ack := &jetstream.PubAck{Stream: string(stream), Sequence: seq}
	switch string(rest[n:]) {
	case "}":
	case `,"duplicate":true}`:
		ack.Duplicate = true
	default:
		return nil, false
	}
	return ack, true
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
