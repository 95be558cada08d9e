package natsjs_test

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/natsjs/natstest"
)

func TestEnsureStreams(t *testing.T) {
	srv, _, _ := natstest.Start(t) // ensured once already
	ctx := ctxT(t)

	// Two more connections, as two tokend processes would have.
	conns := make([]jetstream.JetStream, 2)
	for i := range conns {
		nc, js, err := natsjs.Connect(srv.ClientURL(), "ensure", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		conns[i] = js
	}
	js := conns[0]

	check := func(t *testing.T) {
		t.Helper()
		tests := []struct {
			name     string
			subjects []string
			maxAge   time.Duration
			deny     bool
		}{
			{natsjs.EventsStream, []string{"tokens.events.>"}, 0, true},
			{natsjs.CommandsStream, []string{"tokens.commands.>"}, 7 * 24 * time.Hour, false},
		}
		for _, tc := range tests {
			st, err := js.Stream(ctx, tc.name)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			c := st.CachedInfo().Config
			if len(c.Subjects) != 1 || c.Subjects[0] != tc.subjects[0] {
				t.Errorf("%s: subjects %v, want %v", tc.name, c.Subjects, tc.subjects)
			}
			if c.Storage != jetstream.FileStorage || c.Replicas != 1 || !c.AllowDirect ||
				c.Retention != jetstream.LimitsPolicy || c.Duplicates != 2*time.Minute ||
				c.MaxAge != tc.maxAge || c.DenyDelete != tc.deny || c.DenyPurge != tc.deny ||
				c.MaxMsgs != -1 || c.MaxBytes != -1 {
				t.Errorf("%s: config %+v", tc.name, c)
			}
		}
	}

	t.Run("first", check)
	t.Run("again", func(t *testing.T) {
		if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
			t.Fatal(err)
		}
		check(t)
	})
	t.Run("concurrently on a fresh server", func(t *testing.T) {
		// A server without the streams, so both goroutines race to create.
		for round := range 3 {
			fresh, err := natsjs.StartEmbedded(natsjs.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: t.TempDir(), Logger: discard()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(fresh.Shutdown)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			var first jetstream.JetStream
			for i := range errs {
				nc, js, err := natsjs.Connect(fresh.ClientURL(), "ensure", discard())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(nc.Close)
				first = js
				wg.Go(func() { errs[i] = natsjs.EnsureStreams(ctx, js, 1) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d, goroutine %d: %v", round, i, err)
				}
			}
			names := first.StreamNames(ctx)
			n := 0
			for range names.Name() {
				n++
			}
			if names.Err() != nil || n != 2 {
				t.Fatalf("round %d: %d streams (%v), want 2", round, n, names.Err())
			}
		}
	})
	t.Run("events cannot be deleted or purged", func(t *testing.T) {
		s := natsjs.NewEventStore(js)
		seq := mustAppend(t, s, newRenamed("a", "keep", 0), 0)
		st, err := js.Stream(ctx, natsjs.EventsStream)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteMsg(ctx, seq); err == nil {
			t.Error("DeleteMsg succeeded on TOKEN_EVENTS")
		}
		if err := st.Purge(ctx); err == nil {
			t.Error("Purge succeeded on TOKEN_EVENTS")
		}
	})
	t.Run("bad replicas", func(t *testing.T) {
		if err := natsjs.EnsureStreams(ctx, js, 0); err == nil {
			t.Fatal("EnsureStreams(0 replicas): no error")
		}
	})
}
