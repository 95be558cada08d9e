// Package stacktest runs tokend's core in-process for one test: an embedded
// JetStream server with the tokend streams (natstest), a Badger read model in
// t.TempDir() with its projector running, the event store, the command
// service, and a bootstrapped admin license whose account the read model
// already holds. Everything is stopped by t.Cleanup, even when the test fails.
//
// It exists because the tests of every adapter that sits on this core (the
// HTTP API, the console, the NATS intake, the NATS command SDK) had each
// written the same assembly; they now add only their own pieces on top. It
// imports none of those adapters, so that their internal tests can use it.
package stacktest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsintake"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/natsjs/natstest"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// Core is the running core of one test.
type Core struct {
	Server    *natsjs.Embedded
	NC        *nats.Conn
	JS        jetstream.JetStream
	Events    *natsjs.EventStore
	Store     *projections.Store
	Projector *projections.Projector
	Commands  *commands.Service
	Admin     string // a license of the account "default", from Bootstrap
}

// Start starts the core with logging discarded, bootstraps the default
// account with a fresh admin license, and returns once the read model has
// applied the bootstrap (so the admin license authenticates).
func Start(t testing.TB) *Core {
	t.Helper()
	emb, nc, js := natstest.Start(t)
	quiet := slog.New(slog.DiscardHandler)
	store, err := projections.Open(filepath.Join(t.TempDir(), "readmodel"), projections.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("stacktest: open read model: %v", err)
	}
	proj := projections.NewProjector(store, js, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proj.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		store.Close()
	})
	events := natsjs.NewEventStore(js)
	svc := commands.New(events, store, commands.Config{Logger: quiet})
	admin, err := domain.NewSecret(domain.LicensePrefix)
	if err != nil {
		t.Fatalf("stacktest: admin license: %v", err)
	}
	bctx, bcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer bcancel()
	if _, err := svc.Bootstrap(bctx, t.TempDir(), admin); err != nil {
		t.Fatalf("stacktest: bootstrap: %v", err)
	}
	c := &Core{Server: emb, NC: nc, JS: js, Events: events, Store: store, Projector: proj, Commands: svc, Admin: admin}
	c.Settle(t)
	return c
}

// LastSeq is the event stream's last sequence.
func (c *Core) LastSeq(t testing.TB) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := c.Events.LastSequence(ctx)
	if err != nil {
		t.Fatalf("stacktest: last sequence: %v", err)
	}
	return n
}

// Settle waits until the read model has applied every event so far.
func (c *Core) Settle(t testing.TB) {
	t.Helper()
	last := c.LastSeq(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Store.WaitFor(ctx, last, 10*time.Second); err != nil {
		t.Fatalf("stacktest: read model: %v", err)
	}
}

// Outcomes opens the NATS intake's outcomes bucket, reading the outcomes of
// commands that emitted events from this read model, as tokend serve does.
func (c *Core) Outcomes(t testing.TB) *natsintake.Outcomes {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o, err := natsintake.OpenOutcomes(ctx, c.JS, 1, natsintake.Log{ReadModel: c.Store, LastSequence: c.Events.LastSequence})
	if err != nil {
		t.Fatal(err)
	}
	return o
}
