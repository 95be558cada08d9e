//go:build cluster

package clustertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tokend/tokend/sdk"
)

// opKind is one kind of command the load sends.
type opKind string

const (
	opCreate     opKind = "create"     // POST /v1/tokens, sometimes with a model
	opRename     opKind = "rename"     // PATCH name
	opStatus     opKind = "status"     // PATCH status ACTIVE <-> SUSPENDED
	opUpdate     opKind = "update"     // PATCH name and status at once: one TokenUpdated
	opAssign     opKind = "assign"     // PUT model, on an unassigned token
	opUnassign   opKind = "unassign"   // DELETE model
	opCancel     opKind = "cancel"     // POST cancel
	opDelete     opKind = "delete"     // DELETE token
	opOnCanceled opKind = "onCanceled" // PATCH name of a canceled token: must be refused
	opReassign   opKind = "reassign"   // PUT another model on an assigned token: must be refused
)

// ack is one acknowledged command and what its event must say.
type ack struct {
	kind     opKind
	token    string
	seq      uint64 // X-Sequence
	version  int64  // ETag
	at       time.Time
	name     string
	status   sdk.Status
	model    string
	attempts int
	phase    string
}

// ownToken is what a worker believes of one of its tokens.
type ownToken struct {
	id     string
	name   string
	status sdk.Status
	model  string
}

// load is a steady mixed-command load on both replicas. Each worker owns
// its tokens, so it knows what each command must do; it sends every command
// with its own Idempotency-Key and, while the outcome is unknown (a dropped
// connection, a timeout, a 5xx), repeats it with the same key, alternating
// replicas, until it is acknowledged or refused, or a minute has passed.
type load struct {
	c       *cluster
	clients []*sdk.Client
	models  []string
	workers int
	pace    time.Duration

	gate sync.RWMutex // workers hold it for reading around each command; pause takes it
	stop chan struct{}
	wg   sync.WaitGroup

	mu        sync.Mutex
	phase     string
	acks      []ack
	secrets   []string
	errs      map[string]map[string]int // phase -> error class -> failed attempts
	refused   map[string]int            // expected refusals by code
	unexpect  []string                  // unexpected refusals
	stale     []string                  // refusals of what exists: the known stale-state bug (knownStale)
	abandoned map[string]int            // phase -> commands given up on
	sent      map[string]int            // phase -> commands started
}

func newLoad(c *cluster, models []string) *load {
	l := &load{
		c: c, models: models,
		workers: envInt("CLUSTERTEST_WORKERS", 6),
		pace:    time.Duration(envInt("CLUSTERTEST_PACE_MS", 15)) * time.Millisecond,
		stop:    make(chan struct{}),
		errs:    map[string]map[string]int{}, refused: map[string]int{},
		abandoned: map[string]int{}, sent: map[string]int{},
		phase: "warm-up",
	}
	for _, r := range c.replicas {
		tr := &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second}
		l.clients = append(l.clients, sdk.New(r.url(), c.license,
			sdk.WithRetryPolicy(sdk.NoRetries), sdk.WithReadYourWrites(false),
			sdk.WithHTTPClient(&http.Client{Transport: tr})))
	}
	return l
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func (l *load) start() {
	for w := range l.workers {
		l.wg.Add(1)
		go l.worker(w)
	}
}

// finish stops the workers and waits for their last commands.
func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

// pause waits for the commands in flight and holds new ones back until resume.
func (l *load) pause()  { l.gate.Lock() }
func (l *load) resume() { l.gate.Unlock() }

func (l *load) setPhase(p string) {
	l.mu.Lock()
	l.phase = p
	l.mu.Unlock()
}

func (l *load) currentPhase() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.phase
}

func (l *load) worker(w int) {
	defer l.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(w)+1, uint64(time.Now().UnixNano())))
	// The replica this worker sends to: it starts on its half's replica and
	// moves to the other one after a failed attempt, like a client behind a
	// load balancer that takes a failing replica out of its pool.
	primary := w % len(l.clients)
	var toks []*ownToken
	n := 0
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		l.gate.RLock()
		toks = l.step(w, rng, &primary, toks, &n)
		l.gate.RUnlock()
		time.Sleep(l.pace)
	}
}

// step sends one command (two for a move: unassign, then assign) and
// returns the worker's tokens after it.
func (l *load) step(w int, rng *rand.Rand, primary *int, toks []*ownToken, n *int) []*ownToken {
	*n++
	name := func() string { // stored as given: no space to trim at either end
		return strings.TrimSpace(fmt.Sprintf("w%d-%d %s", w, *n, strings.Repeat("x", rng.IntN(8))))
	}
	if len(toks) < 4 || (len(toks) < 24 && rng.Float64() < 0.12) {
		req := sdk.CreateTokenRequest{Name: name(), ExpirationDate: time.Now().Add(48 * time.Hour).Unix()}
		if rng.IntN(2) == 0 {
			req.ModelID = l.models[rng.IntN(len(l.models))]
		}
		if rng.IntN(3) == 0 {
			req.Note = "note of " + req.Name
		}
		var secret string
		tok, ok := l.exec(primary, opCreate, "", ack{name: req.Name, model: req.ModelID, status: sdk.StatusActive},
			func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) (sdk.Token, error) {
				ct, err := c.CreateToken(ctx, req, opts...)
				if ct.Secret != "" {
					secret = ct.Secret
				}
				return ct.Token, err
			})
		if ok {
			if secret != "" {
				l.mu.Lock()
				l.secrets = append(l.secrets, secret)
				l.mu.Unlock()
			}
			toks = append(toks, &ownToken{id: tok.ID, name: tok.Name, status: tok.Status, model: tok.ModelID})
		}
		return toks
	}
	i := rng.IntN(len(toks))
	t := toks[i]
	drop := func() []*ownToken { return append(toks[:i], toks[i+1:]...) }
	// apply updates the worker's belief from an acknowledged answer; a
	// command whose outcome stayed unknown drops the token from the worker.
	apply := func(tok sdk.Token, ok bool) []*ownToken {
		if !ok {
			return drop()
		}
		t.name, t.status, t.model = tok.Name, tok.Status, tok.ModelID
		return toks
	}
	if t.status == sdk.StatusCanceled {
		if rng.IntN(4) == 0 {
			newName := name()
			l.expectRefusal(primary, opOnCanceled, t.id, sdk.CodeTokenCanceled, func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) error {
				_, err := c.UpdateToken(ctx, t.id, sdk.UpdateTokenRequest{Name: sdk.Some(newName)}, opts...)
				return err
			})
			return toks
		}
		_, ok := l.exec(primary, opDelete, t.id, ack{}, func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) (sdk.Token, error) {
			return sdk.Token{}, c.DeleteToken(ctx, t.id, opts...)
		})
		_ = ok
		return drop()
	}
	other := func() sdk.Status {
		if t.status == sdk.StatusActive {
			return sdk.StatusSuspended
		}
		return sdk.StatusActive
	}
	switch r := rng.Float64(); {
	case r < 0.25:
		newName := name()
		return apply(l.exec(primary, opRename, t.id, ack{name: newName}, func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) (sdk.Token, error) {
			return c.UpdateToken(ctx, t.id, sdk.UpdateTokenRequest{Name: sdk.Some(newName)}, opts...)
		}))
	case r < 0.42:
		st := other()
		return apply(l.exec(primary, opStatus, t.id, ack{status: st}, func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) (sdk.Token, error) {
			return c.UpdateToken(ctx, t.id, sdk.UpdateTokenRequest{Status: sdk.Some(st)}, opts...)
		}))
	case r < 0.50:
		newName, st := name(), other()
		return apply(l.exec(primary, opUpdate, t.id, ack{name: newName, status: st}, func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) (sdk.Token, error) {
			return c.UpdateToken(ctx, t.id, sdk.UpdateTokenRequest{Name: sdk.Some(newName), Status: sdk.Some(st)}, opts...)
		}))
	case r < 0.78:
		if t.model == "" {
			m := l.models[rng.IntN(len(l.models))]
			return apply(l.exec(primary, opAssign, t.id, ack{model: m}, func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) (sdk.Token, error) {
				return c.AssignModel(ctx, t.id, m, opts...)
			}))
		}
		// Move to another model: assigning it at once is refused
		// (already_assigned); unassign first, then assign.
		m := l.models[(indexOf(l.models, t.model)+1+rng.IntN(len(l.models)-1))%len(l.models)]
		if rng.IntN(3) == 0 {
			l.expectRefusal(primary, opReassign, t.id, sdk.CodeAlreadyAssigned, func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) error {
				_, err := c.AssignModel(ctx, t.id, m, opts...)
				return err
			})
		}
		tok, ok := l.exec(primary, opUnassign, t.id, ack{}, func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) (sdk.Token, error) {
			return c.UnassignModel(ctx, t.id, opts...)
		})
		if toks = apply(tok, ok); !ok || rng.IntN(2) == 0 {
			return toks
		}
		return apply(l.exec(primary, opAssign, t.id, ack{model: m}, func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) (sdk.Token, error) {
			return c.AssignModel(ctx, t.id, m, opts...)
		}))
	case r < 0.90 || len(toks) > 20:
		return apply(l.exec(primary, opCancel, t.id, ack{status: sdk.StatusCanceled}, func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) (sdk.Token, error) {
			return c.CancelToken(ctx, t.id, opts...)
		}))
	default:
		l.exec(primary, opDelete, t.id, ack{}, func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) (sdk.Token, error) {
			return sdk.Token{}, c.DeleteToken(ctx, t.id, opts...)
		})
		return drop()
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return 0
}

type call func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) (sdk.Token, error)

// commandDeadline bounds how long one command is repeated while its outcome
// is unknown.
const commandDeadline = 60 * time.Second

// exec sends one command until it is acknowledged (ok) or refused, or its
// deadline passes. Each attempt goes to *primary, which a failed attempt
// moves to the other replica. Every attempt carries the same Idempotency-Key, so the
// service carries the command out at most once.
func (l *load) exec(primary *int, kind opKind, token string, want ack, fn call) (sdk.Token, bool) {
	key := uuid.NewString()
	phase := l.currentPhase()
	l.count(phase, func() { l.sent[phase]++ })
	start := time.Now()
	uncertain := false // an earlier attempt may have landed
	for attempt := 1; ; attempt++ {
		ri := *primary
		var meta sdk.Meta
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		tok, err := fn(ctx, l.clients[ri], []sdk.CallOption{sdk.IdempotencyKey(key), sdk.WithResponseMeta(&meta)})
		cancel()
		if err == nil {
			a := want
			a.kind, a.token, a.seq, a.version, a.at, a.attempts, a.phase = kind, token, meta.Sequence, meta.Version, time.Now(), attempt, phase
			if kind == opCreate {
				a.token = tok.ID
			}
			l.mu.Lock()
			l.acks = append(l.acks, a)
			l.mu.Unlock()
			return tok, true
		}
		cur := l.currentPhase()
		l.count(cur, func() { l.errOf(cur)[classify(err)]++ })
		var apiErr *sdk.Error
		if errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 && apiErr.Status != http.StatusTooManyRequests {
			if uncertain && attempt < 12 {
				// An earlier attempt may have landed on a replica whose read
				// model has not recorded it yet (a DELETE repeated then finds
				// no token): give the read model a moment, ask again.
				time.Sleep(500 * time.Millisecond)
				continue
			}
			msg := fmt.Sprintf("%s %s %s (%s, attempt %d, replica %d): %v", time.Now().UTC().Format("15:04:05.000"), kind, token, cur, attempt, ri+1, err)
			l.count(cur, func() {
				if knownStale(apiErr) {
					l.stale = append(l.stale, msg)
				} else {
					l.unexpect = append(l.unexpect, msg)
				}
			})
			return sdk.Token{}, false
		}
		uncertain = true
		*primary = (ri + 1) % len(l.clients)
		if time.Since(start) > commandDeadline {
			l.count(cur, func() { l.abandoned[cur]++ })
			return sdk.Token{}, false
		}
		time.Sleep(time.Duration(min(attempt, 5)) * 150 * time.Millisecond)
	}
}

// expectRefusal sends a command the domain must refuse with code; it is
// repeated like exec while its outcome is unknown.
func (l *load) expectRefusal(primary *int, kind opKind, token, code string, fn func(ctx context.Context, c *sdk.Client, opts []sdk.CallOption) error) {
	key := uuid.NewString()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		ri := *primary
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		err := fn(ctx, l.clients[ri], []sdk.CallOption{sdk.IdempotencyKey(key)})
		cancel()
		cur := l.currentPhase()
		var apiErr *sdk.Error
		switch {
		case err == nil:
			l.count(cur, func() { l.unexpect = append(l.unexpect, fmt.Sprintf("%s %s: accepted, want %s", kind, token, code)) })
			return
		case errors.As(err, &apiErr) && apiErr.Code == code:
			l.count(cur, func() { l.refused[code]++ })
			return
		case errors.As(err, &apiErr) && apiErr.Status < 500:
			msg := fmt.Sprintf("%s %s %s (%s, replica %d): %v, want %s", time.Now().UTC().Format("15:04:05.000"), kind, token, cur, ri+1, err, code)
			l.count(cur, func() {
				if knownStale(apiErr) {
					l.stale = append(l.stale, msg)
				} else {
					l.unexpect = append(l.unexpect, msg)
				}
			})
			return
		}
		l.count(cur, func() { l.errOf(cur)[classify(err)]++ })
		*primary = (ri + 1) % len(l.clients)
		if time.Since(start) > commandDeadline {
			return
		}
		time.Sleep(time.Duration(min(attempt, 5)) * 150 * time.Millisecond)
	}
}

// knownStale reports whether a refusal is one a stale view of the log
// would give: a worker only acts on tokens and models that exist (their
// creation was acknowledged and nothing deleted them), so not_found, or
// invalid_argument for a model, means the replica decided on an old view
// (a follower's direct get). Refusals and no-ops now rest on the leader's
// latest state (natsjs.EventStore.LoadLatest); TestFaults fails on any.
func knownStale(e *sdk.Error) bool {
	return e.Code == sdk.CodeNotFound || e.Code == sdk.CodeInvalidArgument && strings.Contains(e.Message, "no model")
}

func (l *load) count(_ string, f func()) {
	l.mu.Lock()
	f()
	l.mu.Unlock()
}

// errOf returns the error counts of a phase; l.mu is held.
func (l *load) errOf(phase string) map[string]int {
	m := l.errs[phase]
	if m == nil {
		m = map[string]int{}
		l.errs[phase] = m
	}
	return m
}

// classify names a failed attempt for the report.
func classify(err error) string {
	var apiErr *sdk.Error
	if errors.As(err, &apiErr) {
		if apiErr.Code != "" {
			return fmt.Sprintf("%d %s", apiErr.Status, apiErr.Code)
		}
		return fmt.Sprintf("%d", apiErr.Status)
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(s, "Client.Timeout") || strings.Contains(s, "deadline exceeded"):
		return "timeout (8 s)"
	case strings.Contains(s, "connection reset") || strings.Contains(s, "EOF") || strings.Contains(s, "broken pipe"):
		return "connection dropped"
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return "other: " + s
}

// snapshot copies the acknowledged commands.
func (l *load) snapshot() []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.acks...)
}

// window describes the acknowledged commands between from and to: how
// many, and the longest time with none.
func window(acks []ack, from, to time.Time) (n int, gap time.Duration) {
	var ts []time.Time
	for _, a := range acks {
		if !a.at.Before(from) && a.at.Before(to) {
			ts = append(ts, a.at)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	prev := from
	for _, t := range ts {
		gap = max(gap, t.Sub(prev))
		prev = t
	}
	gap = max(gap, to.Sub(prev))
	return len(ts), gap
}

// errSummary formats a phase's failed attempts, most frequent first.
func (l *load) errSummary(phase string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.errs[phase]
	if len(m) == 0 {
		return "none"
	}
	type kv struct {
		k string
		v int
	}
	var s []kv
	for k, v := range m {
		s = append(s, kv{k, v})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].v > s[j].v || s[i].v == s[j].v && s[i].k < s[j].k })
	var parts []string
	for _, e := range s {
		parts = append(parts, fmt.Sprintf("%s ×%d", e.k, e.v))
	}
	return strings.Join(parts, ", ")
}
