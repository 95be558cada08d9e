package natsintake

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsjs"
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

// toMessage turns a JetStream message into a Watermill message without
// ever failing (watermill-nats' unmarshaler refuses a repeated header, and
// its subscriber then dereferences the nil message it got: a crash any
// publisher could cause). The command itself — subject, stream sequence,
// delivery count and every header, repeated ones included — rides in the
// message's context (withCommand), for the handler and the dead letters:
// the message never leaves this process, and flattening it into
// Watermill's string metadata only to parse it back cost about 3 µs a
// command.
//
// A first delivery whose Nats-Msg-Id is a command id (as API.md asks) has
// its look-up in the outcomes bucket started here, as it arrives (lookups,
// nil for none). A redelivery is looked up only when it runs: the attempt
// before it may still be remembering its outcome.
func toMessage(m jetstream.Msg, lookups *lookups) *message.Message {
	c := &rawCommand{Subject: m.Subject(), Header: m.Headers(), Body: m.Data()}
	id := c.Header.Get(nats.MsgIdHdr)
	if meta, err := m.Metadata(); err == nil {
		c.Sequence, c.Delivered = meta.Sequence.Stream, meta.NumDelivered
		// One Watermill id per delivery, for the logs.
		id = strconv.FormatUint(c.Sequence, 10) + "." + strconv.FormatUint(c.Delivered, 10)
	}
	if lookups != nil && c.Delivered == 1 {
		if cmd := c.headerCommandID(); cmd != uuid.Nil {
			c.prefetched = lookups.start(cmd)
		}
	}
	return withCommand(message.NewMessage(id, c.Body), c)
}

// arrival is a message as the subscription delivered it, and its Watermill
// message.
type arrival struct {
	m  jetstream.Msg
	wm *message.Message
}

// lanes is the intake's Watermill subscriber: one pull subscription on the
// durable consumer, whose messages n forwarders hand to the router, each
// waiting for its message to be acknowledged or nacked before it takes the
// next, so n commands run at once.
//
// It is the intake's own rather than watermill-nats' JetStream subscriber,
// which needs one subscription per command run at once (its callback waits
// for each acknowledgement), so a pull request and a timer per command, and
// whose closing is unsafe (its output channels close while a callback may
// still send on them: a "send on closed channel" panic).
//
// Closing is gentle. The router cancels its context the moment it starts
// closing; an acknowledgement sent then still counts (the connection is
// the intake's own, drained last). So Close (or the router's context
// ending) stops handing out messages and holds the ones fetched but not
// started, waits up to grace for those in flight to be acknowledged, lets
// the deliveries those acknowledgements made room for arrive (settle), ends
// the subscription, hands the held messages back for the next intake to
// take at once, and drains the connection, which sends the last
// acknowledgements (TestCloseMidBacklog).
type lanes struct {
	js       jetstream.JetStream // on conn
	conn     *nats.Conn          // the intake's own, drained at the end
	consumer jetstream.ConsumerConfig
	n        int
	nakDelay time.Duration
	grace    time.Duration
	log      watermill.LoggerAdapter
	consErr  func(error)
	lookups  *lookups // starts each first delivery's look-up (toMessage)

	closing   chan struct{}
	closeOnce sync.Once
	closeErr  error
	// mu orders a lane's inflight.Add before Close's inflight.Wait: a
	// WaitGroup may not gain work from zero while it is being waited on.
	mu       sync.Mutex
	inflight sync.WaitGroup
	forwards sync.WaitGroup
	received atomic.Uint64 // messages the subscription delivered (settle)
	consume  jetstream.ConsumeContext
	// held are the messages fetched but not started once closing began;
	// Close hands them back after the subscription ended (handBack).
	heldMu sync.Mutex
	held   []jetstream.Msg
	// fetched holds the messages delivered and not yet taken by a lane.
	fetched chan arrival
}

func newLanes(conn *nats.Conn, consumer jetstream.ConsumerConfig, n int, nakDelay, grace time.Duration,
	log watermill.LoggerAdapter, consErr func(error), lookups *lookups) (*lanes, error) {
	js, err := jetstream.New(conn)
	if err != nil {
		return nil, err
	}
	return &lanes{js: js, conn: conn, consumer: consumer, n: n, nakDelay: nakDelay, grace: grace,
		log: log, consErr: consErr, lookups: lookups, closing: make(chan struct{}), fetched: make(chan arrival, 2*n)}, nil
}

// Subscribe starts the pull subscription and the forwarders and returns
// their merged messages; the channel closes once Close has run. The topic
// is the consumer's filter; the consumer itself was made by Start.
func (l *lanes) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic != l.consumer.FilterSubject {
		return nil, fmt.Errorf("command intake: subscribe to %q, but the consumer filters %q", topic, l.consumer.FilterSubject)
	}
	c, err := l.js.Consumer(ctx, natsjs.CommandsStream, l.consumer.Name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		c, err = ensureConsumer(ctx, l.js, l.consumer)
	}
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	// Two messages pulled ahead per lane at most (watermill#609: AckWait
	// runs from the delivery), and a pull request each time half of them
	// have arrived, rather than one per command. They wait in fetched,
	// their look-ups started.
	l.consume, err = c.Consume(func(m jetstream.Msg) {
		l.received.Add(1)
		select {
		case l.fetched <- arrival{m, toMessage(m, l.lookups)}:
		case <-l.closing:
			l.hold(m)
		}
	}, jetstream.PullMaxMessages(2*l.n), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		l.consErr(err)
	}))
	if err != nil {
		return nil, err
	}
	for range l.n {
		l.forwards.Go(func() { l.forward(out) })
	}
	go func() {
		select {
		case <-ctx.Done():
			l.Close()
		case <-l.closing:
		}
	}()
	go func() {
		// Once closing, a forwarder sends nothing more once it returns.
		<-l.closing
		l.forwards.Wait()
		close(out)
	}()
	return out, nil
}

// forward hands fetched messages to out, one at a time, each tracked as in
// flight until it is acknowledged or nacked.
func (l *lanes) forward(out chan<- *message.Message) {
	for {
		var a arrival
		select {
		case a = <-l.fetched:
		case <-l.closing:
			return
		}
		m, wm := a.m, a.wm
		if !l.track() {
			l.hold(m)
			continue
		}
		select {
		case out <- wm:
			var err error
			select {
			case <-wm.Acked():
				// Published, not confirmed: a lost ack only means a
				// redelivery, which the remembered outcomes absorb, and a
				// confirmed one would cost a round trip per command.
				err = m.Ack()
			case <-wm.Nacked():
				err = m.NakWithDelay(l.nakDelay)
			}
			if err != nil {
				l.log.Error("command intake: acknowledging a command", err, watermill.LogFields{"uuid": wm.UUID})
			}
		case <-l.closing:
			l.hold(m)
		}
		l.inflight.Done()
	}
}

// hold keeps a message fetched but never started once the lanes close;
// handBack returns it to the server when the subscription has ended.
func (l *lanes) hold(m jetstream.Msg) {
	l.heldMu.Lock()
	l.held = append(l.held, m)
	l.heldMu.Unlock()
}

// settleQuiet is how long no delivery must arrive before the closing
// lanes end their subscription.
const settleQuiet = 20 * time.Millisecond

// settle keeps the subscription while deliveries still arrive, holding
// each, until none came for settleQuiet (or the deadline). Each
// acknowledgement of the last commands makes room for one more message on
// the subscription's outstanding pull request, which the server sends
// asynchronously: ended at once, the subscription could be gone when it
// arrives, and the server, which counts it delivered, would give it to
// another intake only after AckWait. A held message keeps its place among
// the pending ones, so none follows from it.
func (l *lanes) settle(deadline time.Time) {
	_ = l.conn.FlushTimeout(time.Until(deadline)) // the acknowledgements are at the server
	last := l.received.Load()
	for time.Now().Before(deadline) {
		time.Sleep(settleQuiet)
		n := l.received.Load()
		if n == last {
			return
		}
		last = n
	}
}

// handBack gives the held messages back to the server, once the
// subscription has ended, for the next intake (this one's or another
// instance's) to take at once. Handed back while the subscription lived,
// each would make room on its pull request for one more message, handed
// back in turn, and the last of them, on its way when the subscription
// ended, would stay unacknowledged until AckWait (TestCloseMidBacklog
// caught it in one run of seven).
func (l *lanes) handBack() {
	l.heldMu.Lock()
	held := l.held
	l.held = nil
	l.heldMu.Unlock()
	for more := true; more; {
		select {
		case a := <-l.fetched: // arrived, never taken by a lane
			held = append(held, a.m)
		default:
			more = false
		}
	}
	for _, m := range held {
		if err := m.Nak(); err != nil {
			l.log.Error("command intake: handing back a command at shutdown; it is redelivered after AckWait", err, nil)
		}
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
// in flight, ends the subscription, hands back what it fetched and did not
// start, and drains the connection. It is idempotent, and a second caller
// waits for the first to finish.
func (l *lanes) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		close(l.closing)
		l.mu.Unlock()
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
		l.settle(time.Now().Add(time.Second))
		// End the subscription: no more pulls, and the callbacks of the
		// messages already received run (and hold them, since closing).
		if l.consume != nil {
			l.consume.Drain()
			select {
			case <-l.consume.Closed():
			case <-time.After(l.grace):
			}
		}
		l.handBack()
		// Draining the connection sends the last acknowledgements and
		// hand-backs, and closes it.
		if err := l.conn.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			l.closeErr = err
			return
		}
		for stop := time.Now().Add(l.grace); !l.conn.IsClosed() && time.Now().Before(stop); {
			time.Sleep(5 * time.Millisecond)
		}
	})
	return l.closeErr
}
