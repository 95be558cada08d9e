// Package httpapi is tokend's HTTP API (API.md "HTTP API"): the management
// calls of providers (tokens, models, accounts, licenses, audit), the
// introspection of end users' tokens, health, readiness, metrics and the
// OpenAPI document. It decodes and checks requests, authenticates licenses,
// turns writes into domain commands for the command service and answers
// reads from the read model. It holds no state of its own besides the rate
// limiters.
//
// Choices where API.md is silent are written down in docs/api.md.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// ReadModel is what the API reads. *projections.Store implements it. Every
// method is called concurrently.
type ReadModel interface {
	Token(accountID, tokenID string) (projections.TokenView, error)
	ListTokens(accountID string, q projections.ListQuery) (projections.TokenPage, error)
	TokenAudit(accountID, tokenID string, q projections.AuditQuery) (projections.AuditPage, error)
	AccountAudit(accountID string, q projections.AuditQuery) (projections.AuditPage, error)
	Introspect(secretSha256 string) (projections.Introspection, error)
	Models(accountID string) ([]projections.Model, error)
	Model(accountID, modelID string) (projections.Model, error)
	Account(accountID string) (projections.AccountView, error)
	License(licenseSha256 string) (projections.LicenseRecord, bool, error)
	WaitFor(ctx context.Context, seq uint64, timeout time.Duration) error
	Checkpoint() uint64
}

// CommandService carries out writes. *commands.Service implements it.
type CommandService interface {
	Execute(ctx context.Context, cmd domain.Command) (commands.Result, error)
	// ExecuteNew is Execute for a command id drawn just now at random, of
	// which no earlier run can exist.
	ExecuteNew(ctx context.Context, cmd domain.Command) (commands.Result, error)
	Account(ctx context.Context, accountID string) (domain.Account, uint64, error)
}

// Timeouts bound what one connection may hold. Zero fields take the
// defaults of DefaultTimeouts.
type Timeouts struct {
	// ReadHeader bounds the wait for a request's headers (slowloris).
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included.
	Read time.Duration
	// Write bounds the time from the end of the headers to the end of the
	// answer; it must exceed MinSequenceWait, or a waiting read is cut off.
	Write time.Duration
	// Idle bounds how long a keep-alive connection waits for its next request.
	Idle time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
}

// DefaultTimeouts are the server's limits when Config leaves them zero.
var DefaultTimeouts = Timeouts{
	ReadHeader:     5 * time.Second,
	Read:           30 * time.Second,
	Write:          30 * time.Second,
	Idle:           120 * time.Second,
	MaxHeaderBytes: 32 << 10,
}

// Config is what New needs. Store and Commands are required; every other
// field has a usable zero value.
type Config struct {
	// Store is the read model.
	Store ReadModel
	// Commands carries out writes.
	Commands CommandService
	// Lag reports the projector's lag (Projector.Lag). /readyz wants it
	// within ReadyLag, and Metrics exports it. Nil: always caught up.
	Lag LagFunc
	// PingNATS reports whether NATS is reachable, for /readyz: nil error
	// when it is. Nil: not checked.
	PingNATS func() error
	// Metrics receives the API's observations. Nil: New makes one with
	// NewMetrics(Lag); Server.Metrics returns it so other intakes can share it.
	Metrics *Metrics
	// Logger receives one JSON line per request. Nil: a JSON handler on stderr.
	Logger *slog.Logger
	// RateLimits nil means DefaultRateLimits (API.md's). A pointer to the
	// zero RateLimits turns rate limiting off.
	RateLimits *RateLimits
	// ClientAddr, when set, names the client of a request for the
	// failed-authentication limit, e.g. from a trusted proxy's header. Nil:
	// the host of the connection's remote address.
	ClientAddr func(*http.Request) string
	// Clock decides whether tokens in write answers are expired. Nil: time.Now.
	Clock func() time.Time
	// Addr is where ListenAndServe listens. Empty: 127.0.0.1:8080.
	Addr string
	// Timeouts of the http.Server; zero fields take DefaultTimeouts'.
	Timeouts Timeouts
	// MinSequenceWait bounds a read's wait for X-Min-Sequence (and a license
	// write's wait for the read model). Zero: 5 s (API.md).
	MinSequenceWait time.Duration
	// ReadyLag is the projector lag /readyz tolerates. Zero: 5 s (API.md).
	ReadyLag time.Duration
	// Outcomes, when set, answers GET /v1/commands/{id} with the remembered
	// outcomes of commands published on NATS. Nil: every command is 404.
	Outcomes CommandOutcomes
	// Console, when set, is the web console (console.Handler): mounted at
	// "/" exactly and under "/console/", so that every other unknown path,
	// /v1/... included, still answers the API's JSON 404. Nil: no console.
	Console http.Handler
}

// Server is the HTTP API. It is an http.Handler (so tests can mount it on
// httptest) and owns an http.Server with the configured timeouts for
// Serve, ListenAndServe and Shutdown. It is safe for concurrent use.
type Server struct {
	cfg     Config
	store   ReadModel
	cmds    CommandService
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	mux     *http.ServeMux
	ids     *requestIDs
	http    *http.Server

	licenseLimit *keyedLimiter
	failLimit    *keyedLimiter
}

// New builds the API from cfg. It fails only when a required field is missing.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Commands == nil {
		return nil, errors.New("httpapi: Config.Store and Config.Commands are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(cfg.Lag)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.MinSequenceWait <= 0 {
		cfg.MinSequenceWait = 5 * time.Second
	}
	if cfg.ReadyLag <= 0 {
		cfg.ReadyLag = 5 * time.Second
	}
	limits := DefaultRateLimits
	if cfg.RateLimits != nil {
		limits = *cfg.RateLimits
	}
	t := cfg.Timeouts
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.ReadHeader, DefaultTimeouts.ReadHeader)
	def(&t.Read, DefaultTimeouts.Read)
	def(&t.Write, DefaultTimeouts.Write)
	def(&t.Idle, DefaultTimeouts.Idle)
	if t.MaxHeaderBytes <= 0 {
		t.MaxHeaderBytes = DefaultTimeouts.MaxHeaderBytes
	}
	cfg.Timeouts = t

	s := &Server{
		cfg:          cfg,
		store:        cfg.Store,
		cmds:         cfg.Commands,
		log:          cfg.Logger,
		metrics:      cfg.Metrics,
		now:          cfg.Clock,
		mux:          http.NewServeMux(),
		ids:          newRequestIDs(),
		licenseLimit: newKeyedLimiter(limits.PerLicense, limits.MaxKeys, time.Now),
		failLimit:    newKeyedLimiter(limits.FailedAuthPerAddress, limits.MaxKeys, time.Now),
	}
	s.routes()
	s.http = &http.Server{
		Addr:              cfg.Addr,
		Handler:           s,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    t.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Metrics returns the metrics the server observes into, for other intakes.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Serve answers requests on l until Shutdown; it then returns
// http.ErrServerClosed.
func (s *Server) Serve(l net.Listener) error { return s.http.Serve(l) }

// ListenAndServe listens on Config.Addr and serves until Shutdown.
func (s *Server) ListenAndServe() error { return s.http.ListenAndServe() }

// Shutdown stops accepting connections, lets the requests in flight finish
// until ctx ends, and closes idle connections.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

// handler is an endpoint that returns its refusal instead of writing it.
type handler func(w http.ResponseWriter, r *http.Request) error

// authed is an endpoint that needs a license.
type authed func(w http.ResponseWriter, r *http.Request, p principal) error

func (s *Server) handle(pattern string, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// withLicense authenticates before h runs: routing (404, 405) comes before
// authentication, authentication before everything else.
func (s *Server) withLicense(h authed) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r)
		if err != nil {
			return err
		}
		return h(w, r, p)
	}
}

// routes registers every endpoint. Go's ServeMux patterns carry the method,
// so a known path with another method answers 405 with Allow (turned into
// JSON by statusWriter), and the pattern is the route label of the metrics.
func (s *Server) routes() {
	s.handle("GET /v1/account", s.withLicense(s.getAccount))
	s.handle("POST /v1/accounts", s.withLicense(s.createAccount))

	s.handle("GET /v1/licenses", s.withLicense(s.listLicenses))
	s.handle("POST /v1/licenses", s.withLicense(s.issueLicense))
	s.handle("DELETE /v1/licenses/{id}", s.withLicense(s.revokeLicense))

	s.handle("POST /v1/models", s.withLicense(s.registerModel))
	s.handle("GET /v1/models", s.withLicense(s.listModels))
	s.handle("GET /v1/models/{id}", s.getModel) // a license or an end user's token

	s.handle("POST /v1/tokens", s.withLicense(s.issueToken))
	s.handle("GET /v1/tokens", s.withLicense(s.listTokens))
	s.handle("GET /v1/tokens/{id}", s.withLicense(s.getToken))
	s.handle("PATCH /v1/tokens/{id}", s.withLicense(s.patchToken))
	s.handle("DELETE /v1/tokens/{id}", s.withLicense(s.deleteToken))
	s.handle("POST /v1/tokens/{id}/cancel", s.withLicense(s.cancelToken))
	s.handle("PUT /v1/tokens/{id}/model", s.withLicense(s.assignModel))
	s.handle("DELETE /v1/tokens/{id}/model", s.withLicense(s.unassignModel))
	s.handle("GET /v1/tokens/{id}/audit", s.withLicense(s.tokenAudit))
	s.handle("GET /v1/audit", s.withLicense(s.accountAudit))

	s.handle("GET /v1/commands/{id}", s.withLicense(s.getCommand))

	s.handle("POST /v1/introspect", s.introspect)

	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.metrics.Handler())
	s.mux.HandleFunc("GET /openapi.yaml", s.openAPI)

	if s.cfg.Console != nil {
		s.mux.Handle("GET /{$}", s.cfg.Console)
		s.mux.Handle("GET /console/", s.cfg.Console)
	}
}
