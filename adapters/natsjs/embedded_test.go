package natsjs_test

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/natsjs/natstest"
	"github.com/tokend/tokend/domain"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestParseSyncMode(t *testing.T) {
	tests := []struct {
		in      string
		want    natsjs.SyncMode
		wantErr bool
	}{
		{"", natsjs.SyncInterval, false},
		{"interval", natsjs.SyncInterval, false},
		{"always", natsjs.SyncAlways, false},
		{" Always ", natsjs.SyncAlways, false},
		{"never", "", true},
		{"1s", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := natsjs.ParseSyncMode(tc.in)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("ParseSyncMode(%q) = %q, %v", tc.in, got, err)
			}
			if err != nil && !strings.Contains(err.Error(), strconv.Quote(tc.in)) {
				t.Errorf("error %q does not name the input", err)
			}
		})
	}
}

func TestStartEmbeddedRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  natsjs.EmbeddedConfig
		want string
	}{
		{"no store", natsjs.EmbeddedConfig{Listen: "127.0.0.1:-1"}, "store"},
		{"all interfaces", natsjs.EmbeddedConfig{Listen: "0.0.0.0:-1", StoreDir: t.TempDir()}, "loopback"},
		{"no host", natsjs.EmbeddedConfig{Listen: ":4222", StoreDir: t.TempDir()}, "loopback"},
		{"public address", natsjs.EmbeddedConfig{Listen: "192.0.2.1:4222", StoreDir: t.TempDir()}, "loopback"},
		{"bad port", natsjs.EmbeddedConfig{Listen: "127.0.0.1:http", StoreDir: t.TempDir()}, "port"},
		{"bad sync", natsjs.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: t.TempDir(), Sync: "sometimes"}, "sometimes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = discard()
			e, err := natsjs.StartEmbedded(tc.cfg)
			if err == nil {
				e.Shutdown()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestStartEmbeddedStoreInUse(t *testing.T) {
	dir := t.TempDir()
	srv, _, _ := natstest.StartAt(t, dir)
	start := time.Now()
	_, err := natsjs.StartEmbedded(natsjs.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: dir, Logger: discard()})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second server on the same store: %v, want an in-use error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("refusal took %s", d)
	}
	// The port is taken too: that must fail fast, not after the ready timeout.
	addr := strings.TrimPrefix(srv.ClientURL(), "nats://")
	start = time.Now()
	_, err = natsjs.StartEmbedded(natsjs.EmbeddedConfig{Listen: addr, StoreDir: t.TempDir(), Logger: discard()})
	if err == nil {
		t.Fatal("second server on the same port started")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("port clash took %s to report: %v", d, err)
	}
	t.Logf("port clash: %v", err)
}

func TestRestartKeepsEverything(t *testing.T) {
	for _, mode := range []natsjs.SyncMode{natsjs.SyncInterval, natsjs.SyncAlways} {
		t.Run(string(mode), func(t *testing.T) {
			dir := t.TempDir()
			cfg := natsjs.EmbeddedConfig{StoreDir: dir, Sync: mode}
			srv, nc, js := natstest.StartWith(t, cfg)
			jsc := srv.Server().JetStreamConfig()
			switch mode {
			case natsjs.SyncAlways:
				if !jsc.SyncAlways {
					t.Fatal("SyncAlways not set on the server")
				}
			default:
				if jsc.SyncAlways || jsc.SyncInterval != natsjs.DefaultSyncInterval {
					t.Fatalf("sync: always %v, interval %s; want interval %s", jsc.SyncAlways, jsc.SyncInterval, natsjs.DefaultSyncInterval)
				}
			}

			s := natsjs.NewEventStore(js)
			ctx := ctxT(t)
			var want []natsjs.StoredEvent
			var last uint64
			for i := range 20 {
				ev := newRenamed("a", "tok", i)
				last = mustAppend(t, s, ev, last)
				want = append(want, natsjs.StoredEvent{Sequence: last, Event: ev})
			}
			acct := mustAppend(t, s, modelRegistered("a", "m1"), 0)

			nc.Close()
			srv.Shutdown()
			srv.Shutdown() // idempotent

			srv2, _, js2 := natstest.StartAt(t, dir)
			_ = srv2
			s2 := natsjs.NewEventStore(js2)
			got, err := s2.Load(ctx, "a", "tok")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("after restart: %d events, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i].Sequence != want[i].Sequence || got[i].Event.ID != want[i].Event.ID || !got[i].Event.At.Equal(want[i].Event.At) {
					t.Fatalf("after restart, event %d = %+v, want %+v", i, got[i], want[i])
				}
			}
			if ls, err := s2.LastSequence(ctx); err != nil || ls != acct {
				t.Fatalf("LastSequence after restart = %d, %v; want %d", ls, err, acct)
			}
			// Expectations and de-duplication carry on from the stored state.
			if _, _, err := s2.Append(ctx, newRenamed("a", "tok", 99), 0); !errors.Is(err, natsjs.ErrConcurrentAppend) {
				t.Fatalf("append with expected 0 after restart: %v", err)
			}
			if seq, dup, err := s2.Append(ctx, want[0].Event, 0); err != nil || !dup || seq != want[0].Sequence {
				t.Fatalf("retry of the first event after restart: %d, %v, %v", seq, dup, err)
			}
			if seq := mustAppend(t, s2, newRenamed("a", "tok", 20), last); seq != acct+1 {
				t.Fatalf("next append at %d, want %d", seq, acct+1)
			}
			evs, err := s2.Load(ctx, "a", domain.AccountSubject)
			if err != nil || len(evs) != 1 || evs[0].Sequence != acct {
				t.Fatalf("account subject after restart: %+v, %v", evs, err)
			}
		})
	}
}
