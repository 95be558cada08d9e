// Package natstest starts an embedded JetStream server for one test, the way
// nats-server's own tests do: a random port, a store in t.TempDir(), the
// tokend streams ensured, and everything shut down by t.Cleanup, even when
// the test fails.
package natstest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokend/tokend/adapters/natsjs"
)

// Start starts an embedded JetStream server on 127.0.0.1 with a random port
// and a fresh store in t.TempDir(), ensures TOKEN_EVENTS and TOKEN_COMMANDS
// (one replica), and returns the server, a connection and its JetStream
// context. t.Cleanup closes the connection and shuts the server down.
func Start(t testing.TB) (*natsjs.Embedded, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	return StartAt(t, t.TempDir())
}

// StartAt is Start on the given store directory, so that a test can shut a
// server down (Embedded.Shutdown is idempotent, Cleanup's call then does
// nothing) and start another on the same store to check what survived.
func StartAt(t testing.TB, storeDir string) (*natsjs.Embedded, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	return StartWith(t, natsjs.EmbeddedConfig{StoreDir: storeDir})
}

// StartWith is Start with a configuration of the caller's: an empty Listen
// becomes 127.0.0.1:-1 and a nil Logger discards the server's logging (it
// would otherwise outlive the test's log).
func StartWith(t testing.TB, cfg natsjs.EmbeddedConfig) (*natsjs.Embedded, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:-1"
	}
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
		cfg.Logger = log
	}
	srv, err := natsjs.StartEmbedded(cfg)
	if err != nil {
		t.Fatalf("natstest: start embedded server: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	nc, js, err := natsjs.Connect(srv.ClientURL(), "tokend-test", log)
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	// Registered after the server's, so it runs first: close the client,
	// then stop the server.
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatalf("natstest: ensure streams: %v", err)
	}
	return srv, nc, js
}
