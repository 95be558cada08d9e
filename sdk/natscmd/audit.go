package natscmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/sdk"
)

// EventsStream is the stream that holds every event (API.md "Events").
const EventsStream = "TOKEN_EVENTS"

// AuditEvent is one event of an account, as an audit consumer receives it.
type AuditEvent struct {
	// Sequence is the event's stream sequence. It orders every event of the
	// service and never repeats: an audit consumer remembers the last one it
	// handled and skips any event at or below it, which makes a redelivery
	// (after a crash between handling and acknowledging) harmless.
	Sequence uint64
	// Subject is tokens.events.<accountId>.<tokenId|account>.
	Subject string
	// The body's fields (API.md "Events"): Type is e.g. "TokenRenamed";
	// TokenID is "" for account-level events; Data is the body's "data" as
	// it is, whose "changes" hold each changed field's from and to.
	ID            string
	Type          string
	SchemaVersion int
	AccountID     string
	TokenID       string
	CommandID     string
	Actor         sdk.Actor
	At            time.Time
	Data          json.RawMessage
	// Body is the whole message body, for a consumer that reads fields this
	// version of the SDK does not know (consumers ignore unknown fields,
	// docs/events.md "Versioning").
	Body []byte
	// Pending is how many of the account's events the consumer had not
	// delivered yet when this one was: 0 means the reader has caught up.
	Pending uint64
}

// AuditHandler handles one event. Returning an error stops SubscribeAudit,
// which returns it; the event is not acknowledged and comes again on the
// next SubscribeAudit.
type AuditHandler func(ctx context.Context, ev AuditEvent) error

// AuditOption adjusts SubscribeAudit.
type AuditOption func(*auditOptions)

type auditOptions struct {
	durable  string
	restart  bool
	caughtUp bool
}

// Durable names the durable consumer; the default is "audit-<accountId>".
// Two consumers with the same name share the events between them, so give
// each independent reader its own.
func Durable(name string) AuditOption { return func(o *auditOptions) { o.durable = name } }

// Restart moves an existing durable consumer to fromSequence instead of
// resuming it where it stopped.
func Restart() AuditOption { return func(o *auditOptions) { o.restart = true } }

// StopWhenCaughtUp makes SubscribeAudit return nil once it has handled
// every event the account had when it started (at once when there is none),
// for a reader that works through a backlog and exits instead of following.
func StopWhenCaughtUp() AuditOption { return func(o *auditOptions) { o.caughtUp = true } }

// auditPull is how many events a consumer fetches ahead; it bounds what the
// acknowledgement wait covers (AckWait is per event, from its delivery).
const (
	auditPull    = 256
	auditAckWait = 30 * time.Second
)

// SubscribeAudit delivers the events of one account, in stream order, to
// handler, until ctx ends (it then returns nil) or the handler fails (it
// returns the handler's error). It reads through a durable consumer on
// tokens.events.<accountId>.>, which only ever sees that account's events:
// it creates the consumer, starting at stream sequence fromSequence (0 or 1:
// the account's first event), or binds an existing one and resumes after
// the last event a handler returned from, so a reader that is stopped or
// killed and started again misses nothing (Restart moves it back to
// fromSequence instead).
//
// An event is acknowledged after its handler returns, so a reader killed in
// between gets that event again on its next start: de-duplicate by
// AuditEvent.Sequence. Events arrive strictly in order, also after a restart
// (the consumer is reset to just after the last acknowledged event, which
// needs nats-server 2.14 or later).
func (c *Client) SubscribeAudit(ctx context.Context, accountID string, fromSequence uint64, handler AuditHandler, opts ...AuditOption) error {
	if accountID == "" || strings.ContainsAny(accountID, ".*> \t\r\n") {
		return fmt.Errorf("natscmd: account id %q cannot name a subject token", accountID)
	}
	o := auditOptions{durable: "audit-" + accountID}
	for _, opt := range opts {
		opt(&o)
	}
	cons, err := c.auditConsumer(ctx, accountID, fromSequence, o)
	if err != nil {
		return err
	}
	if o.caughtUp {
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("natscmd: audit consumer %s: %w", o.durable, err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return nil
		}
	}

	var (
		mu      sync.Mutex
		failure error
		last    jetstream.Msg // the last event acknowledged
		done    = make(chan struct{})
		once    sync.Once
	)
	stop := func(err error) {
		once.Do(func() {
			mu.Lock()
			failure = err
			mu.Unlock()
			close(done)
		})
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case <-done:
			return // stopping: leave it unacknowledged, it comes again
		default:
		}
		ev, err := decodeAudit(m)
		if err == nil {
			err = handler(ctx, ev)
		}
		if err != nil {
			stop(err)
			return
		}
		_ = m.Ack()
		mu.Lock()
		last = m
		mu.Unlock()
		if o.caughtUp && ev.Pending == 0 {
			stop(nil)
		}
	}, jetstream.PullMaxMessages(auditPull), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			stop(fmt.Errorf("natscmd: audit consumer %s: %w", o.durable, err))
		}
	}))
	if err != nil {
		return fmt.Errorf("natscmd: consume %s: %w", o.durable, err)
	}
	select {
	case <-ctx.Done():
		stop(nil)
	case <-done:
	}
	cc.Drain()
	<-cc.Closed()
	mu.Lock()
	defer mu.Unlock()
	if last != nil {
		// Acks are fire-and-forget. Send the last one again as a request:
		// JetStream answers once it has processed it, and so every ack
		// before it (its ack queue is in order), so a reader started right
		// after this one returns resumes after it instead of getting it
		// again. Unconfirmed (the connection is gone), the events since
		// the last processed ack come again, which a reader de-duplicating
		// by sequence absorbs.
		actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = c.nc.RequestWithContext(actx, last.Reply(), []byte("+ACK"))
		cancel()
	}
	return failure
}

// auditConsumer creates the durable consumer or binds the existing one, and
// sets where its delivery starts.
func (c *Client) auditConsumer(ctx context.Context, accountID string, from uint64, o auditOptions) (jetstream.Consumer, error) {
	filter := "tokens.events." + accountID + ".>"
	cons, err := c.js.Consumer(ctx, EventsStream, o.durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		// DeliverAll, so that Restart may later move it anywhere; the
		// start is then set by a reset.
		cons, err = c.js.CreateConsumer(ctx, EventsStream, jetstream.ConsumerConfig{
			Durable:       o.durable,
			Description:   "audit consumer of account " + accountID,
			FilterSubject: filter,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			// Explicit, not AckAll: resuming resets the consumer, which
			// restarts its delivery sequences at 1, and an AckAll of the
			// previous reader still in the server's ack queue (its
			// connection just dropped) would then carry a delivery sequence
			// above every new one and make JetStream ignore the new acks
			// until AckWait: the reader stalls. An explicit ack is matched
			// by stream sequence against what is pending, so a late one
			// only acknowledges an event that reader had handled.
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       auditAckWait,
			MaxAckPending: 4 * auditPull,
		})
		if err != nil {
			return nil, fmt.Errorf("natscmd: create audit consumer %s: %w", o.durable, err)
		}
		o.restart = true
	case err != nil:
		return nil, fmt.Errorf("natscmd: audit consumer %s: %w", o.durable, err)
	default:
		if got := cons.CachedInfo().Config.FilterSubject; got != filter {
			return nil, fmt.Errorf("natscmd: consumer %s reads %s, not account %s's events: choose another Durable", o.durable, got, accountID)
		}
	}
	// Resuming resets to just after the last acknowledged event: the events
	// a killed reader had fetched but not acknowledged come again at once
	// and in order, instead of after AckWait and behind newer ones.
	if o.restart && from > 1 {
		_, err = c.js.ResetConsumerToSequence(ctx, EventsStream, o.durable, from)
	} else if o.restart {
		_, err = c.js.ResetConsumerToSequence(ctx, EventsStream, o.durable, 1)
	} else {
		_, err = c.js.ResetConsumer(ctx, EventsStream, o.durable)
	}
	if err != nil {
		return nil, fmt.Errorf("natscmd: position audit consumer %s: %w", o.durable, err)
	}
	return cons, nil
}

// decodeAudit reads an event message. It tolerates bodies of any schema
// version: the fields it cannot read stay zero, and Body has them all.
func decodeAudit(m jetstream.Msg) (AuditEvent, error) {
	meta, err := m.Metadata()
	if err != nil {
		return AuditEvent{}, fmt.Errorf("natscmd: event metadata: %w", err)
	}
	var b struct {
		ID            string          `json:"id"`
		Type          string          `json:"type"`
		SchemaVersion int             `json:"schemaVersion"`
		AccountID     string          `json:"accountId"`
		TokenID       string          `json:"tokenId"`
		CommandID     string          `json:"commandId"`
		Actor         sdk.Actor       `json:"actor"`
		At            time.Time       `json:"at"`
		Data          json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(m.Data(), &b); err != nil {
		return AuditEvent{}, fmt.Errorf("natscmd: event at sequence %d: %w", meta.Sequence.Stream, err)
	}
	return AuditEvent{
		Sequence: meta.Sequence.Stream, Subject: m.Subject(),
		ID: b.ID, Type: b.Type, SchemaVersion: b.SchemaVersion, AccountID: b.AccountID, TokenID: b.TokenID,
		CommandID: b.CommandID, Actor: b.Actor, At: b.At, Data: b.Data, Body: m.Data(),
		Pending: meta.NumPending,
	}, nil
}
