package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/httpapi"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// service is tokend wired as `tokend serve` wires it (cmd/tokend/serve.go),
// in this process: embedded JetStream and Badger in a data directory, the
// projector, the command service and the HTTP API on a loopback listener,
// rate limits off and logs discarded.
type service struct {
	b       *bench
	dir     string
	js      *jsServer
	store   *projections.Store
	proj    *projections.Projector
	stopRun context.CancelFunc
	projErr chan error
	events  commands.EventLog
	svc     *commands.Service
	api     *httpapi.Server
	url     string
	http    *http.Client

	raw  *rawStream // the raw publish baseline, on this server
	bare *bareHTTP  // the bare net/http baseline
	peer *peer      // the Watermill peer, on its own server

	admin   string // the admin license
	license string // its id, the actor of in-process commands
	model   string
	tokens  []benchToken
}

type benchToken struct {
	id, secret, sha string
}

func (b *bench) startService(ctx context.Context, dir string) (*service, error) {
	return b.startServiceWith(ctx, dir, "")
}

// startServiceWith starts the service on dir, whose log may already hold
// the default account with the admin license admin ("": a new service,
// bootstrapped with a new admin license).
func (b *bench) startServiceWith(ctx context.Context, dir, admin string) (*service, error) {
	s := &service{b: b, dir: dir, admin: admin}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	opts := projections.Options{Logger: b.quiet, MemTableSize: b.childMemtable << 20}
	if b.childCache > 0 {
		opts = opts.WithCacheSize(b.childCache << 20) // as tokend serve --cache-size
	}
	store, err := projections.Open(filepath.Join(dir, projections.ReadModelDir), opts)
	if err != nil {
		return nil, err
	}
	s.store = store
	if b.natsURL != "" {
		s.js, err = b.connectJS(ctx, b.natsURL) // --nats-url: the server is another process
	} else {
		s.js, err = b.startJS(ctx, filepath.Join(dir, "jetstream"), false)
	}
	if err != nil {
		store.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.stopRun = cancel
	s.proj = projections.NewProjector(store, s.js.js, b.quiet)
	s.projErr = make(chan error, 1)
	go func() { s.projErr <- s.proj.Run(runCtx) }()
	s.events = newEventStore(s.js)
	s.svc = commands.New(s.events, store, commands.Config{Logger: b.quiet})

	if s.admin == "" {
		if s.admin, err = domain.NewSecret(domain.LicensePrefix); err != nil {
			s.close()
			return nil, err
		}
	}
	if _, err := s.svc.Bootstrap(ctx, dir, s.admin); err != nil {
		s.close()
		return nil, err
	}
	s.api, err = httpapi.New(httpapi.Config{
		Store: store, Commands: s.svc, Lag: s.proj.Lag,
		PingNATS:   func() error { return s.js.nc.FlushTimeout(time.Second) },
		Logger:     b.quiet,
		RateLimits: &httpapi.RateLimits{}, // off
	})
	if err != nil {
		s.close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.close()
		return nil, err
	}
	go s.api.Serve(ln)
	s.url = "http://" + ln.Addr().String()
	s.http = newHTTPClient(b.clients)

	// The admin license's id, once the read model knows it.
	if err := s.settle(ctx); err != nil {
		s.close()
		return nil, err
	}
	lic, ok, err := store.License(domain.HashSecret(s.admin))
	if err != nil || !ok {
		s.close()
		return nil, fmt.Errorf("admin license not in the read model: %v", err)
	}
	s.license = lic.LicenseID
	cmd := uuid.New()
	s.model = commands.ModelIDFor(cmd)
	if _, err := s.svc.Execute(ctx, domain.Command{ID: cmd, AccountID: domain.DefaultAccountID, Actor: s.actor(),
		Body: domain.RegisterModel{ModelID: s.model, Name: "bench-model"}}); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *service) actor() domain.Actor {
	return domain.Actor{Kind: domain.ActorLicense, ID: s.license}
}

// lastSeq returns the last sequence of TOKEN_EVENTS.
func (s *service) lastSeq(ctx context.Context) (uint64, error) {
	st, err := s.js.js.Stream(ctx, projections.EventsStream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// settle waits until the read model has applied every event in the stream.
func (s *service) settle(ctx context.Context) error {
	last, err := s.lastSeq(ctx)
	if err != nil {
		return err
	}
	return s.store.WaitFor(ctx, last, time.Minute)
}

// issue issues n tokens with 64 concurrent in-process commands, half of
// them assigned to the model, and keeps their secrets.
func (s *service) issue(ctx context.Context, n int) (measure, error) {
	toks := make([]benchToken, n)
	exp := time.Now().Add(90 * 24 * time.Hour).Unix()
	m, err := s.b.load("issue tokens (in-process)", n, s.b.clients, func(_, i int) error {
		body := domain.IssueToken{Name: fmt.Sprintf("token %d", i), ExpirationDate: exp}
		secret, err := body.DrawSecret()
		if err != nil {
			return err
		}
		if i%2 == 0 {
			body.ModelID = s.model
		}
		if i%3 == 0 {
			body.Note = "issued by tokenbench for customer " + fmt.Sprint(i)
		}
		cmd := uuid.New()
		res, err := s.svc.Execute(ctx, domain.Command{ID: cmd, AccountID: domain.DefaultAccountID,
			TokenID: commands.TokenIDFor(cmd), Actor: s.actor(), Body: body})
		if err != nil {
			return err
		}
		toks[i] = benchToken{id: res.Token.ID(), secret: secret, sha: body.SecretSha256}
		return nil
	})
	if err != nil {
		return m, err
	}
	s.tokens = append(s.tokens, toks...)
	return m, s.settle(ctx)
}

// stopProjector stops the live projector and waits for it.
func (s *service) stopProjector() error {
	if s.stopRun == nil {
		return nil
	}
	s.stopRun()
	s.stopRun = nil
	err := <-s.projErr
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (s *service) close() {
	if s.api != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.api.Shutdown(ctx)
		cancel()
	}
	if s.http != nil {
		s.http.CloseIdleConnections()
	}
	_ = s.stopProjector()
	if s.js != nil {
		s.js.close()
	}
	if s.store != nil {
		_ = s.store.Close()
	}
}
