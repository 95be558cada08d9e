package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/nats-io/nats.go/jetstream"
)

// rawProjection is the read model's share of the protocol with nothing of
// tokend in it: it follows an event stream with an ordered consumer, as the
// projector follows TOKEN_EVENTS, and writes as many keys per event as the
// projector does into Badger, with the read model's Badger settings, one
// WriteBatch per batch of up to 256 events (the projector's bound). No
// decoding, no folding, no reads: the values are the event's body for three
// keys (the projector's token record, end-user view and audit entry are
// about its size), 64 bytes for one (the command's outcome) and empty for
// the rest (index keys).
type rawProjection struct {
	db      *badger.DB
	cc      jetstream.ConsumeContext
	stream  jetstream.Stream
	keys    float64       // per event, on average
	applied atomic.Uint64 // stream sequence of the last event written

	mu     sync.Mutex
	batch  []jetstream.Msg
	events uint64 // written so far
	err    error
}

func (b *bench) startRawProjection(ctx context.Context, js *jsServer, events *rawStream, dir string, keysPerEvent float64) (*rawProjection, error) {
	db, err := badger.Open(badgerOptions(dir))
	if err != nil {
		return nil, err
	}
	p := &rawProjection{db: db, keys: keysPerEvent}
	if p.stream, err = js.js.Stream(ctx, events.name); err != nil {
		db.Close()
		return nil, fmt.Errorf("raw projection of %s: %w", events.name, err)
	}
	info, err := p.stream.Info(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	// From the events appended from now on: the seed is not the floor's.
	cons, err := p.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: info.State.LastSeq + 1})
	if err != nil {
		db.Close()
		return nil, err
	}
	p.applied.Store(info.State.LastSeq)
	p.cc, err = cons.Consume(p.receive, jetstream.PullMaxMessages(1024))
	if err != nil {
		db.Close()
		return nil, err
	}
	return p, nil
}

// receive collects events and writes a batch when it is full or when the
// consumer has nothing more pending, as the projector commits.
func (p *rawProjection) receive(m jetstream.Msg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batch = append(p.batch, m)
	meta, err := m.Metadata()
	if err != nil {
		p.err = err
		return
	}
	if len(p.batch) < 256 && meta.NumPending > 0 {
		return
	}
	if err := p.write(p.batch); err != nil && p.err == nil {
		p.err = err
	}
	p.applied.Store(meta.Sequence.Stream)
	p.batch = p.batch[:0]
}

var outcomeValue = make([]byte, 64)

func (p *rawProjection) write(batch []jetstream.Msg) error {
	wb := p.db.NewWriteBatch()
	defer wb.Cancel()
	for _, m := range batch {
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		// A fraction of a key per event is spread over the events, so that
		// the total is keys per event on average.
		p.events++
		n := int(float64(p.events)*p.keys) - int(float64(p.events-1)*p.keys)
		for j := range n {
			k := make([]byte, 0, len(m.Subject())+9)
			k = append(k, m.Subject()...)
			k = append(k, byte(j))
			k = binary.BigEndian.AppendUint64(k, meta.Sequence.Stream)
			var v []byte
			switch {
			case j < 3:
				v = m.Data()
			case j == 3:
				v = outcomeValue
			}
			if err := wb.Set(k, v); err != nil {
				return err
			}
		}
	}
	return wb.Flush()
}

// catchUp waits until every event the stream holds now is written.
func (p *rawProjection) catchUp(ctx context.Context) error {
	info, err := p.stream.Info(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for p.applied.Load() < info.State.LastSeq {
		p.mu.Lock()
		err := p.err
		p.mu.Unlock()
		if err != nil {
			return fmt.Errorf("raw projection: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("raw projection: at %d of %d after a minute", p.applied.Load(), info.State.LastSeq)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func (p *rawProjection) close() {
	p.cc.Stop()
	p.db.Close()
}
