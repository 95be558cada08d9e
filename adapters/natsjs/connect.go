package natsjs

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	neturl "net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Reconnect backoff of Connect: the first retry after reconnectMin, doubling
// up to reconnectMax, each with up to a quarter of random jitter so that
// replicas restarted together do not reconnect in lockstep.
const (
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 5 * time.Second
)

// Connect dials url as client name (default "tokend") and returns the
// connection and its JetStream context. The connection reconnects forever
// with capped exponential backoff, buffering publishes meanwhile, and logs
// disconnections, reconnections, asynchronous errors and its final close
// through log (nil means slog.Default()). The initial dial is not retried:
// a wrong URL fails at start with the dial's error. Close the connection
// (or Drain it) when done.
func Connect(url string, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if name == "" {
		name = "tokend"
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "nats", "client", name)
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.DisconnectErrHandler(func(c *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS", "url", c.ConnectedUrlRedacted(), "err", err)
			} else {
				log.Info("disconnected from NATS", "url", c.ConnectedUrlRedacted())
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("reconnected to NATS", "url", c.ConnectedUrlRedacted(), "reconnects", c.Stats().Reconnects)
		}),
		nats.ClosedHandler(func(c *nats.Conn) {
			if err := c.LastError(); err != nil {
				log.Warn("NATS connection closed", "err", err)
				return
			}
			log.Debug("NATS connection closed")
		}),
		nats.ErrorHandler(func(c *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Error("NATS asynchronous error", "subject", sub.Subject, "err", err)
				return
			}
			log.Error("NATS asynchronous error", "err", err)
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", redactURLs(url), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("JetStream context: %w", err)
	}
	return nc, js, nil
}

// reconnectDelay is the backoff for the attempts-th pass over the server list.
func reconnectDelay(attempts int) time.Duration {
	d := reconnectMax
	if attempts < 16 {
		d = min(reconnectMin<<max(attempts-1, 0), reconnectMax)
	}
	return d + rand.N(d/4+1)
}

// redactURLs hides credentials (user, password or token) in a
// comma-separated list of server URLs, for error messages and logs.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := neturl.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		u.User = neturl.User("redacted")
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
