package main

import (
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/console"
	"github.com/tokend/tokend/adapters/httpapi"
	"github.com/tokend/tokend/adapters/natsintake"
	"github.com/tokend/tokend/projections"
)

// newHTTPServer wires the HTTP API to the read model, the projector's lag,
// the command service, the NATS connection (for /readyz) and the outcomes
// of NATS commands (for GET /v1/commands/{id}), with the web console at "/".
func newHTTPServer(cfg config, logger *slog.Logger, store *projections.Store, projector *projections.Projector, svc *commands.Service, nc *nats.Conn, outcomes *natsintake.Outcomes) (*httpapi.Server, error) {
	limits := &httpapi.RateLimits{} // the zero limits: off
	if cfg.RateLimit {
		limits = nil // API.md's defaults
	}
	return httpapi.New(httpapi.Config{
		Store:      store,
		Commands:   svc,
		Lag:        projector.Lag,
		PingNATS:   func() error { return pingNATS(nc) },
		Logger:     logger,
		RateLimits: limits,
		Addr:       cfg.HTTPAddr,
		Console:    console.Handler(),
		Outcomes:   outcomes,
	})
}

// pingNATS reports whether NATS answers a PING within a second.
func pingNATS(nc *nats.Conn) error { return nc.FlushTimeout(time.Second) }
