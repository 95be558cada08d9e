package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
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
	rowInprocIntro  = "in-process Store.Introspect (its cache of end-user views, warm)"
	rowInprocIntroB = "in-process Store.Introspect, cache off (one Badger read each)"
	rowRevocation   = "revocation visible to introspection after CancelToken's 200"
	rowRSSService   = "peak RSS of tokenbench after the service phase"
	rowSmallRebuild = "Rebuild of the service's stream"
)

// serviceSteps names the steps of the service phase, for -steps.
var serviceSteps = []string{"commands", "cold", "http-commands", "nats", "catchup", "lag", "reads", "revocation", "lookups"}

func newEventStore(s *jsServer) *natsjs.EventStore { return natsjs.NewEventStore(s.js) }

// servicePhase runs tokend in process, with its raw baselines (on the
// service's own JetStream server, a bare net/http server, Badger on the
// service's own read model) and the Watermill peer (on its own server),
// each figure measured in rounds back to back with what it is compared to.
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
	if s.raw, err = b.newRawStream(ctx, s.js); err != nil {
		return fmt.Errorf("raw stream: %w", err)
	}
	if s.bare, err = b.startBare(); err != nil {
		return err
	}
	defer s.bare.close()
	if s.peer, err = b.startPeer(ctx); err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	defer func() {
		if s.peer != nil {
			s.peer.close()
		}
	}()

	m, err := s.issue(ctx, b.tokens)
	if err != nil {
		return fmt.Errorf("issue: %w", err)
	}
	b.record(meas{group: "service", name: rowIssue, unit: "commands/s"}, m)
	if m, err = s.peer.issue(ctx); err != nil {
		return fmt.Errorf("peer issue: %w", err)
	}
	b.record(meas{group: "peer", name: rowPeerIssue, unit: "commands/s"}, m)
	// One sequential client: the round trip of one publish.
	if m, err = s.raw.sync(ctx, b, 1, b.commands/4, -2); err != nil {
		return err
	}
	b.record(meas{group: "raw", name: rowSync1, unit: "msgs/s"}, m)

	steps := []struct {
		name string
		fn   func(context.Context, *service) error
	}{
		{"commands", b.commandsInProcess},
		{"cold", b.commandsCold},
		{"http-commands", b.commandsHTTP},
		{"nats", b.commandsNATS},
		{"catchup", b.catchUp},
		// The peer is done: stop it, so that its server and read models
		// stop costing this process memory and garbage collection while
		// tokend's reads are measured.
		{"stop-peer", func(context.Context, *service) error {
			s.peer.close()
			s.peer = nil
			runtime.GC()
			debug.FreeOSMemory()
			return nil
		}},
		{"lag", b.lag},
		{"reads", b.readsHTTP},
		{"revocation", b.revocation},
	}
	for _, st := range steps {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if b.steps != "" && st.name != "stop-peer" && !slices.Contains(strings.Split(b.steps, ","), st.name) {
			continue
		}
		b.log.Info("step", "name", st.name, "load", loadAvg())
		if err := st.fn(ctx, s); err != nil {
			b.report.Failed = append(b.report.Failed, "service/"+st.name+": "+err.Error())
			b.log.Error("step failed", "name", st.name, "err", err)
		}
	}
	b.rssRow(rowRSSService, "whole process: embedded JetStream, Badger, HTTP, the peer's server, load generators")
	if err := b.heapProfile(); err != nil {
		return err
	}

	// The Badger Get baselines run on the service's own read model, with
	// the service stopped, against the store's own lookups on the same files.
	if err := s.settle(ctx); err != nil {
		return err
	}
	s.close()
	closed = true
	if b.steps != "" && !slices.Contains(strings.Split(b.steps, ","), "lookups") {
		return nil
	}
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

// syncBase is the raw baseline of the command paths: the same messages
// published synchronously from as many clients.
func (b *bench) syncBase(ctx context.Context, s *service) meas {
	return meas{group: "raw", name: fmt.Sprintf(rowSyncN, b.clients), unit: "msgs/s",
		fn: func(run int) (measure, error) { return s.raw.sync(ctx, b, b.clients, b.commands, run) }}
}

// peerCommands is the peer's command run.
func (b *bench) peerCommands(ctx context.Context, s *service) meas {
	return meas{group: "peer", name: rowPeerCmd, unit: "commands/s", note: "watermill-nats publisher and router, 1 subscriber",
		fn: func(run int) (measure, error) { return s.peer.commandRun(ctx, run) }}
}

func (b *bench) commandsInProcess(ctx context.Context, s *service) error {
	err := b.rounds(b.runs, b.syncBase(ctx, s),
		meas{group: "service", name: rowCmdInproc, unit: "commands/s", fn: func(run int) (measure, error) {
			return b.load("commands in-process", b.commands, b.clients, func(_, i int) error {
				_, err := s.svc.Execute(ctx, s.renameCmd(i, run))
				return err
			})
		}},
		b.peerCommands(ctx, s))
	if err != nil {
		return err
	}
	return s.settle(ctx)
}

// commandsCold runs one command on every token with a fresh command
// service, whose cache is empty.
func (b *bench) commandsCold(ctx context.Context, s *service) error {
	err := b.rounds(b.runs, b.syncBase(ctx, s),
		meas{group: "service", name: rowCmdCold, unit: "commands/s", note: "a fresh command service, one command per token",
			fn: func(run int) (measure, error) {
				svc := commands.New(s.events, s.store, commands.Config{Logger: b.quiet})
				return b.load("commands in-process, cold", len(s.tokens), b.clients, func(_, i int) error {
					_, err := svc.Execute(ctx, s.renameCmd(i, 50+run))
					return err
				})
			}})
	if err != nil {
		return err
	}
	return s.settle(ctx)
}

func (b *bench) commandsHTTP(ctx context.Context, s *service) error {
	err := b.rounds(b.runs, b.syncBase(ctx, s),
		meas{group: "service", name: rowCmdHTTP, unit: "commands/s", fn: func(run int) (measure, error) {
			return b.load("commands HTTP PATCH", b.commands, b.clients, func(_, i int) error {
				k := i % len(s.tokens)
				body := `{"name":"token ` + strconv.Itoa(k) + " h" + strconv.Itoa(run) + "." + strconv.Itoa(i) + `"}`
				return send(s.http, "PATCH", s.url+"/v1/tokens/"+s.tokens[k].id, s.admin, body, 200, nil)
			})
		}})
	if err != nil {
		return err
	}
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
	bare := meas{group: "raw", name: fmt.Sprintf(rowBareHTTP, b.clients), unit: "req/s",
		fn: func(int) (measure, error) { return s.bare.run(b, b.reads) }}
	if _, err := s.bare.run(b, min(2000, b.reads)); err != nil { // warm-up
		return err
	}
	for _, rd := range reads {
		if _, err := b.load("warm-up", min(2000, b.reads), b.clients, func(_, i int) error { return rd.op(i) }); err != nil {
			return err
		}
		n := b.reads
		if strings.Contains(rd.name, "limit=50") {
			n = max(b.reads/4, 500) // fifty tokens an answer: fewer of them
		}
		if err := b.rounds(b.runs, bare, meas{group: "service", name: rd.name, unit: "req/s", fn: func(int) (measure, error) {
			return b.load(rd.name, n, b.clients, func(_, i int) error { return rd.op(i) })
		}}); err != nil {
			return err
		}
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

// catchUp measures the projector's batched throughput: a new projector
// applies the service's stream from its start into a fresh read model (as
// after `rm -r readmodel` without a rebuild) up to limit events; the keys
// it wrote are then written again with a raw Badger WriteBatch into another
// fresh directory (its keys/s baseline); and the peer's projection applies
// the first limit events of its own stream.
func (b *bench) catchUp(ctx context.Context, s *service) error {
	last, err := s.lastSeq(ctx)
	if err != nil {
		return err
	}
	limit := min(last, uint64(max(4*b.commands, 2000)))
	peerTotal, err := s.peer.events(ctx)
	if err != nil {
		return err
	}
	peerLimit := min(int(limit), peerTotal)
	var kvs []kv
	var keys uint64
	return b.rounds(b.runs,
		meas{group: "service", name: rowCatchUp, unit: "events/s",
			note: fmt.Sprintf("the first %d of %d events: issues, renames, suspensions, cancellations", limit, last),
			fn: func(run int) (measure, error) {
				dir := filepath.Join(b.root, fmt.Sprintf("catchup-%d", run), projections.ReadModelDir)
				m, k, err := b.projectInto(ctx, s, dir, limit)
				if err != nil {
					return m, err
				}
				keys = k
				kvs, err = scanKVs(dir)
				os.RemoveAll(filepath.Dir(dir))
				return m, err
			}},
		meas{group: "service", name: rowCatchUpKeys, unit: "keys/s",
			fn: func(run int) (measure, error) {
				// Derived from the run above: the same elapsed time.
				rs := b.measures[rowCatchUp]
				m := rs[len(rs)-1]
				return measure{N: int(keys), Elapsed: m.Elapsed}, nil
			}},
		meas{group: "raw", name: rowWB, unit: "keys/s", note: "the keys and values the projector left, into a fresh directory",
			fn: func(run int) (measure, error) {
				return writeBatch(filepath.Join(b.root, fmt.Sprintf("raw-badger-%d", run)), kvs)
			}},
		meas{group: "peer", name: rowPeerProj, unit: "events/s",
			note: fmt.Sprintf("the first %d of %d events, one Badger transaction and AckSync each", peerLimit, peerTotal),
			fn:   func(run int) (measure, error) { return s.peer.projectRun(ctx, run, peerLimit) }},
	)
}

// projectInto runs a new projector over the service's stream into a fresh
// store in dir until it has applied limit events, and returns the time it
// took and the keys it wrote.
func (b *bench) projectInto(ctx context.Context, s *service, dir string, limit uint64) (measure, uint64, error) {
	store, err := projections.Open(dir, projections.Options{Logger: b.quiet})
	if err != nil {
		return measure{}, 0, err
	}
	defer store.Close()
	p := projections.NewProjector(store, s.js.js, b.quiet)
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	bar := b.bar("projector catch-up", int(limit))
	defer bar.Close()
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
	err = store.WaitFor(ctx, limit, 5*time.Minute)
	elapsed := time.Since(start)
	keys := keysWritten(store)
	close(stopBar)
	_ = bar.Finish()
	cancel()
	<-done
	// The last batch may have gone a little past limit: count its events.
	n := store.Checkpoint()
	return measure{N: int(n), Elapsed: elapsed}, keys, err
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
