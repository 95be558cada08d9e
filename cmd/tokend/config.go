package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

// config is what `tokend serve` and `tokend rebuild` are told: flags, each
// with an environment twin that gives its default (API.md "Command line").
// The raw strings are parsed by check, which names the flag that is wrong.
type config struct {
	HTTPAddr   string
	DataDir    string
	NATSURL    string
	NATSListen string
	Replicas   int

	syncRaw, replicasRaw, lifetimeRaw, rateRaw string

	// Set by check.
	Sync         natsjs.SyncMode
	MaxLifetime  time.Duration
	RateLimit    bool
	AdminLicense string // TOKEND_ADMIN_LICENSE only: a secret has no flag, so it stays out of `ps`
}

// natsFlags registers the flags shared by serve and rebuild.
func (c *config) natsFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", env("TOKEND_DATA_DIR", "./data"), "data directory: the read model, the embedded JetStream store and admin.license (env TOKEND_DATA_DIR)")
	fs.StringVar(&c.NATSURL, "nats-url", env("TOKEND_NATS_URL", ""), "NATS URL of a JetStream cluster; empty runs an embedded JetStream server (env TOKEND_NATS_URL)")
	fs.StringVar(&c.NATSListen, "nats-listen", env("TOKEND_NATS_LISTEN", "127.0.0.1:4222"), "client address of the embedded JetStream server (env TOKEND_NATS_LISTEN)")
	fs.StringVar(&c.syncRaw, "sync", env("TOKEND_SYNC", "interval"), "when the embedded JetStream flushes to disk: interval (on a short timer) or always (before every acknowledgement) (env TOKEND_SYNC)")
	fs.StringVar(&c.replicasRaw, "replicas", env("TOKEND_STREAM_REPLICAS", "1"), "replicas of the streams the service creates, 1 to 5 (env TOKEND_STREAM_REPLICAS)")
}

// serveFlags registers the flags of serve only.
func (c *config) serveFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.HTTPAddr, "http", env("TOKEND_HTTP_ADDR", "127.0.0.1:8080"), "HTTP listen address (env TOKEND_HTTP_ADDR)")
	fs.StringVar(&c.lifetimeRaw, "max-lifetime", env("TOKEND_MAX_LIFETIME", "8760h"), "longest a token may live, from now (env TOKEND_MAX_LIFETIME)")
	fs.StringVar(&c.rateRaw, "rate-limit", env("TOKEND_RATE_LIMIT", "on"), "on: 1,000 requests/s per license and 50 failed authentications/s per address; off: none (env TOKEND_RATE_LIMIT)")
}

// check parses and validates the raw values; serve says whether the serve
// flags were registered.
func (c *config) check(serve bool) error {
	var err error
	if c.Sync, err = natsjs.ParseSyncMode(c.syncRaw); err != nil {
		return fmt.Errorf("--sync (TOKEND_SYNC): %w", err)
	}
	if c.Replicas, err = strconv.Atoi(c.replicasRaw); err != nil || c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("--replicas (TOKEND_STREAM_REPLICAS): must be a whole number from 1 to 5, got %q", c.replicasRaw)
	}
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir (TOKEND_DATA_DIR): must not be empty")
	}
	if !serve {
		return nil
	}
	if c.MaxLifetime, err = time.ParseDuration(c.lifetimeRaw); err != nil || c.MaxLifetime <= 0 {
		return fmt.Errorf("--max-lifetime (TOKEND_MAX_LIFETIME): must be a positive duration such as 8760h, got %q", c.lifetimeRaw)
	}
	switch c.rateRaw {
	case "on":
		c.RateLimit = true
	case "off":
		c.RateLimit = false
	default:
		return fmt.Errorf("--rate-limit (TOKEND_RATE_LIMIT): must be on or off, got %q", c.rateRaw)
	}
	if l := os.Getenv("TOKEND_ADMIN_LICENSE"); l != "" {
		if !domain.CheckSecret(domain.LicensePrefix, l) {
			return fmt.Errorf("TOKEND_ADMIN_LICENSE: not a well-formed license (lic_ followed by 43 base62 characters and a 6-character checksum); unset it to have tokend draw one into <data-dir>/admin.license")
		}
		c.AdminLicense = l
	}
	return nil
}

// env returns the environment variable key, or fallback when it is unset
// or empty: an empty value is how shells and unit files leave a setting out.
func env(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
