package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/domain"
)

// Benchmarks, each beside its raw Badger baseline (run them together):
//
//	go test ./projections -run '^$' -bench . -benchtime 2x
//
// Rebuild replays 100,000 events over 10,000 tokens by default;
// TOKEND_BENCH_REBUILD=1000000 replays 1,000,000 over 100,000.

// historyEvents returns the events of `tokens` tokens, perTok events each
// (at least 1), in an interleaved order: a token's events are spread over
// the stream as a real account's would be. Every event is valid for the
// state it follows.
func historyEvents(acct string, tokens, perTok int) []domain.Event {
	evs := accountEvents(acct)
	type tok struct {
		id      string
		cmd     uuid.UUID
		n       int
		status  domain.Status
		model   string
		name    string
		note    string
		expires int64
	}
	all := make([]*tok, tokens)
	for i := range all {
		all[i] = &tok{id: fmt.Sprintf("tok%07d", i), cmd: uuid.NewSHA1(uuid.NameSpaceOID, []byte(acct+strconv.Itoa(i)))}
	}
	actor := domain.Actor{Kind: domain.ActorLicense, ID: "lic-" + acct}
	at := baseTime
	for round := 0; round < perTok; round++ {
		for i, t := range all {
			at = at.Add(time.Millisecond)
			cmd := uuid.NewSHA1(t.cmd, []byte(strconv.Itoa(round)))
			e := domain.Event{ID: domain.EventID(cmd, 0), SchemaVersion: 1, AccountID: acct, TokenID: t.id,
				CommandID: cmd, Actor: actor, At: at}
			var c domain.Changes
			str := func(from, to string) *domain.Change[string] {
				ch := &domain.Change[string]{}
				if from != "" {
					ch.From = &from
				}
				if to != "" {
					ch.To = &to
				}
				return ch
			}
			switch {
			case round == 0:
				e.Type = domain.TokenIssued
				t.name, t.status, t.expires = fmt.Sprintf("Token %d", i), domain.StatusActive, at.Add(90*24*time.Hour).Unix()
				exp, st := t.expires, t.status
				c = domain.Changes{Name: str("", t.name), ExpirationDate: &domain.Change[int64]{To: &exp},
					Status: &domain.Change[domain.Status]{To: &st}}
				secret := fmt.Sprintf("%s/%d", acct, i)
				e.Data.SecretSha256, e.Data.SecretHint = domain.HashSecret(secret), "tkn_abcd"
			case round%5 == 1:
				e.Type = domain.TokenRenamed
				name := fmt.Sprintf("Token %d r%d", i, round)
				c.Name, t.name = str(t.name, name), name
			case round%5 == 2:
				e.Type = domain.TokenNoteChanged
				note := fmt.Sprintf("note %d", round)
				c.Note, t.note = str(t.note, note), note
			case round%5 == 3 && t.status == domain.StatusActive:
				e.Type = domain.TokenSuspended
				from, to := t.status, domain.StatusSuspended
				c.Status, t.status = &domain.Change[domain.Status]{From: &from, To: &to}, to
			case round%5 == 3:
				e.Type = domain.TokenReactivated
				from, to := t.status, domain.StatusActive
				c.Status, t.status = &domain.Change[domain.Status]{From: &from, To: &to}, to
			case round%5 == 4 && t.model == "":
				e.Type = domain.ModelAssigned
				c.ModelID, t.model = str("", "m1"), "m1"
			case round%5 == 4:
				e.Type = domain.ModelUnassigned
				c.ModelID, t.model = str(t.model, ""), ""
			default:
				e.Type = domain.TokenExpirationChanged
				from, to := t.expires, t.expires+86400
				c.ExpirationDate, t.expires = &domain.Change[int64]{From: &from, To: &to}, to
			}
			e.Data.Changes = c
			evs = append(evs, e)
		}
	}
	return evs
}

// recorder is a kvWriter that keeps what is written, for the raw
// baseline: the same keys and value sizes.
type recorder struct{ kvs []kv }

func (r *recorder) Set(k, v []byte) error { r.kvs = append(r.kvs, kv{k, v}); return nil }
func (r *recorder) Delete(k []byte) error { r.kvs = append(r.kvs, kv{k, nil}); return nil }

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), ReadModelDir), Options{Clock: func() time.Time { return baseTime }, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func envelopes(evs []domain.Event, from uint64) []envelope {
	envs := make([]envelope, len(evs))
	for i, e := range evs {
		envs[i] = envelope{Seq: from + uint64(i), Event: e}
	}
	return envs
}

// BenchmarkProjector: the projector's apply path (decoded events, batches
// of 256, one transaction each) against raw Badger WriteBatch sets of the
// very keys and values it writes.
func BenchmarkProjector(b *testing.B) {
	const tokens, perTok = 2000, 10
	evs := historyEvents("bench", tokens, perTok)
	envs := envelopes(evs, 1)
	b.Run("apply", func(b *testing.B) {
		keys := 0
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s := benchStore(b)
			b.StartTimer()
			for j := 0; j < len(envs); j += maxBatch {
				n, err := s.applyBatch(envs[j:min(j+maxBatch, len(envs))])
				if err != nil {
					b.Fatal(err)
				}
				keys += n
			}
		}
		sec := b.Elapsed().Seconds()
		b.ReportMetric(float64(len(envs)*b.N)/sec, "events/s")
		b.ReportMetric(float64(keys)/float64(len(envs)*b.N), "keys/event")
		b.ReportMetric(float64(keys)/sec, "keys/s")
	})
	// The same keys and values, recorded from a txn-less fold of the same
	// events, written with WriteBatch.
	rec := &recorder{}
	{
		s := benchStore(b)
		for j := 0; j < len(envs); j += maxBatch {
			txn := s.db.NewTransaction(true)
			st := newTxnState(txn, nil)
			st.w.w = &teeWriter{a: txn, b: rec}
			for k := j; k < min(j+maxBatch, len(envs)); k++ {
				if err := applyEvent(st, &envs[k]); err != nil {
					b.Fatal(err)
				}
			}
			_ = st.w.Set(keyCheckpoint, encodeCheckpoint(checkpoint{Seq: envs[min(j+maxBatch, len(envs))-1].Seq}))
			if err := txn.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("raw-writebatch", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s := benchStore(b)
			b.StartTimer()
			wb := s.db.NewWriteBatch()
			for _, e := range rec.kvs {
				if err := wb.Set(e.k, e.v); err != nil {
					b.Fatal(err)
				}
			}
			if err := wb.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(rec.kvs)*b.N)/b.Elapsed().Seconds(), "keys/s")
	})
}

type teeWriter struct {
	a kvWriter
	b *recorder
}

func (t *teeWriter) Set(k, v []byte) error { _ = t.b.Set(k, v); return t.a.Set(k, v) }
func (t *teeWriter) Delete(k []byte) error { _ = t.b.Delete(k); return t.a.Delete(k) }

// BenchmarkProjectorNATS: events/s end to end, from JetStream messages
// to committed Badger transactions.
func BenchmarkProjectorNATS(b *testing.B) {
	const tokens, perTok = 2000, 10
	_, js := startJS(b)
	publishAll(b, js, historyEvents("bench", tokens, perTok))
	st, _ := js.Stream(context.Background(), EventsStream)
	info, _ := st.Info(context.Background())
	last := info.State.LastSeq
	// b.Loop runs the setup above once, however many rounds it takes.
	for b.Loop() {
		b.StopTimer()
		s := benchStore(b)
		b.StartTimer()
		stop := runProjector(b, NewProjector(s, js, quiet))
		if err := s.WaitFor(context.Background(), last, time.Minute); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(last)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// publishAll publishes events with async publishes, in order.
func publishAll(b testing.TB, js jetstream.JetStream, evs []domain.Event) {
	b.Helper()
	for i, e := range evs {
		body, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync("tokens.events."+e.AccountID+"."+e.Subject(), body, jetstream.WithMsgID(e.ID.String())); err != nil {
			b.Fatal(err)
		}
		if i%4096 == 4095 {
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publish did not complete")
	}
}

// lookupStore returns a store with n tokens (no NATS) and their ids and
// secret hashes.
func lookupStore(b *testing.B, n int) (*Store, []string, []string) {
	b.Helper()
	s := benchStore(b)
	envs := envelopes(historyEvents("bench", n, 3), 1)
	for j := 0; j < len(envs); j += maxBatch {
		if _, err := s.applyBatch(envs[j:min(j+maxBatch, len(envs))]); err != nil {
			b.Fatal(err)
		}
	}
	ids, hashes := make([]string, n), make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("tok%07d", i)
		hashes[i] = domain.HashSecret(fmt.Sprintf("bench/%d", i))
	}
	return s, ids, hashes
}

// BenchmarkLookup: Token and Introspect against one raw Badger Get (a
// read transaction, Get and value read) of the same keys.
func BenchmarkLookup(b *testing.B) {
	const n = 10_000
	s, ids, hashes := lookupStore(b, n)
	r := rand.New(rand.NewPCG(1, 2))
	b.Run("Token", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.Token("bench", ids[r.IntN(n)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Introspect", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			in, err := s.Introspect(hashes[r.IntN(n)])
			if err != nil || in.View == nil {
				b.Fatal(in, err)
			}
		}
	})
	rawGet := func(b *testing.B, key func(i int) []byte) {
		for i := 0; i < b.N; i++ {
			k := key(r.IntN(n))
			err := s.db.View(func(txn *badger.Txn) error {
				item, err := txn.Get(k)
				if err != nil {
					return err
				}
				return item.Value(func([]byte) error { return nil })
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("raw-get-token-key", func(b *testing.B) {
		rawGet(b, func(i int) []byte { return tokenKey("bench", ids[i]) })
	})
	b.Run("raw-get-secret-key", func(b *testing.B) {
		rawGet(b, func(i int) []byte { return secretKey(hashes[i]) })
	})
}

// BenchmarkListFilteredPage: a page of 50 suspended tokens by -createdAt
// over 100,000 tokens, first and deep pages.
func BenchmarkListFilteredPage(b *testing.B) {
	s := benchStore(b)
	bulkIssue(b, s, "big", 100_000)
	q := ListQuery{Statuses: []domain.Status{domain.StatusSuspended}, Limit: 50}
	p, err := s.ListTokens("big", ListQuery{Statuses: q.Statuses, Limit: 1000})
	if err != nil {
		b.Fatal(err)
	}
	deep := *p.NextCursor
	for i := 0; b.Loop(); i++ {
		q.Cursor = ""
		if i%2 == 1 {
			q.Cursor = deep
		}
		p, err := s.ListTokens("big", q)
		if err != nil || len(p.Tokens) != 50 {
			b.Fatal(len(p.Tokens), err)
		}
	}
}

// BenchmarkRebuild: Rebuild of the whole stream into a fresh directory.
func BenchmarkRebuild(b *testing.B) {
	events := 100_000
	if v := os.Getenv("TOKEND_BENCH_REBUILD"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			b.Fatalf("TOKEND_BENCH_REBUILD=%q: want a number of events", v)
		}
		events = n
	}
	const perTok = 10
	_, js := startJS(b)
	start := time.Now()
	publishAll(b, js, historyEvents("bench", events/perTok, perTok))
	b.Logf("published %d events over %d tokens in %v", events, events/perTok, time.Since(start))
	runtime.GC()
	cpu0 := cpuTime()
	peak := watchHeap()
	for b.Loop() {
		if err := Rebuild(context.Background(), b.TempDir(), js, benchLog()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(peak()>>20), "peak-heap-MiB")
	// CPU time of the whole process (the embedded server's delivery
	// included): on a shared machine it says more than the wall clock.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLog logs to stderr when TOKEND_BENCH_LOG is set.
func benchLog() *slog.Logger {
	if os.Getenv("TOKEND_BENCH_LOG") == "" {
		return quiet
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

// watchHeap samples the Go heap (allocated, garbage included) every 50
// ms until the returned function is called, which reports the peak.
func watchHeap() func() uint64 {
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var peak uint64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}
