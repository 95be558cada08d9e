package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokend/tokend/projections"
)

func rebuildCommand() *cobra.Command {
	var cfg config
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Rebuild the read model from the event streams (with the service stopped)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.checkRebuild(); err != nil {
				return err
			}
			logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			return rebuild(cmd.Context(), cfg, logger)
		},
	}
	cfg.natsFlags(cmd.Flags())
	cfg.rebuildFlags(cmd.Flags())
	return cmd
}

// rebuild replays TOKEN_EVENTS into a fresh read model and swaps it in.
func rebuild(ctx context.Context, cfg config, logger *slog.Logger) error {
	// Taking the live read model's lock first proves no tokend serves this
	// data directory, so the embedded JetStream store is ours alone too.
	live, err := projections.Open(filepath.Join(cfg.DataDir, "readmodel"), projections.Options{Logger: logger})
	if err != nil {
		return err
	}
	if err := live.Close(); err != nil {
		return err
	}
	_, _, js, closeNATS, err := connectNATS(cfg, "tokend-rebuild", true, logger)
	if err != nil {
		return err
	}
	defer closeNATS()
	start := time.Now()
	if err := projections.RebuildWith(ctx, cfg.DataDir, js, projections.Options{Logger: logger, RebuildMemory: cfg.SortMemory}); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	logger.Info("read model rebuilt", "took", time.Since(start).String())
	return nil
}
