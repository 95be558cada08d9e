package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsintake"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/projections"
)

func serveCommand() *cobra.Command {
	var cfg config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the service: HTTP API, NATS command intake, projector",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.check(true); err != nil {
				return err
			}
			logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			return serve(cmd.Context(), cfg, logger)
		},
	}
	cfg.natsFlags(cmd.Flags())
	cfg.serveFlags(cmd.Flags())
	return cmd
}

// serve runs the service until ctx ends, then drains and closes everything
// in the reverse order it was opened: HTTP stops taking requests and lets
// the ones in flight finish, the intake and projector stop, the NATS
// connection drains, the embedded server shuts down, Badger closes.
func serve(ctx context.Context, cfg config, logger *slog.Logger) (err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// The read model first: its directory lock is what stops a second
	// tokend on the same data directory before it touches anything else.
	opts := cfg.readModelOptions()
	opts.Logger = logger
	store, err := projections.Open(filepath.Join(cfg.DataDir, "readmodel"), opts)
	if err != nil {
		return err
	}
	defer closeLogged(logger, "read model", store.Close)

	url, nc, js, closeNATS, err := connectNATS(cfg, "tokend", false, logger)
	if err != nil {
		return err
	}
	defer closeNATS()
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := natsjs.EnsureStreams(startCtx, js, cfg.Replicas); err != nil {
		return err
	}

	runCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	projector := projections.NewProjector(store, js, logger)
	projectorDone := make(chan error, 1)
	go func() { projectorDone <- projector.Run(runCtx) }()

	svc := commands.New(natsjs.NewEventStore(js), store, commands.Config{MaxLifetime: cfg.MaxLifetime, Logger: logger})
	created, err := svc.Bootstrap(startCtx, cfg.DataDir, cfg.AdminLicense)
	if err != nil {
		return err
	}
	if created {
		where := filepath.Join(cfg.DataDir, commands.AdminLicenseFile)
		if cfg.AdminLicense != "" {
			where = "TOKEND_ADMIN_LICENSE"
		}
		logger.Info("created the default account", "adminLicense", where)
	}

	// Where the NATS intake remembers outcomes; HTTP reads them back.
	outcomes, err := natsintake.OpenOutcomes(startCtx, js, cfg.Replicas,
		natsintake.Log{ReadModel: store, LastSequence: natsjs.NewEventStore(js).LastSequence})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", cfg.HTTPAddr, err)
	}
	srv, err := newHTTPServer(cfg, logger, store, projector, svc, nc, outcomes)
	if err != nil {
		ln.Close()
		return err
	}
	// The NATS intake starts once the command service can carry out what
	// waited in TOKEN_COMMANDS, and once the read model holds every license
	// the log had at start: a command that waited for tokend must not be
	// refused as unauthenticated by a read model that is still catching up.
	// It stops before the NATS connection drains.
	if last, err := natsjs.NewEventStore(js).LastSequence(startCtx); err == nil {
		if err := store.WaitFor(startCtx, last, 25*time.Second); err != nil {
			logger.Warn("the read model is behind the log at start; NATS commands may be refused until it catches up", "err", err)
		}
	}
	intake, err := natsintake.Start(startCtx, natsintake.Config{
		URL: url, JS: js, Commands: svc, Licenses: store, Outcomes: outcomes,
		Metrics: srv.Metrics(), Logger: logger,
	})
	if err != nil {
		ln.Close()
		return err
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	logger.Info("tokend serving", "http", ln.Addr().String(), "nats", url, "dataDir", cfg.DataDir)

	projectorRunning := true
	select {
	case <-ctx.Done():
	case err = <-httpDone:
	case err = <-projectorDone:
		projectorRunning = false
		err = fmt.Errorf("projector: %w", err)
	}
	logger.Info("tokend shutting down")
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancelShutdown()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		logger.Warn("http shutdown", "err", serr)
	}
	closeLogged(logger, "command intake", intake.Close)
	stopAll()
	if projectorRunning {
		<-projectorDone // before the read model closes under it
	}
	return err
}

func closeLogged(logger *slog.Logger, what string, close func() error) {
	if err := close(); err != nil {
		logger.Warn("close "+what, "err", err)
	}
}
