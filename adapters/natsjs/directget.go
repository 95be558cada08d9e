package natsjs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// loadBatch is how many messages one direct-get request asks for. A token
// has a handful of events; an account subject grows with its models and
// licenses. The server also stops a batch at its max_pending bytes; either
// way the end-of-batch marker says how many remain and directScan asks again.
const loadBatch = 256

// defaultRequestTimeout bounds a request whose context has no deadline,
// when the JetStream context has no default timeout of its own.
const defaultRequestTimeout = 5 * time.Second

// apiPrefix returns the JetStream API prefix js sends requests to,
// "$JS.API." unless js was made for a domain or with another prefix.
func apiPrefix(js jetstream.JetStream) string {
	o := js.Options()
	if o.Domain != "" {
		return "$JS." + o.Domain + ".API."
	}
	p := o.APIPrefix
	if p == "" {
		p = jetstream.DefaultAPIPrefix
	}
	if !strings.HasSuffix(p, ".") {
		p += "."
	}
	return p
}

// withTimeout gives ctx the store's request timeout unless it has a
// deadline already.
func (s *EventStore) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

type directGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	Batch   int    `json:"batch,omitempty"`
}

// directScan calls fn, in stream order, for every message on the literal
// subject with a sequence of at least from, through the stream's batched
// direct get ($JS.API.DIRECT.GET.<stream>, nats-server 2.11+). The server
// answers a batch with the messages (their stored headers plus
// Nats-Sequence and friends), then a "204 EOB" status carrying
// Nats-Num-Pending, or with a single "404" when no message matches.
func (s *EventStore) directScan(ctx context.Context, subject string, from uint64, fn func(seq uint64, m *nats.Msg) error) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	w, err := s.mux.register(s.nc)
	if err != nil {
		return fmt.Errorf("direct get: %w", err)
	}
	defer s.mux.release(w)

	for {
		req, err := json.Marshal(directGetRequest{Seq: max(from, 1), NextFor: subject, Batch: loadBatch})
		if err != nil {
			return err
		}
		if err := s.nc.PublishRequest(s.directGet, w.inbox, req); err != nil {
			return fmt.Errorf("direct get: %w", err)
		}
		more, err := readBatch(ctx, w.ch, &from, fn)
		if err != nil || !more {
			return err
		}
	}
}

// readBatch consumes one batch's answers; more reports that the server
// stopped before the end of the subject.
func readBatch(ctx context.Context, ch <-chan *nats.Msg, from *uint64, fn func(seq uint64, m *nats.Msg) error) (more bool, err error) {
	for got := 0; ; got++ {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return false, fmt.Errorf("direct get: %w", ctx.Err())
		}
		switch status := m.Header.Get("Status"); status {
		case "":
			seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
			if err != nil {
				return false, fmt.Errorf("direct get: message without a valid %s header", jetstream.SequenceHeader)
			}
			if err := fn(seq, m); err != nil {
				return false, err
			}
			*from = seq + 1
		case "204": // end of batch
			pending, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return pending > 0 && got > 0, nil
		case "404": // nothing (more) on the subject
			return false, nil
		case "503":
			return false, fmt.Errorf("direct get on %s: no responders (is the stream missing, or allow_direct off?)", EventsStream)
		default:
			return false, fmt.Errorf("direct get on %s: status %s %s", EventsStream, status, m.Header.Get("Description"))
		}
	}
}

// leaderGet reads, through the stream leader's STREAM.MSG.GET API (never a
// lagging replica), the message at seq or, with subject set, the first
// message on subject at or after seq. It returns nil when there is none.
func (s *EventStore) leaderGet(ctx context.Context, seq uint64, subject string) (*rawMsg, error) {
	return s.leaderRequest(ctx, directGetRequest{Seq: seq, NextFor: subject})
}

// leaderRequest sends one message-get request to the stream leader; a nil
// message and nil error mean there is none.
func (s *EventStore) leaderRequest(ctx context.Context, get directGetRequest) (*rawMsg, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	seq := get.Seq
	req, err := json.Marshal(get)
	if err != nil {
		return nil, err
	}
	resp, err := s.nc.RequestWithContext(ctx, s.msgGet, req)
	if err != nil {
		return nil, fmt.Errorf("get message %d from %s: %w", seq, EventsStream, err)
	}
	var r struct {
		Error   *jetstream.APIError `json:"error"`
		Message *struct {
			Subject  string `json:"subject"`
			Sequence uint64 `json:"seq"`
			Header   []byte `json:"hdrs"`
			Data     []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return nil, fmt.Errorf("get message %d from %s: %w", seq, EventsStream, err)
	}
	if r.Error != nil {
		if r.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("get message %d from %s: %w", seq, EventsStream, r.Error)
	}
	if r.Message == nil {
		return nil, fmt.Errorf("get message %d from %s: empty answer", seq, EventsStream)
	}
	m := &rawMsg{Subject: r.Message.Subject, Sequence: r.Message.Sequence, Data: r.Message.Data}
	if len(r.Message.Header) > 0 {
		if m.Header, err = nats.DecodeHeadersMsg(r.Message.Header); err != nil {
			return nil, fmt.Errorf("get message %d from %s: headers: %w", seq, EventsStream, err)
		}
	}
	return m, nil
}

// rawMsg is a stored message as leaderGet returns it.
type rawMsg struct {
	Subject  string
	Sequence uint64
	Header   nats.Header
	Data     []byte
}
