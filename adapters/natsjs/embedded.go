package natsjs

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// SyncMode says when the embedded JetStream server flushes its store to
// disk (API.md "Command line", --sync). JetStream acknowledges a publish
// once the write is in the kernel's page cache, so a crash of the process
// alone never loses an acknowledged event; the mode decides what a power
// failure or OS crash can lose (DESIGN.md "Durability").
type SyncMode string

// The sync modes.
const (
	// SyncInterval fsyncs the store every DefaultSyncInterval: an OS crash
	// or power failure can lose the events acknowledged in the last
	// interval. It is the default.
	SyncInterval SyncMode = "interval"
	// SyncAlways fsyncs before every acknowledgement: an acknowledged event
	// survives power failure, at roughly a tenth of the throughput.
	SyncAlways SyncMode = "always"
)

// DefaultSyncInterval is how often SyncInterval flushes JetStream's store.
// nats-server's own default is two minutes, far too long a window of loss
// for a token service. One second is the familiar "everysec" trade-off
// (Redis' appendfsync): a power failure or OS crash loses at most about a
// second of acknowledged events, and the README promises exactly that. It
// costs nothing measurable: the server skips clean blocks and does not hold
// a block's lock while it fsyncs, and synchronous appends ran at the same
// rate (within noise, about 14,000/s here) with intervals of 2 min, 1 s,
// 100 ms and 10 ms. EmbeddedConfig.SyncEvery shortens it.
const DefaultSyncInterval = time.Second

// ParseSyncMode parses the --sync flag: "interval" (also the empty string)
// or "always", case-insensitively.
func ParseSyncMode(s string) (SyncMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", string(SyncInterval):
		return SyncInterval, nil
	case string(SyncAlways):
		return SyncAlways, nil
	}
	return "", fmt.Errorf("sync mode %q: want %q or %q", s, SyncInterval, SyncAlways)
}

// String returns the mode's flag value; the zero SyncMode is "interval".
func (m SyncMode) String() string {
	if m == "" {
		return string(SyncInterval)
	}
	return string(m)
}

// DefaultListen is the embedded server's default client address.
const DefaultListen = "127.0.0.1:4222"

// DefaultReadyTimeout bounds how long StartEmbedded waits for the server,
// which recovers every stream from disk before it accepts clients.
const DefaultReadyTimeout = 60 * time.Second

// EmbeddedConfig configures StartEmbedded. The zero value of every field
// but StoreDir has a sensible default.
type EmbeddedConfig struct {
	// Listen is the client address host:port, "127.0.0.1:4222" when empty.
	// The host must be a loopback address or "localhost", since the server
	// asks for no credentials. Port -1 picks a random free port (tests); see
	// Embedded.ClientURL.
	Listen string
	// StoreDir is JetStream's store, <data-dir>/jetstream. Required.
	StoreDir string
	// Sync is the flush policy; "" means SyncInterval.
	Sync SyncMode
	// SyncEvery overrides DefaultSyncInterval in SyncInterval mode.
	SyncEvery time.Duration
	// Logger receives the server's notices, warnings and errors; nil means
	// slog.Default(). Its debug and trace output stays off.
	Logger *slog.Logger
	// ReadyTimeout overrides DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// SubjectCache keeps the server's cache of subject matches. Serving
	// tokend leaves it off: nearly every subject of its traffic is new (an
	// outcome's, each acknowledgement's, each reply inbox's, one per token
	// among the events), so the cache only fills and sweeps, and a NATS
	// command costs about 3% less CPU without it (BenchmarkCommandsWithOutcomes,
	// medians 171 and 166 µs, 10 alternated pairs). tokend rebuild turns it
	// on: it reads the whole log through one inbox, a subject the cache
	// matches once (tokenbench's rebuild phase, 6 alternated pairs: medians
	// 13.9 s with it, 14.4 s without).
	SubjectCache bool
}

// Embedded is an in-process nats-server with JetStream. Its methods are safe
// for concurrent use.
type Embedded struct {
	srv      *server.Server
	url      string
	unlock   func()
	shutdown sync.Once
}

// StartEmbedded starts an in-process nats-server with JetStream on
// cfg.Listen (loopback only, no auth) and cfg.StoreDir, and returns once it
// accepts clients with JetStream enabled. It takes an exclusive lock on the
// store directory, so a second server on the same store fails at once
// instead of corrupting it.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded nats: no JetStream store directory")
	}
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultListen
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: listen address %q: %w", listen, err)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("embedded nats: listen address %q is not loopback: the embedded server asks for no credentials, so it only listens on 127.0.0.1, ::1 or localhost (use --nats-url to join a secured cluster)", listen)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return nil, fmt.Errorf("embedded nats: listen address %q: bad port", listen)
	}
	mode, err := ParseSyncMode(string(cfg.Sync))
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "nats-server")
	ready := cfg.ReadyTimeout
	if ready <= 0 {
		ready = DefaultReadyTimeout
	}

	if err := os.MkdirAll(cfg.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded nats: store directory: %w", err)
	}
	unlock, err := lockDir(cfg.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}

	opts := &server.Options{
		ServerName:             "tokend",
		Host:                   host,
		Port:                   port,
		JetStream:              true,
		StoreDir:               cfg.StoreDir,
		NoSigs:                 true,
		DisableJetStreamBanner: true,
		NoSublistCache:         !cfg.SubjectCache,
		// No HTTP monitoring, cluster, leaf or gateway listeners: one loopback port.
	}
	switch mode {
	case SyncAlways:
		opts.SyncAlways = true
	default:
		opts.SyncInterval = DefaultSyncInterval
		if cfg.SyncEvery > 0 {
			opts.SyncInterval = cfg.SyncEvery
		}
	}

	srv, err := server.NewServer(opts)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	sl := &serverLogger{log: log, fatal: make(chan string, 1)}
	srv.SetLoggerV2(sl, false, false, false)
	go srv.Start()

	// Start reports a failure (port in use, unreadable store) through
	// Fatalf and returns; watch for it so a broken start fails at once
	// instead of after ReadyTimeout.
	deadline := time.Now().Add(ready)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		select {
		case msg := <-sl.fatal:
			srv.Shutdown()
			srv.WaitForShutdown()
			unlock()
			return nil, fmt.Errorf("embedded nats: %s", msg)
		default:
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			srv.WaitForShutdown()
			unlock()
			return nil, fmt.Errorf("embedded nats: not ready after %s", ready)
		}
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		unlock()
		return nil, errors.New("embedded nats: JetStream is not enabled")
	}
	return &Embedded{srv: srv, url: srv.ClientURL(), unlock: unlock}, nil
}

// ClientURL returns the URL clients dial, with the actual port when
// Listen asked for a random one.
func (e *Embedded) ClientURL() string { return e.url }

// Server returns the underlying nats-server, for tests and metrics.
func (e *Embedded) Server() *server.Server { return e.srv }

// Shutdown stops the server, waits until it has flushed and closed its
// store, and releases the store lock. It is idempotent.
func (e *Embedded) Shutdown() {
	e.shutdown.Do(func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		e.unlock()
	})
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serverLogger routes nats-server's logging through slog and catches the
// first fatal error of start-up.
type serverLogger struct {
	log   *slog.Logger
	fatal chan string
}

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Info(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }

// Fatalf logs the error and hands it to StartEmbedded. Unlike nats-server's
// own logger it does not exit the process: the server stops what it was
// doing and the caller decides.
func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg, "fatal", true)
	select {
	case l.fatal <- msg:
	default:
	}
}
