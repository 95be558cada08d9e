package natscmd_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/natsjs/natstest"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/sdk/natscmd"
)

// eventMsg is a realistic event of an account, as the event store appends it.
func eventMsg(account, token string, n int) *nats.Msg {
	from, to := fmt.Sprintf("name %d", n), fmt.Sprintf("name %d", n+1)
	cmd := uuid.New()
	ev := domain.Event{
		ID: domain.EventID(cmd, 0), Type: domain.TokenRenamed, SchemaVersion: domain.SchemaVersion,
		AccountID: account, TokenID: token, CommandID: cmd,
		Actor: domain.Actor{Kind: domain.ActorLicense, ID: "lic-1"}, At: time.Now(),
		Data: domain.EventData{Changes: domain.Changes{Name: &domain.Change[string]{From: &from, To: &to}}},
	}
	body, err := natsjs.EncodeEvent(ev)
	if err != nil {
		panic(err)
	}
	return &nats.Msg{Subject: natsjs.EventSubject(account, token), Header: natsjs.EventHeaders(ev), Data: body}
}

// publishEvents publishes n events of account (over a few tokens), with
// one of another account after every fourth, in batches, and returns the
// stream sequences of account's events.
func publishEvents(t *testing.T, js jetstream.JetStream, account, other string, n int, pause time.Duration) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := 0; i < n; {
		var acks []jetstream.PubAckFuture
		for j := 0; j < 250 && i < n; j, i = j+1, i+1 {
			f, err := js.PublishMsgAsync(eventMsg(account, fmt.Sprintf("t%d", i%7), i))
			if err != nil {
				t.Error(err)
				return nil
			}
			acks = append(acks, f)
			if i%4 != 0 {
				continue
			}
			if _, err := js.PublishMsgAsync(eventMsg(other, "x", i)); err != nil {
				t.Error(err)
				return nil
			}
		}
		for _, f := range acks {
			select {
			case ack := <-f.Ok():
				seqs = append(seqs, ack.Sequence)
			case err := <-f.Err():
				t.Error(err)
				return nil
			}
		}
		time.Sleep(pause)
	}
	return seqs
}

// reader is an audit consumer's own state: the events it handled, after
// de-duplicating by sequence, and how many it skipped as seen before.
type reader struct {
	mu      sync.Mutex
	handled []uint64
	dups    int
	last    uint64
}

func (r *reader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.handled)
}

// run is one life of the reader process. With dieAt > 0 it dies once it
// has handled dieAt events: its connection drops while the last event is in
// hand, so that event is never acknowledged. With dieAt == 0 it stops
// cleanly after total events.
func (r *reader) run(t *testing.T, url string, dieAt, total int) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := natscmd.New(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	die := make(chan struct{})
	go func() {
		select {
		case <-die:
			nc.Close()
			cancel()
		case <-ctx.Done():
		}
	}()
	var once sync.Once
	err = c.SubscribeAudit(ctx, "acme", 1, func(ctx context.Context, ev natscmd.AuditEvent) error {
		if ev.AccountID != "acme" || ev.Type != "TokenRenamed" {
			return fmt.Errorf("event %d: account %q, type %q", ev.Sequence, ev.AccountID, ev.Type)
		}
		r.mu.Lock()
		if ev.Sequence <= r.last {
			r.dups++
		} else {
			r.last = ev.Sequence
			r.handled = append(r.handled, ev.Sequence)
		}
		n := len(r.handled)
		r.mu.Unlock()
		switch {
		case dieAt > 0 && n >= dieAt:
			once.Do(func() { close(die) })
			<-ctx.Done()
		case dieAt == 0 && n >= total:
			cancel()
		}
		return nil
	})
	if dieAt == 0 && err != nil {
		t.Fatalf("SubscribeAudit: %v", err)
	}
	if dieAt == 0 && ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("the reader got %d of %d events", r.count(), total)
	}
}

// An audit consumer killed (its connection dropped with an event in hand,
// unacknowledged) and restarted twice while 10,000 events arrive receives
// every event of its account, in order; after de-duplicating by sequence,
// none is missing and none is there twice.
func TestAuditConsumerKilledAndRestarted(t *testing.T) {
	emb, _, js := natstest.Start(t)
	const total = 10000
	published := make(chan []uint64, 1)
	go func() { published <- publishEvents(t, js, "acme", "globex", total, 10*time.Millisecond) }()

	r := &reader{}
	r.run(t, emb.ClientURL(), 1500, total)
	r.run(t, emb.ClientURL(), 6000, total)
	r.run(t, emb.ClientURL(), 0, total)

	seqs := <-published
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Equal(r.handled, seqs) {
		t.Fatalf("handled %d events, published %d; first difference at index %d", len(r.handled), len(seqs), firstDiff(r.handled, seqs))
	}
	if r.dups == 0 {
		t.Fatal("no event came twice: the kills did not fall between handling and acknowledging")
	}
	t.Logf("%d events in order; %d redeliveries skipped by sequence", len(r.handled), r.dups)
}

// An account's consumer never sees another account's events, and an
// account id cannot widen its subject into a wildcard.
func TestAuditSeesOnlyItsAccount(t *testing.T) {
	_, nc, js := natstest.Start(t)
	acme := publishEvents(t, js, "acme", "globex", 300, 0)
	publishEvents(t, js, "acme-2", "acme2", 50, 0) // names that share a prefix
	c, err := natscmd.New(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []uint64
	err = c.SubscribeAudit(ctx, "acme", 0, func(_ context.Context, ev natscmd.AuditEvent) error {
		if ev.AccountID != "acme" || ev.Subject[:len("tokens.events.acme.")] != "tokens.events.acme." {
			return fmt.Errorf("saw %s of account %s", ev.Subject, ev.AccountID)
		}
		got = append(got, ev.Sequence)
		if len(got) == len(acme) {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, acme) {
		t.Fatalf("got %d events, want %d", len(got), len(acme))
	}
	// Nothing else arrives on a second run: it resumes after the last one.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if err := c.SubscribeAudit(ctx2, "acme", 0, func(_ context.Context, ev natscmd.AuditEvent) error {
		return fmt.Errorf("event %d again after a clean stop", ev.Sequence)
	}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"*", ">", "acme.*", "a b", ""} {
		if err := c.SubscribeAudit(ctx, bad, 0, nil); err == nil {
			t.Errorf("account id %q accepted", bad)
		}
	}
	// A durable of another account is not taken over.
	if err := c.SubscribeAudit(ctx, "globex", 0, nil, natscmd.Durable("audit-acme")); err == nil {
		t.Error("bound account acme's consumer for globex")
	}
}

// Restart moves an existing consumer back to the given sequence.
func TestAuditRestartFromSequence(t *testing.T) {
	_, nc, js := natstest.Start(t)
	seqs := publishEvents(t, js, "acme", "globex", 20, 0)
	c, err := natscmd.New(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	read := func(from uint64, want int, opts ...natscmd.AuditOption) []uint64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var got []uint64
		err := c.SubscribeAudit(ctx, "acme", from, func(_ context.Context, ev natscmd.AuditEvent) error {
			got = append(got, ev.Sequence)
			if len(got) == want {
				cancel()
			}
			return nil
		}, opts...)
		if err != nil || len(got) != want {
			t.Fatalf("from %d: %d events, %v", from, len(got), err)
		}
		return got
	}
	if got := read(seqs[10], 10, natscmd.Durable("tail")); !slices.Equal(got, seqs[10:]) {
		t.Fatalf("a new consumer from %d: %v", seqs[10], got)
	}
	if got := read(seqs[4], 16, natscmd.Durable("tail"), natscmd.Restart()); !slices.Equal(got, seqs[4:]) {
		t.Fatalf("restarted at %d: %v", seqs[4], got)
	}
}

func firstDiff(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// StopWhenCaughtUp works through the backlog and returns; with none it
// returns at once.
func TestAuditStopWhenCaughtUp(t *testing.T) {
	_, nc, js := natstest.Start(t)
	c, err := natscmd.New(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	none := func(_ context.Context, ev natscmd.AuditEvent) error {
		return fmt.Errorf("event %d of an empty account", ev.Sequence)
	}
	if err := c.SubscribeAudit(ctx, "acme", 0, none, natscmd.StopWhenCaughtUp()); err != nil {
		t.Fatal(err)
	}
	seqs := publishEvents(t, js, "acme", "globex", 40, 0)
	var got []uint64
	err = c.SubscribeAudit(ctx, "acme", 0, func(_ context.Context, ev natscmd.AuditEvent) error {
		got = append(got, ev.Sequence)
		return nil
	}, natscmd.StopWhenCaughtUp())
	if err != nil || !slices.Equal(got, seqs) {
		t.Fatalf("caught up with %d of %d events: %v", len(got), len(seqs), err)
	}
	if err := c.SubscribeAudit(ctx, "acme", 0, none, natscmd.StopWhenCaughtUp()); err != nil {
		t.Fatal(err)
	}
}
