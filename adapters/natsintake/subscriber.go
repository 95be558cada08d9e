package natsintake

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsjs"
)

// Metadata keys under which the unmarshaler hands a NATS message's
// particulars to the handler. Watermill metadata is a map of single
// strings, so each header travels under metaHeader+name with its values
// joined by newlines, which a NATS header value cannot contain.
const (
	metaSubject   = "tokend-subject"
	metaSequence  = "tokend-stream-sequence"
	metaDelivered = "tokend-delivered"
	metaHeader    = "tokend-header:"
)

// consumerConfig is the intake's durable consumer: every command subject,
// from the first command the stream still holds when the consumer is first
// created, each message acknowledged explicitly, redelivered after ackWait
// and never given up on (the poison queue, not MaxDeliver, ends a message's
// life). MaxAckPending bounds what the lanes hold ahead (watermill#609): two
// pulled per lane, and as many again in flight to other instances or
// awaiting their acknowledgement.
func consumerConfig(name string, lanes int, ackWait time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Name:          name,
		Durable:       name,
		Description:   "tokend command intake: every command on " + natsjs.CommandsSubjects,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		FilterSubject: natsjs.CommandsSubjects,
		MaxAckPending: 4 * lanes,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
}

// ensureConsumer creates the durable consumer, or updates the one a
// previous run left (keeping its position), and returns it. It never
// deletes one: re-creating a consumer replays the stream (watermill#671).
// A configuration the server cannot apply to the existing consumer is an
// error for the operator, not a reason to start over.
func ensureConsumer(ctx context.Context, js jetstream.JetStream, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := js.CreateOrUpdateConsumer(ctx, natsjs.CommandsStream, cfg)
	if err != nil {
		return nil, fmt.Errorf("command intake: consumer %s on %s: %w", cfg.Name, natsjs.CommandsStream, err)
	}
	return c, nil
}

// boundConsumer is the watermill-nats resource initializer of the intake: it
// hands every subscription the durable consumer (Start made it), whatever
// the topic, and no closer, so that closing a subscription leaves the
// consumer and its acknowledged position in place.
func boundConsumer(cfg jetstream.ConsumerConfig) wmjs.ResourceInitializer {
	return func(ctx context.Context, js jetstream.JetStream, _ string) (jetstream.Consumer, func(context.Context, watermill.LoggerAdapter), error) {
		c, err := js.Consumer(ctx, natsjs.CommandsStream, cfg.Name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			c, err = ensureConsumer(ctx, js, cfg)
		}
		return c, nil, err
	}
}

// unmarshaler turns a JetStream message into a Watermill message without
// ever failing: watermill-nats' own refuses a repeated header and then
// dereferences the nil message it got (a crash any publisher could cause).
// The subject, stream sequence, delivery count and every header, repeated
// ones included, go into metadata for the handler and the dead letters.
type unmarshaler struct{}

func (unmarshaler) Unmarshal(m jetstream.Msg) (*message.Message, error) {
	md := message.Metadata{metaSubject: m.Subject()}
	id := m.Headers().Get(nats.MsgIdHdr)
	if meta, err := m.Metadata(); err == nil {
		md[metaSequence] = strconv.FormatUint(meta.Sequence.Stream, 10)
		md[metaDelivered] = strconv.FormatUint(meta.NumDelivered, 10)
		// One Watermill id per delivery, for the logs.
		id = fmt.Sprintf("%d.%d", meta.Sequence.Stream, meta.NumDelivered)
	}
	for k, vs := range m.Headers() {
		md[metaHeader+k] = strings.Join(vs, "\n")
	}
	msg := message.NewMessage(id, m.Data())
	msg.Metadata = md
	return msg, nil
}

// lanes is a Watermill subscriber that subscribes its inner subscriber n
// times to the same topic and merges what they deliver: n pull
// subscriptions on one durable consumer, each handing over its next message
// once the previous one is acknowledged, so n commands run at once.
//
// It also makes closing gentle and safe. The router cancels its context the
// moment it starts closing, and watermill-nats drops the acknowledgement of
// a message whose context has ended, so every command in flight at shutdown
// would be carried out and then delivered again after AckWait: the inner
// subscriptions therefore get a context that is never cancelled. And
// watermill-nats' subscriber closes each subscription's output channel
// while the subscription's callback may still be sending on it (a data race,
// and a "send on closed channel" panic when the two meet), so the
// subscriber must only be closed once no callback can run. Close (or the
// router's context ending) therefore stops handing out messages and nacks
// the ones that arrive, waits up to grace for those in flight to be
// acknowledged, drains the intake's own connection (no message arrives any
// more, and the callbacks of those already received run to their end), and
// only then closes the inner subscriber.
type lanes struct {
	inner message.Subscriber
	conn  *nats.Conn // the inner subscriber's, drained before it closes
	n     int
	grace time.Duration
	log   watermill.LoggerAdapter

	closing   chan struct{}
	closeOnce sync.Once
	closeErr  error
	// mu orders a lane's inflight.Add before Close's inflight.Wait: a
	// WaitGroup may not gain work from zero while it is being waited on.
	mu       sync.Mutex
	inflight sync.WaitGroup
}

func newLanes(inner message.Subscriber, conn *nats.Conn, n int, grace time.Duration, log watermill.LoggerAdapter) *lanes {
	return &lanes{inner: inner, conn: conn, n: n, grace: grace, log: log, closing: make(chan struct{})}
}

// Subscribe opens n inner subscriptions to topic and returns their merged
// messages; the channel closes once every inner one has.
func (l *lanes) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	out := make(chan *message.Message)
	innerCtx := context.WithoutCancel(ctx)
	var forwarders sync.WaitGroup
	for i := range l.n {
		in, err := l.inner.Subscribe(innerCtx, topic)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("lane %d: %w", i, err)
		}
		forwarders.Add(1)
		go func() {
			defer forwarders.Done()
			l.forward(in, out)
		}()
	}
	go func() {
		forwarders.Wait()
		close(out)
	}()
	go func() {
		select {
		case <-ctx.Done():
			l.Close()
		case <-l.closing:
		}
	}()
	return out, nil
}

// forward hands the messages of one inner subscription to out, one at a
// time, each tracked as in flight until it is acknowledged or nacked.
func (l *lanes) forward(in <-chan *message.Message, out chan<- *message.Message) {
	for m := range in {
		if !l.track() {
			m.Nack() // fetched, never started: let another instance have it now
			continue
		}
		select {
		case out <- m:
			select {
			case <-m.Acked():
			case <-m.Nacked():
			}
		case <-l.closing:
			m.Nack()
		}
		l.inflight.Done()
	}
}

// track counts a message as in flight, unless the lanes are closing.
func (l *lanes) track() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closing:
		return false
	default:
		l.inflight.Add(1)
		return true
	}
}

// Close stops handing out messages, waits up to the grace period for those
// in flight, drains the connection and closes the inner subscriber. It is
// idempotent.
func (l *lanes) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		close(l.closing)
		l.mu.Unlock()
		deadline := time.Now().Add(l.grace)
		done := make(chan struct{})
		go func() {
			l.inflight.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(l.grace):
			l.log.Error("command intake: commands still in flight at shutdown; they will be redelivered", nil, nil)
		}
		if err := l.conn.Drain(); err == nil {
			for !l.conn.IsClosed() && time.Now().Before(deadline.Add(l.grace)) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		// The inner subscriber drains the connection too, which is closed
		// by now: that is no error.
		if err := l.inner.Close(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrConnectionDraining) {
			l.closeErr = err
		}
	})
	return l.closeErr
}
