package natsjs_test

// Benchmarks of the append path against its raw baselines, and of Load.
// Run: go test -run XXX -bench . -benchtime 2000x ./adapters/natsjs/
//
// Every append goes to its own token subject with expected last subject
// sequence 0, so all of them succeed; the raw baselines publish the very
// same bytes and headers, so the difference is Append's own cost (encoding,
// header building, validation).

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/natsjs/natstest"
	"github.com/tokend/tokend/domain"
)

var syncModes = []natsjs.SyncMode{natsjs.SyncInterval, natsjs.SyncAlways}

// benchEvents returns n TokenRenamed events, each on its own token.
func benchEvents(n int) []domain.Event {
	evs := make([]domain.Event, n)
	for i := range evs {
		evs[i] = renamed("acct-bench", fmt.Sprintf("tok-%d-%s", i, uuid.NewString()[:8]), uuid.New(), "my old token name", "my new token name")
	}
	return evs
}

// benchMsgs returns the messages Append would send for evs, with expected
// last subject sequence 0.
func benchMsgs(b *testing.B, evs []domain.Event) []*nats.Msg {
	msgs := make([]*nats.Msg, len(evs))
	for i, ev := range evs {
		body, err := natsjs.EncodeEvent(ev)
		if err != nil {
			b.Fatal(err)
		}
		hdr := natsjs.EventHeaders(ev)
		hdr.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		msgs[i] = &nats.Msg{Subject: natsjs.EventSubject(ev.AccountID, ev.Subject()), Header: hdr, Data: body}
	}
	return msgs
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func benchServer(b *testing.B, mode natsjs.SyncMode) (*nats.Conn, jetstream.JetStream) {
	_, nc, js := natstest.StartWith(b, natsjs.EmbeddedConfig{Sync: mode})
	return nc, js
}

func BenchmarkAppend(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(string(mode), func(b *testing.B) {
			_, js := benchServer(b, mode)
			s := natsjs.NewEventStore(js)
			evs := benchEvents(b.N)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, dup, err := s.Append(ctx, evs[i], 0); err != nil || dup {
					b.Fatal(err, dup)
				}
			}
			reportRate(b)
		})
	}
}

func BenchmarkAppendParallel(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(string(mode), func(b *testing.B) {
			_, js := benchServer(b, mode)
			s := natsjs.NewEventStore(js)
			evs := benchEvents(b.N)
			ctx := context.Background()
			var next atomic.Int64
			b.SetParallelism(32) // appenders are I/O-bound: many per core
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ev := evs[next.Add(1)-1]
					if _, dup, err := s.Append(ctx, ev, 0); err != nil || dup {
						b.Error(err, dup)
						return
					}
				}
			})
			reportRate(b)
		})
	}
}

func BenchmarkRawPublish(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(string(mode), func(b *testing.B) {
			_, js := benchServer(b, mode)
			msgs := benchMsgs(b, benchEvents(b.N))
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := js.PublishMsg(ctx, msgs[i]); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b)
		})
	}
}

// asyncWindow is how many async publishes BenchmarkRawPublishAsync keeps in
// flight.
const asyncWindow = 256

func BenchmarkRawPublishAsync(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(string(mode), func(b *testing.B) {
			_, js := benchServer(b, mode)
			msgs := benchMsgs(b, benchEvents(b.N))
			window := make([]jetstream.PubAckFuture, asyncWindow)
			wait := func(f jetstream.PubAckFuture) {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				slot := i % asyncWindow
				if f := window[slot]; f != nil {
					wait(f) // the oldest in flight
				}
				f, err := js.PublishMsgAsync(msgs[i])
				if err != nil {
					b.Fatal(err)
				}
				window[slot] = f
			}
			for _, f := range window {
				if f != nil {
					wait(f)
				}
			}
			reportRate(b)
		})
	}
}

// BenchmarkLoad loads a 10-event token subject (in a stream that holds other
// tokens too) with EventStore.Load — batched direct get, one round trip —
// and, for comparison, with what the obvious alternative costs: a direct get
// of the subject's last message followed by an ordered consumer filtered to
// the subject up to that sequence, deleted afterwards.
func BenchmarkLoad(b *testing.B) {
	_, js := benchServer(b, natsjs.SyncInterval)
	s := natsjs.NewEventStore(js)
	ctx := context.Background()
	const events = 10
	var last uint64
	for i := range events {
		last = mustAppend(b, s, newRenamed("acct", "tok", i), last)
		for j := range 10 {
			mustAppend(b, s, newRenamed("acct", fmt.Sprintf("noise-%d-%d", i, j), 0), 0)
		}
	}
	stream, err := js.Stream(ctx, natsjs.EventsStream)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("Load", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			evs, err := s.Load(ctx, "acct", "tok")
			if err != nil || len(evs) != events {
				b.Fatal(len(evs), err)
			}
		}
		reportRate(b)
	})
	b.Run("Load-empty", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			evs, err := s.Load(ctx, "acct", "nothing-here")
			if err != nil || len(evs) != 0 {
				b.Fatal(len(evs), err)
			}
		}
		reportRate(b)
	})
	b.Run("last-then-ordered-consumer", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			evs, err := loadOrdered(ctx, js, stream, "acct", "tok")
			if err != nil || len(evs) != events {
				b.Fatal(len(evs), err)
			}
		}
		reportRate(b)
	})
}

// loadOrdered is the alternative Load measured by BenchmarkLoad.
func loadOrdered(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, account, token string) ([]natsjs.StoredEvent, error) {
	subject := natsjs.EventSubject(account, token)
	lastMsg, err := stream.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		return nil, err
	}
	cons, err := js.OrderedConsumer(ctx, natsjs.EventsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return nil, err
	}
	// Stop does not delete an ordered consumer (it lingers for its 5-minute
	// inactive threshold), and nats-server 2.15 allows 1,000 consumers per
	// stream by default: a Load built this way must delete it, one more
	// round trip.
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			_ = js.DeleteConsumer(ctx, natsjs.EventsStream, info.Name)
		}
	}()
	it, err := cons.Messages()
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	var evs []natsjs.StoredEvent
	for {
		m, err := it.Next()
		if err != nil {
			return nil, err
		}
		md, err := m.Metadata()
		if err != nil {
			return nil, err
		}
		ev, err := natsjs.DecodeEvent(m.Data())
		if err != nil {
			return nil, err
		}
		evs = append(evs, natsjs.StoredEvent{Sequence: md.Sequence.Stream, Event: ev})
		if md.Sequence.Stream >= lastMsg.Sequence {
			return evs, nil
		}
	}
}
