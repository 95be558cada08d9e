package natsjs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokend/tokend/domain"
)

// StoredEvent is an event with its stream sequence, which orders it among
// all events of all accounts.
type StoredEvent struct {
	Sequence uint64
	Event    domain.Event
}

// ErrConcurrentAppend means the subject moved on: the
// Nats-Expected-Last-Subject-Sequence of an append did not match the
// subject's last sequence, because another writer appended first. The
// caller reloads, decides again and retries (DESIGN.md decision 2).
var ErrConcurrentAppend = errors.New("concurrent append: the subject's last sequence is not the expected one")

// EventStore appends events to TOKEN_EVENTS and loads them back, one subject
// (a token, or an account's own events) at a time. It is safe for
// concurrent use. Besides the JetStream context it holds one wildcard reply
// subscription, made on the first Load, that lives as long as the
// connection. The zero EventStore is not usable: call NewEventStore.
type EventStore struct {
	js        jetstream.JetStream
	nc        *nats.Conn
	directGet string        // $JS.API.DIRECT.GET.TOKEN_EVENTS
	msgGet    string        // $JS.API.STREAM.MSG.GET.TOKEN_EVENTS (leader)
	timeout   time.Duration // for requests whose context has no deadline
	mux       inboxMux
}

// NewEventStore returns an event store over js, which must reach a server
// where EnsureStreams has run.
func NewEventStore(js jetstream.JetStream) *EventStore {
	prefix := apiPrefix(js)
	timeout := js.Options().DefaultTimeout
	if timeout <= 0 {
		timeout = defaultRequestTimeout
	}
	return &EventStore{
		timeout:   timeout,
		js:        js,
		nc:        js.Conn(),
		directGet: prefix + "DIRECT.GET." + EventsStream,
		msgGet:    prefix + "STREAM.MSG.GET." + EventsStream,
	}
}

// Append publishes ev as one message on EventSubject(ev.AccountID,
// ev.Subject()) with EventHeaders(ev) and Nats-Expected-Last-Subject-Sequence
// expectedLastSeq (0: the subject must be empty; the header is sent for 0
// too), and returns the event's stream sequence.
//
// duplicate is true when the event (by id) is already in the log; seq is
// then the original's sequence and nothing new was written. JetStream
// reports that itself within its duplicate window when the retry's expected
// sequence still holds. But a standalone (R1) nats-server v2.15 checks
// Nats-Expected-Last-Subject-Sequence BEFORE Nats-Msg-Id
// (stream.go processJetStreamMsg; a clustered stream checks the id first,
// jetstream_batching.go checkMsgHeadersPreClusteredProposal), so a retry
// whose first attempt did land carries a now-stale expected sequence and is
// refused as wrong last sequence rather than acknowledged as a duplicate.
// Append therefore answers every wrong-last-sequence refusal by looking, on
// the stream leader, for a message with this event id on the subject after
// expectedLastSeq: found, it reports a duplicate with that sequence (also
// after the duplicate window has passed); not found, an error wrapping
// ErrConcurrentAppend.
func (s *EventStore) Append(ctx context.Context, ev domain.Event, expectedLastSeq uint64) (seq uint64, duplicate bool, err error) {
	if err := validateSubject(ev.AccountID, ev.Subject()); err != nil {
		return 0, false, fmt.Errorf("append %s: %w", ev.Type, err)
	}
	body, err := EncodeEvent(ev)
	if err != nil {
		return 0, false, fmt.Errorf("append: %w", err)
	}
	subject := EventSubject(ev.AccountID, ev.Subject())
	hdr := EventHeaders(ev)
	hdr[HeaderExpectedSeq] = []string{strconv.FormatUint(expectedLastSeq, 10)}

	ack, err := s.publish(ctx, &nats.Msg{Subject: subject, Header: hdr, Data: body})
	if err != nil {
		if !isWrongLastSequence(err) {
			return 0, false, fmt.Errorf("append %s %s to %s: %w", ev.Type, ev.ID, subject, err)
		}
		orig, found, ferr := s.findMsgID(ctx, subject, ev.ID.String(), expectedLastSeq)
		if found {
			return orig, true, nil
		}
		if ferr != nil {
			return 0, false, fmt.Errorf("append %s %s to %s: %w (expected last sequence %d; looking for an earlier copy failed: %v)", ev.Type, ev.ID, subject, ErrConcurrentAppend, expectedLastSeq, ferr)
		}
		return 0, false, fmt.Errorf("append %s %s to %s: %w (expected last sequence %d; %v)", ev.Type, ev.ID, subject, ErrConcurrentAppend, expectedLastSeq, err)
	}
	if ack.Stream != EventsStream {
		return 0, false, fmt.Errorf("append %s %s: subject %s is bound to stream %s, not %s", ev.Type, ev.ID, subject, ack.Stream, EventsStream)
	}
	return ack.Sequence, ack.Duplicate, nil
}

// isWrongLastSequence reports whether err is JetStream's refusal of an
// expected last (subject) sequence: code 10071, or 10164 from replicated
// streams.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// findMsgID looks on the stream leader for a message on subject after
// sequence after whose Nats-Msg-Id is id. It reads from the leader, not
// through direct get, because a replica serving direct gets may not yet
// have the original that the leader just used to refuse the retry.
func (s *EventStore) findMsgID(ctx context.Context, subject, id string, after uint64) (uint64, bool, error) {
	for next := after + 1; ; {
		m, err := s.leaderGet(ctx, next, subject)
		if err != nil {
			return 0, false, err
		}
		if m == nil {
			return 0, false, nil
		}
		if m.Header.Get(HeaderMsgID) == id {
			return m.Sequence, true, nil
		}
		next = m.Sequence + 1
	}
}

// Load returns every event on one subject of one account — a token id, or
// domain.AccountSubject — in stream order; no events gives an empty slice
// and a nil error.
//
// It reads through the stream's batched direct get: one request, answered
// by as many messages as the subject holds (in batches of loadBatch) and an
// end-of-batch marker, or a single 404 when the subject is empty, so a load
// costs one round trip whatever its size (BenchmarkLoad compares it with an
// ordered consumer). On a replicated stream a replica that serves direct
// gets may lag the leader by a few milliseconds; what it returns is still a
// consistent prefix of the subject, and Append's expected-sequence check on
// the leader refuses any decision taken on a stale prefix.
func (s *EventStore) Load(ctx context.Context, accountID, subjectTail string) ([]StoredEvent, error) {
	return s.LoadAfter(ctx, accountID, subjectTail, 0)
}

// LoadAfter is Load restricted to the events with a stream sequence greater
// than after, for a caller that keeps an aggregate in memory and catches up.
func (s *EventStore) LoadAfter(ctx context.Context, accountID, subjectTail string, after uint64) ([]StoredEvent, error) {
	if err := validateSubject(accountID, subjectTail); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	subject := EventSubject(accountID, subjectTail)
	events := []StoredEvent{}
	if after == math.MaxUint64 {
		return events, nil
	}
	err := s.directScan(ctx, subject, after+1, func(seq uint64, m *nats.Msg) error {
		ev, err := DecodeEvent(m.Data)
		if err != nil {
			return fmt.Errorf("sequence %d: %w", seq, err)
		}
		if ev.AccountID != accountID || ev.Subject() != subjectTail {
			return fmt.Errorf("sequence %d: event %s of account %q, subject %q is stored on %s", seq, ev.ID, ev.AccountID, ev.Subject(), subject)
		}
		events = append(events, StoredEvent{Sequence: seq, Event: ev})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", subject, err)
	}
	return events, nil
}

// LastSequence returns the last sequence of TOKEN_EVENTS, 0 when it is
// empty. The projector compares it with its checkpoint to notice a log that
// ends before it (DESIGN.md "Durability").
func (s *EventStore) LastSequence(ctx context.Context) (uint64, error) {
	st, err := s.js.Stream(ctx, EventsStream)
	if err != nil {
		return 0, fmt.Errorf("last sequence of %s: %w", EventsStream, err)
	}
	return st.CachedInfo().State.LastSeq, nil
}

// EventAt returns the event stored at seq, read from the stream leader;
// found is false when there is none (never written, or lost with the tail
// of the log after an OS crash). It lets the projector check that the event
// at its checkpoint is the one it applied.
func (s *EventStore) EventAt(ctx context.Context, seq uint64) (ev StoredEvent, found bool, err error) {
	if seq == 0 {
		return StoredEvent{}, false, nil
	}
	m, err := s.leaderGet(ctx, seq, "")
	if err != nil || m == nil {
		return StoredEvent{}, false, err
	}
	if m.Sequence != seq {
		return StoredEvent{}, false, nil
	}
	e, err := DecodeEvent(m.Data)
	if err != nil {
		return StoredEvent{}, false, fmt.Errorf("event at %d: %w", seq, err)
	}
	return StoredEvent{Sequence: seq, Event: e}, true, nil
}

func validateSubject(accountID, subjectTail string) error {
	if err := ValidSubjectToken("account id", accountID); err != nil {
		return err
	}
	return ValidSubjectToken("subject", subjectTail)
}

// LoadLatest is Load with a guarantee Load does not give on a replicated
// stream: the events end with the subject's last event as the stream
// leader has it. Load reads through direct get, which a replica may answer
// a few milliseconds behind the leader; that is harmless before an append
// (its expected sequence is checked on the leader), but a decision that
// appends nothing — a refusal, a no-op — must not rest on a stale prefix.
// LoadLatest asks the leader for the subject's last sequence (one round
// trip) and reads from the leader whatever direct get had not shown yet.
func (s *EventStore) LoadLatest(ctx context.Context, accountID, subjectTail string) ([]StoredEvent, error) {
	events, err := s.Load(ctx, accountID, subjectTail)
	if err != nil {
		return nil, err
	}
	subject := EventSubject(accountID, subjectTail)
	last, err := s.leaderRequest(ctx, directGetRequest{LastFor: subject})
	if err != nil {
		return nil, fmt.Errorf("load %s: last sequence from the leader: %w", subject, err)
	}
	have := uint64(0)
	if len(events) > 0 {
		have = events[len(events)-1].Sequence
	}
	if last == nil || last.Sequence <= have {
		return events, nil
	}
	for next := have + 1; next <= last.Sequence; {
		m, err := s.leaderGet(ctx, next, subject)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", subject, err)
		}
		if m == nil {
			break
		}
		ev, err := DecodeEvent(m.Data)
		if err != nil {
			return nil, fmt.Errorf("load %s: sequence %d: %w", subject, m.Sequence, err)
		}
		events = append(events, StoredEvent{Sequence: m.Sequence, Event: ev})
		next = m.Sequence + 1
	}
	return events, nil
}
