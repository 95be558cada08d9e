package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

const (
	rowRebuild = "Rebuild (projections.Rebuild)"
	rowPublish = "bulk load of the rebuild's events (async publish)"
)

// rebuildPhase writes rebuild-events well-formed events over rebuild-tokens
// tokens into a fresh JetStream with async publishes, then times
// projections.Rebuild of the whole stream (what `tokend rebuild` runs).
func (b *bench) rebuildPhase(ctx context.Context) error {
	dir := filepath.Join(b.root, "rebuild")
	s, err := b.startJS(ctx, filepath.Join(dir, "jetstream"), true)
	if err != nil {
		return err
	}
	defer s.close()
	admin, err := domain.NewSecret(domain.LicensePrefix)
	if err != nil {
		return err
	}
	perTok := max(1, b.rebuildEv/max(1, b.rebuildTok))
	h, err := newHistory(b.rebuildTok, perTok, admin)
	if err != nil {
		return err
	}
	// Without Nats-Msg-Id, as the rss phase's bulk load: a log of a
	// million events is older than JetStream's two-minute duplicate window,
	// whose ids the server would otherwise hold in memory (and the garbage
	// collector scan) all through the rebuild, an artefact of loading the
	// log just before.
	took, err := b.publishHistory(ctx, s, h, "rebuild: publish events", true)
	if err != nil {
		return err
	}
	n := h.len()
	b.add(&Row{Group: "rebuild", Name: rowPublish, Value: float64(n) / took.Seconds(), Unit: "events/s",
		Note: fmt.Sprintf("%d events over %d tokens, encoded and published in %.1f s", n, b.rebuildTok, took.Seconds())})
	b.log.Info("rebuilding", "events", n, "tokens", b.rebuildTok)
	stop := b.spinner("rebuild: projections.Rebuild")
	start := time.Now()
	err = projections.Rebuild(ctx, dir, s.js, b.quiet)
	elapsed := time.Since(start)
	stop()
	if err != nil {
		return err
	}
	r := b.add(&Row{Group: "rebuild", Name: rowRebuild, Value: elapsed.Seconds(), Unit: "s",
		Note: fmt.Sprintf("%d events over %d tokens, %d per token: %.0f events/s", n, b.rebuildTok, perTok, float64(n)/elapsed.Seconds())})
	_ = r
	return nil
}

// spinner shows a progress bar of elapsed seconds for a phase whose end is
// not known in advance; the returned func stops it.
func (b *bench) spinner(desc string) func() {
	bar := b.bar(desc, -1)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = bar.Add(1)
			}
		}
	}()
	return func() {
		close(done)
		_ = bar.Finish()
		bar.Close()
	}
}
