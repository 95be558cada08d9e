package natsintake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsjs/natstest"
	"github.com/tokend/tokend/adapters/wire"
)

// TestLookupsAnswerAsTheBucket: many look-ups at once, over keys the bucket
// holds, keys deleted or purged since, and keys it never had, each get what
// kv.Get would say, in fewer requests than look-ups; and the same one key
// at a time, as with a server older than 2.11.
func TestLookupsAnswerAsTheBucket(t *testing.T) {
	t.Run("batched", func(t *testing.T) { testLookups(t, true) })
	t.Run("one at a time", func(t *testing.T) { testLookups(t, false) })
}

func testLookups(t *testing.T, batched bool) {
	ctx, nc, o := startBucket(t)
	want := map[uuid.UUID][]byte{}
	var ids []uuid.UUID
	for i := range 300 {
		id := uuid.New()
		ids = append(ids, id)
		switch i % 4 {
		case 0: // never remembered
		case 1:
			want[id] = fmt.Appendf(nil, `{"n":%d}`, i)
			if _, err := o.kv.Put(ctx, id.String(), want[id]); err != nil {
				t.Fatal(err)
			}
		case 2:
			if _, err := o.kv.Put(ctx, id.String(), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if err := o.kv.Delete(ctx, id.String()); err != nil {
				t.Fatal(err)
			}
		case 3:
			if _, err := o.kv.Put(ctx, id.String(), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if err := o.kv.Purge(ctx, id.String()); err != nil {
				t.Fatal(err)
			}
		}
	}
	l, err := newLookups(nc, o.kv)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	if !l.batched {
		t.Fatalf("server %s: batched gets off", nc.ConnectedServerVersion())
	}
	l.batched = batched

	var wg sync.WaitGroup
	errs := make(chan error, len(ids)*2)
	for _, id := range append(ids, ids...) { // each key twice, some in one batch
		wg.Go(func() {
			got, err := l.get(id)
			if err != nil {
				errs <- err
				return
			}
			if w, ok := want[id]; !bytes.Equal(got, w) || (got == nil) == ok {
				errs <- fmt.Errorf("%s: got %q, want %q", id, got, w)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if batched && l.rounds.Load() >= uint64(2*len(ids)) {
		t.Errorf("%d look-ups took %d requests: none were batched", 2*len(ids), l.rounds.Load())
	}
	t.Logf("%d look-ups in %d requests", 2*len(ids), l.rounds.Load())

	// A lone look-up still goes out at once and finds its key.
	if got, err := l.get(ids[1]); err != nil || !bytes.Equal(got, want[ids[1]]) {
		t.Fatalf("lone look-up: %q, %v", got, err)
	}
}

// TestLookupsFailWithoutTheBucket: with no stream to answer, a look-up is an
// error (the handler retries it), never "not remembered", which would run
// a repeat again.
func TestLookupsFailWithoutTheBucket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, nc, js := natstest.Start(t)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "GONE"})
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteKeyValue(ctx, "GONE"); err != nil {
		t.Fatal(err)
	}
	l, err := newLookups(nc, kv)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	l.timeout = 2 * time.Second
	got, err := l.get(uuid.New())
	if err == nil || got != nil {
		t.Fatalf("look-up without a bucket: %q, %v", got, err)
	}
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("look-up without a bucket: %v, want no responders", err)
	}
	// Once closed, a look-up is answered at once, with an error.
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.start(uuid.New()).wait(); !errors.Is(err, errLookupsClosed) {
		t.Fatalf("look-up after close: %v", err)
	}
}

func TestServerAtLeast(t *testing.T) {
	for v, want := range map[string]bool{
		"2.11.0": true, "2.15.2": true, "3.0.0": true, "2.12.0-beta.1": true,
		"2.10.24": false, "1.4.1": false, "": false, "x.y": false,
	} {
		if got := serverAtLeast(v, 2, 11); got != want {
			t.Errorf("serverAtLeast(%q, 2, 11) = %v", v, got)
		}
	}
}

// TestPrefetchedLookupServesOneAttempt: a look-up started as the message
// arrived answers the first attempt at its command only. A retry asks the
// bucket again (the attempt before it may have remembered an outcome
// since), and so does a command whose body names another id than its
// Nats-Msg-Id.
func TestPrefetchedLookupServesOneAttempt(t *testing.T) {
	ctx, nc, o := startBucket(t)
	l, err := newLookups(nc, o.kv)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	in := &Intake{lookups: l}

	id := uuid.New()
	c := &rawCommand{Subject: "tokens.commands.RenameToken", prefetched: l.start(id)}
	if _, err := c.prefetched.wait(); err != nil {
		t.Fatal(err)
	}
	// The first attempt remembers an outcome, then fails (say, publishing it).
	if err := o.put(ctx, remembered{Outcome: wire.Outcome{CommandID: id.String(), Status: wire.StatusRejected}, AccountID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, found, err := in.remembered(c, id); err != nil || found {
		t.Fatalf("first attempt: found %v, %v; want the prefetched answer (none)", found, err)
	}
	retry := *c // each attempt unmarshals its own copy of the command
	if r, found, err := in.remembered(&retry, id); err != nil || !found || r.AccountID != "a" {
		t.Fatalf("retry: %+v, found %v, %v; want the outcome the first attempt remembered", r, found, err)
	}

	other := &rawCommand{Subject: "tokens.commands.RenameToken", prefetched: l.start(uuid.New())}
	if _, found, err := in.remembered(other, id); err != nil || !found {
		t.Fatalf("a body naming another command than its Nats-Msg-Id: found %v, %v", found, err)
	}
}

// startBucket starts a JetStream server for the test and opens the
// outcomes bucket on it; the context ends with the test or after 20 s.
func startBucket(t *testing.T) (context.Context, *nats.Conn, *Outcomes) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	_, nc, js := natstest.Start(t)
	o, err := OpenOutcomes(ctx, js, 1, Log{})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, nc, o
}
