package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// Row names of the service phase.
const (
	rowIssue        = "IssueToken, in-process"
	rowCmdInproc    = "commands, in-process (Service.Execute), cached aggregates"
	rowCmdCold      = "commands, in-process, every aggregate loaded from the log"
	rowCmdHTTP      = "commands, HTTP PATCH"
	rowCmdNATS      = "commands, NATS intake"
	rowLag          = "projection lag at a fixed command rate"
	rowCatchUp      = "projector catch-up, events"
	rowCatchUpKeys  = "projector catch-up, keys written"
	rowHTTPGet      = "HTTP GET /v1/tokens/{id}"
	rowHTTPList     = "HTTP GET /v1/tokens?limit=50"
	rowHTTPListF    = "HTTP GET /v1/tokens?status=SUSPENDED&limit=50"
	rowHTTPIntro    = "HTTP POST /v1/introspect"
	rowInprocGet    = "in-process Store.Token"
	rowInprocIntro  = "in-process Store.Introspect"
	rowRevocation   = "revocation visible to introspection after CancelToken's 200"
	rowRSSService   = "peak RSS of tokenbench after the service phase"
	rowSmallRebuild = "Rebuild of the service's stream"
)

func newEventStore(s *jsServer) *natsjs.EventStore { return natsjs.NewEventStore(s.js) }

// servicePhase runs tokend in process and measures it.
func (b *bench) servicePhase(ctx context.Context) error {
	dir := filepath.Join(b.root, "service")
	s, err := b.startService(ctx, dir)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			s.close()
		}
	}()
	m, err := s.issue(ctx, b.tokens)
	if err != nil {
		return fmt.Errorf("issue: %w", err)
	}
	b.rate("service", rowIssue, "commands/s", m, nil)

	steps := []struct {
		name string
		fn   func(context.Context, *service) error
	}{
		{"commands in-process", b.commandsInProcess},
		{"commands cold", b.commandsCold},
		{"commands HTTP", b.commandsHTTP},
		{"commands NATS", b.commandsNATS},
		{"lag", b.lag},
		{"reads HTTP", b.readsHTTP},
		{"revocation", b.revocation},
		{"projector catch-up", b.catchUp},
	}
	for _, st := range steps {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.log.Info("step", "name", st.name, "load", loadAvg())
		if err := st.fn(ctx, s); err != nil {
			b.report.Failed = append(b.report.Failed, "service/"+st.name+": "+err.Error())
			b.log.Error("step failed", "name", st.name, "err", err)
		}
	}
	b.rssRow(rowRSSService, "whole process: embedded JetStream, Badger, HTTP, load generators")

	// The Badger baselines run on the service's own read model, with the
	// service stopped, against the store's own lookups on the same files.
	if err := s.settle(ctx); err != nil {
		return err
	}
	s.close()
	closed = true
	if err := b.lookups(ctx, s); err != nil {
		return fmt.Errorf("lookups: %w", err)
	}
	return nil
}

// renameCmd is the command of the throughput runs: a new name, so that
// every command emits one TokenRenamed.
func (s *service) renameCmd(i, run int) domain.Command {
	k := i % len(s.tokens)
	return domain.Command{ID: uuid.New(), AccountID: domain.DefaultAccountID, TokenID: s.tokens[k].id,
		Actor: s.actor(), Body: domain.RenameToken{Name: fmt.Sprintf("token %d r%d.%d", k, run, i)}}
}

func (b *bench) commandsInProcess(ctx context.Context, s *service) error {
	m, runs, err := repeat(b.runs, func(run int) (measure, error) {
		return b.load("commands in-process", b.commands, b.clients, func(_, i int) error {
			_, err := s.svc.Execute(ctx, s.renameCmd(i, run))
			return err
		})
	})
	if err != nil {
		return err
	}
	b.rate("service", rowCmdInproc, "commands/s", m, runs)
	return s.settle(ctx)
}

// commandsCold runs one command on every token with a fresh command
// service, whose cache is empty: each command loads its token from the log
// (EventStore.Load, a batched direct get).
func (b *bench) commandsCold(ctx context.Context, s *service) error {
	m, runs, err := repeat(b.runs, func(run int) (measure, error) {
		svc := commands.New(s.events, s.store, commands.Config{Logger: b.quiet})
		n := len(s.tokens)
		return b.load("commands in-process, cold", n, b.clients, func(_, i int) error {
			_, err := svc.Execute(ctx, s.renameCmd(i, 50+run))
			return err
		})
	})
	if err != nil {
		return err
	}
	r := b.rate("service", rowCmdCold, "commands/s", m, runs)
	r.Note = "fresh command service: a Load per command"
	return s.settle(ctx)
}

func (b *bench) commandsHTTP(ctx context.Context, s *service) error {
	m, runs, err := repeat(b.runs, func(run int) (measure, error) {
		return b.load("commands HTTP PATCH", b.commands, b.clients, func(_, i int) error {
			k := i % len(s.tokens)
			body := `{"name":"token ` + strconv.Itoa(k) + " h" + strconv.Itoa(run) + "." + strconv.Itoa(i) + `"}`
			return send(s.http, "PATCH", s.url+"/v1/tokens/"+s.tokens[k].id, s.admin, body, 200, nil)
		})
	})
	if err != nil {
		return err
	}
	b.rate("service", rowCmdHTTP, "commands/s", m, runs)
	return s.settle(ctx)
}

// lag runs commands at a fixed rate and measures, for each, the time from
// its acknowledgement (Execute returned its sequence) until the read model
// has applied that sequence.
func (b *bench) lag(ctx context.Context, s *service) error {
	var mu sync.Mutex
	var lat []time.Duration
	n, err := paced(b.lagRate, b.lagFor, func(i int) error {
		res, err := s.svc.Execute(ctx, s.renameCmd(i, 200))
		if err != nil {
			return err
		}
		acked := time.Now()
		if err := s.store.WaitFor(ctx, res.Sequence, 10*time.Second); err != nil {
			return err
		}
		d := time.Since(acked)
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	p50, p99 := percentiles(lat)
	r := b.add(&Row{Group: "service", Name: rowLag, Value: float64(n) / b.lagFor.Seconds(), Unit: "commands/s",
		P50Ms: ms(p50), P99Ms: ms(p99)})
	r.Note = "lag = acknowledgement to read model"
	return nil
}

func (b *bench) readsHTTP(ctx context.Context, s *service) error {
	type read struct {
		name string
		op   func(i int) error
	}
	intro := make([]string, len(s.tokens))
	for i, t := range s.tokens {
		intro[i] = `{"token":"` + t.secret + `"}`
	}
	// Suspend every tenth token, so that the filtered list has some.
	for i := 0; i < len(s.tokens); i += 10 {
		if _, err := s.svc.Execute(ctx, domain.Command{ID: uuid.New(), AccountID: domain.DefaultAccountID,
			TokenID: s.tokens[i].id, Actor: s.actor(), Body: domain.SuspendToken{}}); err != nil {
			return err
		}
	}
	if err := s.settle(ctx); err != nil {
		return err
	}
	reads := []read{
		{rowHTTPGet, func(i int) error {
			return send(s.http, "GET", s.url+"/v1/tokens/"+s.tokens[(i*7919)%len(s.tokens)].id, s.admin, "", 200, nil)
		}},
		{rowHTTPList, func(i int) error {
			return send(s.http, "GET", s.url+"/v1/tokens?limit=50", s.admin, "", 200, nil)
		}},
		{rowHTTPListF, func(i int) error {
			return send(s.http, "GET", s.url+"/v1/tokens?status=SUSPENDED&limit=50", s.admin, "", 200, nil)
		}},
		{rowHTTPIntro, func(i int) error {
			k := (i*7919 + 1) % len(s.tokens) // never a suspended one (multiples of 10)
			if k%10 == 0 {
				k++
			}
			var out []byte
			if err := send(s.http, "POST", s.url+"/v1/introspect", "", intro[k%len(intro)], 200, &out); err != nil {
				return err
			}
			if !bytes.HasPrefix(out, []byte(`{"active":true`)) {
				return fmt.Errorf("introspection of an active token: %s", out)
			}
			return nil
		}},
	}
	for _, rd := range reads {
		if _, err := b.load("warm-up", min(2000, b.reads), b.clients, func(_, i int) error { return rd.op(i) }); err != nil {
			return err
		}
		m, runs, err := repeat(b.runs, func(int) (measure, error) {
			return b.load(rd.name, b.reads, b.clients, func(_, i int) error { return rd.op(i) })
		})
		if err != nil {
			return err
		}
		b.rate("service", rd.name, "req/s", m, runs)
	}
	return nil
}

// revocation cancels tokens over HTTP and, from each 200, polls
// introspection over HTTP until it answers active: false. Eight tokens are
// revoked at a time.
func (b *bench) revocation(ctx context.Context, s *service) error {
	n := min(b.revocations, len(s.tokens))
	// Active tokens only: not the suspended multiples of ten.
	var picks []benchToken
	for i := 1; i < len(s.tokens) && len(picks) < n; i++ {
		if i%10 != 0 {
			picks = append(picks, s.tokens[i])
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	polls := 0
	_, err := b.load("revocation", len(picks), 8, func(_, i int) error {
		t := picks[i]
		if err := send(s.http, "POST", s.url+"/v1/tokens/"+t.id+"/cancel", s.admin, "", 200, nil); err != nil {
			return err
		}
		acked := time.Now()
		body := `{"token":"` + t.secret + `"}`
		for k := 0; ; k++ {
			var out []byte
			if err := send(s.http, "POST", s.url+"/v1/introspect", "", body, 200, &out); err != nil {
				return err
			}
			if bytes.HasPrefix(out, []byte(`{"active":false`)) {
				d := time.Since(acked)
				mu.Lock()
				lat = append(lat, d)
				polls += k + 1
				mu.Unlock()
				return nil
			}
			if time.Since(acked) > 10*time.Second {
				return fmt.Errorf("token %s still active 10 s after its cancellation", t.id)
			}
		}
	})
	if err != nil {
		return err
	}
	p50, p99 := percentiles(lat)
	r := b.add(&Row{Group: "service", Name: rowRevocation, Value: float64(len(lat)), Unit: "tokens",
		P50Ms: ms(p50), P99Ms: ms(p99)})
	r.Note = fmt.Sprintf("8 at a time, %.1f introspections per token until inactive", float64(polls)/float64(len(lat)))
	return nil
}

// catchUp projects the service's whole stream into a fresh read model with
// a new projector, as after `rm -r readmodel` without a rebuild: events/s
// and keys written per second, the projector's batched throughput.
func (b *bench) catchUp(ctx context.Context, s *service) error {
	last, err := s.lastSeq(ctx)
	if err != nil {
		return err
	}
	var keys []float64
	m, runs, err := repeat(b.runs, func(run int) (measure, error) {
		store, err := projections.Open(filepath.Join(b.root, fmt.Sprintf("catchup-%d", run), projections.ReadModelDir), projections.Options{Logger: b.quiet})
		if err != nil {
			return measure{}, err
		}
		defer store.Close()
		p := projections.NewProjector(store, s.js.js, b.quiet)
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		bar := b.bar("projector catch-up", int(last))
		start := time.Now()
		go func() { done <- p.Run(pctx) }()
		stopBar := make(chan struct{})
		go func() {
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopBar:
					return
				case <-t.C:
					_ = bar.Set64(int64(store.Checkpoint()))
				}
			}
		}()
		err = store.WaitFor(ctx, last, 5*time.Minute)
		elapsed := time.Since(start)
		close(stopBar)
		_ = bar.Finish()
		bar.Close()
		cancel()
		<-done
		if err != nil {
			return measure{}, err
		}
		k := float64(keysWritten(store))
		keys = append(keys, k/elapsed.Seconds())
		return measure{N: int(last), Elapsed: elapsed}, nil
	})
	if err != nil {
		return err
	}
	r := b.rate("service", rowCatchUp, "events/s", m, runs)
	r.Note = fmt.Sprintf("%d events: issues, renames, suspensions, cancellations", last)
	if kw := median(keys); kw > 0 {
		b.add(&Row{Group: "service", Name: rowCatchUpKeys, Value: kw, Unit: "keys/s", Runs: keys})
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]float64(nil), v...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c[len(c)/2]
}
