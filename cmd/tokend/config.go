package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
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

	syncRaw, replicasRaw, lifetimeRaw, rateRaw, cacheRaw, memtableRaw, sortRaw string

	// Set by check.
	Sync         natsjs.SyncMode
	MaxLifetime  time.Duration
	RateLimit    bool
	CacheSize    int64  // bytes of Badger's block and index caches
	MemTableSize int64  // bytes of one Badger memtable
	SortMemory   int64  // rebuild only: bytes of the rebuild's sorted run
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

// rebuildFlags registers the flags of rebuild only.
func (c *config) rebuildFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.sortRaw, "sort-memory", env("TOKEND_SORT_MEMORY", "1GiB"), "memory for sorting the rebuilt read model's keys before they are written; a log that needs more is finished through Badger's memtables, slower; 64MiB to 64GiB (env TOKEND_SORT_MEMORY)")
}

// serveFlags registers the flags of serve only.
func (c *config) serveFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.HTTPAddr, "http", env("TOKEND_HTTP_ADDR", "127.0.0.1:8080"), "HTTP listen address (env TOKEND_HTTP_ADDR)")
	fs.StringVar(&c.lifetimeRaw, "max-lifetime", env("TOKEND_MAX_LIFETIME", "8760h"), "longest a token may live, from now (env TOKEND_MAX_LIFETIME)")
	fs.StringVar(&c.rateRaw, "rate-limit", env("TOKEND_RATE_LIMIT", "on"), "on: 1,000 requests/s per license and 50 failed authentications/s per address; off: none (env TOKEND_RATE_LIMIT)")
	fs.StringVar(&c.cacheRaw, "cache-size", env("TOKEND_CACHE_SIZE", "96MiB"), "the read model's caches (Badger's block cache, two thirds, and index cache), 4MiB to 64GiB (env TOKEND_CACHE_SIZE)")
	fs.StringVar(&c.memtableRaw, "memtable-size", env("TOKEND_MEMTABLE_SIZE", "32MiB"), "one of the read model's write buffers (Badger memtables, up to 3 held), 4MiB to 1GiB (env TOKEND_MEMTABLE_SIZE)")
}

// checkRebuild is check for rebuild, with its own flag.
func (c *config) checkRebuild() error {
	if err := c.check(false); err != nil {
		return err
	}
	var err error
	if c.SortMemory, err = parseSize(c.sortRaw, 64<<20, 64<<30); err != nil {
		return fmt.Errorf("--sort-memory (TOKEND_SORT_MEMORY): %w", err)
	}
	return nil
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
	if c.CacheSize, err = parseSize(c.cacheRaw, 4<<20, 64<<30); err != nil {
		return fmt.Errorf("--cache-size (TOKEND_CACHE_SIZE): %w", err)
	}
	if c.MemTableSize, err = parseSize(c.memtableRaw, 4<<20, 1<<30); err != nil {
		return fmt.Errorf("--memtable-size (TOKEND_MEMTABLE_SIZE): %w", err)
	}
	if l := os.Getenv("TOKEND_ADMIN_LICENSE"); l != "" {
		if !domain.CheckSecret(domain.LicensePrefix, l) {
			return fmt.Errorf("TOKEND_ADMIN_LICENSE: not a well-formed license (lic_ followed by 43 base62 characters and a 6-character checksum); unset it to have tokend draw one into <data-dir>/admin.license")
		}
		c.AdminLicense = l
	}
	return nil
}

// readModelOptions are the read model's Badger sizes from the flags
// (docs/readmodel.md "Badger sizing").
func (c *config) readModelOptions() projections.Options {
	return projections.Options{MemTableSize: c.MemTableSize}.WithCacheSize(c.CacheSize)
}

// sizeUnits are the binary units of sizes, largest first.
var sizeUnits = []struct {
	suffix string
	bytes  int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// parseSize reads a size such as 96MiB, 1GiB or 4194304 (bytes): a whole
// number and an optional binary unit (GiB, MiB, KiB, B; any case), which
// must lie between lo and hi.
func parseSize(raw string, lo, hi int64) (int64, error) {
	num, unit := raw, int64(1)
	for _, u := range sizeUnits {
		if len(raw) > len(u.suffix) && strings.EqualFold(raw[len(raw)-len(u.suffix):], u.suffix) {
			num, unit = raw[:len(raw)-len(u.suffix)], u.bytes
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > hi/unit || n*unit < lo || n*unit > hi {
		return 0, fmt.Errorf("must be a size from %s to %s, such as 96MiB or 1GiB, got %q", formatSize(lo), formatSize(hi), raw)
	}
	return n * unit, nil
}

// formatSize writes a size in the largest unit that divides it.
func formatSize(n int64) string {
	for _, u := range sizeUnits[:len(sizeUnits)-1] {
		if n >= u.bytes && n%u.bytes == 0 {
			return strconv.FormatInt(n/u.bytes, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// env returns the environment variable key, or fallback when it is unset
// or empty: an empty value is how shells and unit files leave a setting out.
func env(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
