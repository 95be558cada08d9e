package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// EventsStream is the stream the projector consumes (API.md "NATS").
const EventsStream = "TOKEN_EVENTS"

// Projector tunables.
const (
	// maxBatch bounds the events committed in one transaction: enough to
	// amortise a commit when events arrive together, small enough that a
	// transaction never nears Badger's size limit.
	maxBatch = 256
	// pullBuffer is how many messages the ordered consumer keeps in flight.
	pullBuffer = 1024
	// tailCheckInterval is how often a running projector checks that the
	// stream still holds its checkpoint (a replaced or truncated stream).
	tailCheckInterval = 30 * time.Second
)

// errLostTail says the stream no longer holds what the read model applied:
// its last sequence is below the checkpoint, or the event at the
// checkpoint's sequence is another one. The projector rebuilds.
var errLostTail = errors.New("projections: the event stream lost events the read model applied")

// Projector applies TOKEN_EVENTS to a Store: in order, from the Store's
// checkpoint + 1, each batch of events with its checkpoint in one Badger
// transaction. One Projector runs at a time per Store.
type Projector struct {
	s   *Store
	js  jetstream.JetStream
	log *slog.Logger

	// afterCommit, when set (tests), runs after each committed batch; an
	// error from it stops Run as a crash would, after the commit.
	afterCommit func(lastSeq uint64) error
	// startSeq, when set (tests), makes the consumer start there instead of
	// at the checkpoint + 1, to show that redelivered events are skipped.
	startSeq uint64
	// batchLimit, when set (tests), lowers maxBatch.
	batchLimit int

	knownLast atomic.Uint64 // stream sequence of the newest message known
	pendingTS atomic.Int64  // publish time (Unix ns) of the oldest unapplied message, 0 if none
}

// NewProjector returns a projector of js's TOKEN_EVENTS into s. log nil
// means the Store's logger.
func NewProjector(s *Store, js jetstream.JetStream, log *slog.Logger) *Projector {
	if log == nil {
		log = s.log
	}
	return &Projector{s: s, js: js, log: log}
}

// Lag returns how many stream sequences the read model is behind the
// newest message the projector knows of, and how long ago the oldest
// message it has not applied yet was published (0 when caught up).
func (p *Projector) Lag() (sequences uint64, age time.Duration) {
	cp := p.s.Checkpoint()
	if last := p.knownLast.Load(); last > cp {
		sequences = last - cp
	}
	if ts := p.pendingTS.Load(); ts != 0 && sequences > 0 {
		age = max(0, time.Since(time.Unix(0, ts))) // the real clock: JetStream's timestamps are real
	}
	return sequences, age
}

// Run consumes and applies events until ctx ends (then it returns nil).
// It returns an error only for what retrying cannot mend: an event written
// by a newer tokend (errors mention the schema version), a closed Store.
// Anything else — NATS unreachable, a consumer lost, a failed Badger
// commit — is logged and retried from the checkpoint, with a backoff of
// 100 ms doubling up to 5 s.
//
// On start, before applying a batch when a second has passed since the
// last look, and every 30 s when idle, it checks that the stream still
// holds the checkpoint; when it does not (the log lost its tail after an
// OS crash, or the read model was pointed at another log), Run rebuilds
// the read model from the stream and goes on from the rebuilt checkpoint,
// so that new events reusing old sequences are never skipped.
func (p *Projector) Run(ctx context.Context) error {
	backoff := retryMin
	for {
		err := p.consume(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var stop stopError
		switch {
		case errors.As(err, &stop):
			return stop.err
		case errors.Is(err, errSchema), errors.Is(err, errClosed):
			return err
		case errors.Is(err, errLostTail):
			p.log.Warn("read model: rebuilding from the event stream", "reason", err.Error())
			start := time.Now()
			if err := p.s.rebuildInPlace(ctx, p.js); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if errors.Is(err, errClosed) {
					return err
				}
				p.log.Error("read model: rebuild failed; retrying", "err", err, "in", backoff)
				break
			}
			p.log.Info("read model: rebuilt", "checkpoint", p.s.Checkpoint(), "took", time.Since(start))
			backoff = retryMin
			continue
		default:
			p.log.Warn("read model: projector interrupted; retrying from the checkpoint",
				"err", err, "checkpoint", p.s.Checkpoint(), "in", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, retryMax)
	}
}

// Retry backoff bounds of Run.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// stopError makes Run return err instead of retrying (the test hook's
// injected crash).
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }

// stream returns TOKEN_EVENTS, waiting for it to be created (the command
// side creates it at start, maybe after the projector started).
func (p *Projector) stream(ctx context.Context) (jetstream.Stream, error) {
	wait := 50 * time.Millisecond
	for {
		st, err := p.js.Stream(ctx, EventsStream)
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return st, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// checkTail returns errLostTail when the stream does not hold the
// checkpoint: its last sequence is lower, or the message at the
// checkpoint's sequence carries another event id. A message that was
// deleted or aged out cannot be compared and passes.
func (p *Projector) checkTail(ctx context.Context, st jetstream.Stream) error {
	if p.s.stale.Load() {
		return fmt.Errorf("%w: the read model was written with another key layout", errLostTail)
	}
	cp := p.s.checkpointID()
	if cp.Seq == 0 {
		return nil
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	p.knownLast.Store(max(p.knownLast.Load(), info.State.LastSeq))
	if info.State.LastSeq < cp.Seq {
		return fmt.Errorf("%w: checkpoint %d is beyond the stream's last sequence %d", errLostTail, cp.Seq, info.State.LastSeq)
	}
	msg, err := st.GetMsg(ctx, cp.Seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read sequence %d: %w", cp.Seq, err)
	}
	env, err := decodeEvent(cp.Seq, msg.Data)
	if err != nil {
		return err
	}
	if env.Event.ID != cp.EventID {
		return fmt.Errorf("%w: sequence %d holds event %s, the read model applied %s", errLostTail, cp.Seq, env.Event.ID, cp.EventID)
	}
	return nil
}

type delivery struct {
	env envelope
	ts  int64
}

// consume runs one ordered consumer from the checkpoint + 1 until ctx ends
// or something fails. A reader goroutine pulls and decodes while this one
// applies, so decoding and Badger commits overlap on two cores.
func (p *Projector) consume(ctx context.Context) error {
	st, err := p.stream(ctx)
	if err != nil {
		return err
	}
	if err := p.checkTail(ctx, st); err != nil {
		return err
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	start := p.s.Checkpoint() + 1
	if p.startSeq != 0 {
		start = p.startSeq
	}
	if start > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = start
	}
	cons, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("ordered consumer on %s: %w", EventsStream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(pullBuffer))
	if err != nil {
		return fmt.Errorf("consume %s: %w", EventsStream, err)
	}
	rctx, cancel := context.WithCancel(ctx)
	ch := make(chan delivery, maxBatch)
	errCh := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		errCh <- p.read(rctx, it, ch)
	}()
	defer func() {
		cancel()
		it.Stop()
		wg.Wait()
	}()

	tick := time.NewTicker(tailCheckInterval)
	defer tick.Stop()
	lastCheck := time.Now() // checkTail just ran
	limit := maxBatch
	if p.batchLimit > 0 {
		limit = p.batchLimit
	}
	batch := make([]envelope, 0, limit)
	var next *delivery
	for {
		if next == nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case err := <-errCh:
				return err
			case <-tick.C:
				if err := p.checkTail(ctx, st); err != nil {
					return err
				}
				lastCheck = time.Now()
				continue
			case d := <-ch:
				next = &d
			}
		}
		batch = append(batch[:0], next.env)
		p.pendingTS.Store(next.ts)
	drain:
		for len(batch) < limit {
			select {
			case d := <-ch:
				batch = append(batch, d.env)
			default:
				break drain
			}
		}
		if time.Since(lastCheck) >= time.Second {
			// A log that lost its tail while we ran (a cluster's server
			// crashed) may already hold new events at the lost sequences:
			// only the event id at the checkpoint tells, so look before
			// applying anything past it (at most once a second).
			if err := p.checkTail(ctx, st); err != nil {
				return err
			}
			lastCheck = time.Now()
		}
		if _, err := p.s.applyBatch(batch); err != nil {
			return err
		}
		if p.afterCommit != nil {
			if err := p.afterCommit(batch[len(batch)-1].Seq); err != nil {
				return stopError{err}
			}
		}
		next = nil
		select {
		case d := <-ch:
			next = &d
			p.pendingTS.Store(d.ts)
		default:
			p.pendingTS.Store(0)
		}
	}
}

// read pulls messages, decodes them and hands them over in order.
func (p *Projector) read(ctx context.Context, it jetstream.MessagesContext, ch chan<- delivery) error {
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return fmt.Errorf("next event: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("event metadata: %w", err)
		}
		seq := meta.Sequence.Stream
		p.knownLast.Store(max(p.knownLast.Load(), seq+meta.NumPending))
		env, err := decodeEvent(seq, msg.Data())
		if err != nil {
			return err
		}
		if env.Skip != "" {
			p.log.Error("read model: skipping an event it cannot apply", "sequence", seq, "reason", env.Skip)
		}
		select {
		case ch <- delivery{env: env, ts: meta.Timestamp.UnixNano()}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
