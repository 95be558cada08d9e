package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// growthPhase measures how cost grows with the number of events per token
// (1, 10, 100, 1,000), at about the same number of events in the log each
// time: the rebuild's events/s, loading a token's events from the log
// (EventStore.Load: what a command on an uncached token cost before the
// read model's snapshots, and what it still costs after a conflict), and,
// on the rebuilt read model, Store.TokenState (what such a command costs
// now), Store.Token and the first page of the token's audit trail.
func (b *bench) growthPhase(ctx context.Context) error {
	events := 100_000
	if b.quick {
		events = 5_000
	}
	for _, per := range []int{1, 10, 100, 1000} {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := b.growthStep(ctx, events, per); err != nil {
			return fmt.Errorf("%d events per token: %w", per, err)
		}
	}
	return nil
}

func (b *bench) growthStep(ctx context.Context, events, per int) error {
	tokens := max(10, events/per)
	dir := filepath.Join(b.root, fmt.Sprintf("growth-%d", per))
	s, err := b.startJS(ctx, filepath.Join(dir, "jetstream"), true)
	if err != nil {
		return err
	}
	defer s.close()
	admin, err := domain.NewSecret(domain.LicensePrefix)
	if err != nil {
		return err
	}
	h, err := newHistory(tokens, per, admin)
	if err != nil {
		return err
	}
	if _, err := b.publishHistory(ctx, s, h, fmt.Sprintf("growth: %d events per token", per), false); err != nil {
		return err
	}
	group := fmt.Sprintf("%d events/token", per)
	n := h.len()
	start := time.Now()
	if err := projections.Rebuild(ctx, dir, s.js, b.quiet); err != nil {
		return err
	}
	took := time.Since(start)
	b.add(&Row{Group: group, Name: "Rebuild", Value: float64(n) / took.Seconds(), Unit: "events/s",
		Note: fmt.Sprintf("%d events over %d tokens in %.2f s", n, tokens, took.Seconds())})

	ids := make([]string, tokens)
	for i := range ids {
		ids[i] = h.ids(i)
	}
	lookups := min(2000, 20*tokens)
	if b.quick {
		lookups = min(lookups, 200)
	}
	es := natsjs.NewEventStore(s.js)
	rnd := rand.New(rand.NewPCG(1, uint64(per)))
	// A long history takes long to load: fewer samples.
	m, err := b.load("growth: EventStore.Load", min(lookups, max(50, 20_000/per)), 1, func(_, _ int) error {
		evs, err := es.Load(ctx, domain.DefaultAccountID, ids[rnd.IntN(tokens)])
		if err == nil && len(evs) != per {
			err = fmt.Errorf("loaded %d events, want %d", len(evs), per)
		}
		return err
	})
	if err != nil {
		return err
	}
	b.add(&Row{Group: group, Name: "EventStore.Load of one token (the log)", Value: m.Rate(), Unit: "loads/s",
		P50Ms: ms(m.P50), P99Ms: ms(m.P99), Note: "1 goroutine"})

	store, err := projections.Open(filepath.Join(dir, projections.ReadModelDir), projections.Options{Logger: b.quiet})
	if err != nil {
		return err
	}
	defer store.Close()
	type op struct {
		name string
		fn   func(id string) error
	}
	for _, o := range []op{
		{"Store.TokenState (a command's start on a cache miss)", func(id string) error {
			t, _, err := store.TokenState(domain.DefaultAccountID, id)
			if err == nil && t.Version() != int64(per) {
				err = fmt.Errorf("version %d, want %d", t.Version(), per)
			}
			return err
		}},
		{"Store.Token", func(id string) error {
			_, err := store.Token(domain.DefaultAccountID, id)
			return err
		}},
		{"Store.TokenAudit, first page of 50", func(id string) error {
			p, err := store.TokenAudit(domain.DefaultAccountID, id, projections.AuditQuery{Limit: 50})
			if err == nil && len(p.Entries) != min(per, 50) {
				err = fmt.Errorf("%d entries, want %d", len(p.Entries), min(per, 50))
			}
			return err
		}},
	} {
		if _, err := b.load("warm-up", lookups, 1, func(_, _ int) error { return o.fn(ids[rnd.IntN(tokens)]) }); err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
		m, err := b.load(o.name, lookups, 1, func(_, _ int) error { return o.fn(ids[rnd.IntN(tokens)]) })
		if err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
		b.add(&Row{Group: group, Name: o.name, Value: m.Rate(), Unit: "lookups/s", P50Ms: ms(m.P50), P99Ms: ms(m.P99),
			Note: "1 goroutine"})
	}
	return nil
}
