// Package commands carries out commands: it loads an aggregate, lets the
// pure domain decide, and appends the decision to the event log with
// optimistic concurrency. It is the one write path behind every intake
// (HTTP, NATS, the service's own bootstrap).
package commands

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// EventLog is the source of truth: one subject an aggregate, appends that
// name the subject sequence they expect. natsjs.EventStore implements it.
type EventLog interface {
	Load(ctx context.Context, accountID, subjectTail string) ([]natsjs.StoredEvent, error)
	// LoadLatest is Load up to the subject's last event on the stream
	// leader, for decisions that append nothing and so are not checked by
	// an expected sequence: refusals and no-ops.
	LoadLatest(ctx context.Context, accountID, subjectTail string) ([]natsjs.StoredEvent, error)
	Append(ctx context.Context, ev domain.Event, expectedLastSeq uint64) (seq uint64, duplicate bool, err error)
}

// Memory is what the service remembers through the read model: the outcome
// of every command that emitted an event (so a command repeated after the
// log's duplicate window still returns its first outcome), and a way to wait
// until the read model has seen a sequence. projections.Store implements it.
type Memory interface {
	CommandOutcome(commandID uuid.UUID) (projections.Outcome, bool, error)
	WaitFor(ctx context.Context, seq uint64, timeout time.Duration) error
}

// Snapshots is what a read model may offer besides Memory: a token's state
// as of the last event it applied, with that event's stream sequence
// (projections.Store implements it). When Memory also implements it, a
// command on a token that is not in the Service's cache starts from this
// snapshot, one local read, instead of loading the token's events from the
// log, one round trip that also makes the server load a message block per
// token. A snapshot may lag the log, exactly like a cached state: the
// append's expected sequence refuses a decision taken on it, and a refusal
// or a no-op decided on it is decided again on the log's state.
type Snapshots interface {
	TokenState(accountID, tokenID string) (domain.Token, uint64, error)
}

// Config tunes a Service. The zero Config is usable.
type Config struct {
	MaxLifetime time.Duration    // zero: domain.DefaultMaxLifetime
	Clock       func() time.Time // nil: time.Now
	Logger      *slog.Logger     // nil: slog.Default()
	// MaxAttempts bounds how often a command is decided again after another
	// writer moved its aggregate on. Zero: 16.
	MaxAttempts int
	// CacheSize bounds the aggregates kept in memory. Zero: 65,536.
	CacheSize int
	// UnavailableWait bounds how long a command waits out a log that cannot
	// be reached (natsjs.IsUnavailable: a leader election, a reconnect)
	// before it fails with domain.ErrUnavailable. Zero: 10 s.
	UnavailableWait time.Duration
}

// Result is what a command did.
type Result struct {
	CommandID uuid.UUID
	// Token is the token after the command (zero for account commands).
	Token domain.Token
	// Account is the account after the command; for a token command, the
	// token's account, whose models name the token's model.
	Account domain.Account
	// Version is the aggregate's version after the command: for a repeated
	// command, after its first run.
	Version int64
	// Sequence is the stream sequence of the aggregate's last event after
	// the command: of the command's own event when it emitted one (also on
	// a repeat), else the aggregate's latest.
	Sequence uint64
	// Emitted holds the events this run appended: none for a no-op or a repeat.
	Emitted []domain.Event
	// Repeated is true when the command id had already been carried out.
	Repeated bool
}

// Service carries out commands. It is safe for concurrent use, and several
// Services (in one process or many) may share one event log: every append
// names the subject sequence its decision was made on.
type Service struct {
	log         EventLog
	mem         Memory
	clock       func() time.Time
	maxLifetime time.Duration
	attempts    int
	unavailable time.Duration
	logger      *slog.Logger

	// Commands on one aggregate queue here instead of racing each other to
	// the log; across processes the expected sequence keeps them honest.
	locks [256]sync.Mutex

	tokens   *cache[domain.Token]
	accounts *cache[domain.Account]
}

// New returns a Service over an event log and the read model's memory.
func New(log EventLog, mem Memory, cfg Config) *Service {
	s := &Service{
		log:         log,
		mem:         mem,
		clock:       cfg.Clock,
		maxLifetime: cfg.MaxLifetime,
		attempts:    cfg.MaxAttempts,
		unavailable: cfg.UnavailableWait,
		logger:      cfg.Logger,
	}
	if s.unavailable <= 0 {
		s.unavailable = 10 * time.Second
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.maxLifetime <= 0 {
		s.maxLifetime = domain.DefaultMaxLifetime
	}
	if s.attempts <= 0 {
		s.attempts = 16
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	size := cfg.CacheSize
	if size <= 0 {
		size = 1 << 16
	}
	s.tokens = newCache[domain.Token](size)
	s.accounts = newCache[domain.Account](size / 16)
	return s
}

// errAttempts is returned when other writers kept moving an aggregate on.
var errAttempts = errors.New("commands: the aggregate kept changing under the command")

// Execute carries out one command: it returns what the command did, or an
// error, a *domain.Error with an API code when the domain refused it. A
// command whose id was carried out before returns its first outcome.
func (s *Service) Execute(ctx context.Context, cmd domain.Command) (Result, error) {
	return s.execute(ctx, cmd, true)
}

// ExecuteNew is Execute for a command whose id its caller has just drawn
// at random (an HTTP write without an Idempotency-Key): no earlier run of
// it can exist, so it skips the read model's look-up of one, a read that
// can only miss.
func (s *Service) ExecuteNew(ctx context.Context, cmd domain.Command) (Result, error) {
	return s.execute(ctx, cmd, false)
}

func (s *Service) execute(ctx context.Context, cmd domain.Command, mayRepeat bool) (Result, error) {
	if cmd.ID == uuid.Nil || cmd.AccountID == "" || cmd.Body == nil {
		return Result{}, fmt.Errorf("commands: %s needs an id, an account and a body", typeOf(cmd))
	}
	if err := checkIDs(cmd); err != nil {
		return Result{}, err
	}
	if mayRepeat {
		if r, ok, err := s.remembered(ctx, cmd); ok || err != nil {
			return r, err
		}
	}
	key := cmd.AccountID + "/" + cmd.TokenID
	mu := &s.locks[stripe(key)]
	mu.Lock()
	defer mu.Unlock()
	giveUp := time.Now().Add(s.unavailable)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var r Result
		var err error
		if cmd.TokenID == "" {
			r, err = s.executeAccount(ctx, cmd)
		} else {
			r, err = s.executeToken(ctx, cmd)
		}
		if !natsjs.IsUnavailable(err) || ctx.Err() != nil {
			return r, err
		}
		// The log did not answer (a leader election, a reconnect): wait it
		// out for a while. Trying again is safe: an append that did land
		// the first time is recognised by its event id.
		if time.Now().After(giveUp) {
			s.logger.Warn("the event log stayed unavailable", "command", string(cmd.Type()), "commandId", cmd.ID.String(), "err", err.Error())
			return Result{}, fmt.Errorf("%w (%v)", domain.ErrUnavailable, err)
		}
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// checkIDs refuses ids that cannot name an aggregate's subject: a token id
// with a dot or a wildcard, or the account subject itself, names no token
// (not_found, as for any token that does not exist); a bad account id is a
// caller's bug.
func checkIDs(cmd domain.Command) error {
	if err := natsjs.ValidSubjectToken("account id", cmd.AccountID); err != nil {
		return fmt.Errorf("commands: %w", err)
	}
	if cmd.TokenID == "" {
		return nil
	}
	if cmd.TokenID == domain.AccountSubject || natsjs.ValidSubjectToken("token id", cmd.TokenID) != nil {
		return &domain.Error{Code: domain.CodeNotFound, Message: "token " + cmd.TokenID + " not found"}
	}
	return nil
}

func typeOf(cmd domain.Command) domain.CommandType {
	if cmd.Body == nil {
		return ""
	}
	return cmd.Type()
}

func stripe(key string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32() % 256
}

// remembered returns the first outcome of a command that already emitted
// its event, as the read model recorded it.
func (s *Service) remembered(ctx context.Context, cmd domain.Command) (Result, bool, error) {
	if s.mem == nil {
		return Result{}, false, nil
	}
	o, ok, err := s.mem.CommandOutcome(cmd.ID)
	if err != nil || !ok {
		return Result{}, false, err
	}
	if o.AccountID != cmd.AccountID || o.TokenID != cmd.TokenID {
		// The same id for another aggregate is a client bug, not a repeat.
		return Result{}, true, domain.Invalid("commandId", "was already used for another command")
	}
	r := Result{CommandID: cmd.ID, Version: o.Version, Sequence: o.Sequence, Repeated: true}
	acc, _, _, err := s.account(ctx, cmd.AccountID, false)
	if err != nil {
		return Result{}, true, err
	}
	r.Account = acc
	if cmd.TokenID != "" {
		t, _, _, err := s.token(ctx, cmd.AccountID, cmd.TokenID, false)
		if err != nil {
			return Result{}, true, err
		}
		r.Token = t
	}
	return r, true, nil
}

func (s *Service) executeToken(ctx context.Context, cmd domain.Command) (Result, error) {
	fresh := false // read both aggregates from the log, not from memory
	for attempt := 0; attempt < s.attempts; attempt++ {
		acc, _, accLoaded, err := s.account(ctx, cmd.AccountID, fresh)
		if err != nil {
			return Result{}, err
		}
		tok, seq, tokLoaded, prior, err := s.tokenRun(ctx, cmd.AccountID, cmd.TokenID, fresh, cmd.ID)
		if err != nil {
			return Result{}, err
		}
		events, err := domain.Decide(tok, cmd, domain.Rules{Now: s.clock(), MaxLifetime: s.maxLifetime, Models: acc})
		if (err != nil || len(events) == 0) && !(accLoaded && tokLoaded) {
			// A refusal or a no-op decided on remembered state may be stale
			// (an append would have caught it, but these append nothing):
			// decide again on the log's state before answering.
			fresh = true
			continue
		}
		if (err != nil || len(events) == 0) && prior.found {
			// The log already holds this command's event: it is a repeat
			// that came before the read model knew the first run (which
			// remembered reads), and the state the first run left refuses
			// it or makes it a no-op. Answer the first run's outcome.
			return Result{CommandID: cmd.ID, Token: tok, Account: acc, Version: prior.version, Sequence: prior.sequence, Repeated: true}, nil
		}
		if err != nil {
			return Result{}, err
		}
		if len(events) == 0 {
			return Result{CommandID: cmd.ID, Token: tok, Account: acc, Version: tok.Version(), Sequence: seq}, nil
		}
		ev := events[0]
		newSeq, dup, err := s.log.Append(ctx, ev, seq)
		switch {
		case errors.Is(err, natsjs.ErrConcurrentAppend):
			s.tokens.drop(cmd.AccountID + "/" + cmd.TokenID)
			fresh = true
			continue
		case err != nil:
			return Result{}, fmt.Errorf("commands: append %s: %w", ev.Type, err)
		case dup:
			return s.duplicate(ctx, cmd, newSeq)
		}
		tok = domain.Evolve(tok, ev)
		s.tokens.put(cmd.AccountID+"/"+cmd.TokenID, tok, newSeq)
		return Result{CommandID: cmd.ID, Token: tok, Account: acc, Version: tok.Version(), Sequence: newSeq, Emitted: events}, nil
	}
	return Result{}, errAttempts
}

func (s *Service) executeAccount(ctx context.Context, cmd domain.Command) (Result, error) {
	fresh := false
	for attempt := 0; attempt < s.attempts; attempt++ {
		acc, seq, loaded, prior, err := s.accountRun(ctx, cmd.AccountID, fresh, cmd.ID)
		if err != nil {
			return Result{}, err
		}
		events, err := domain.DecideAccount(acc, cmd, s.clock())
		if (err != nil || len(events) == 0) && !loaded {
			fresh = true
			continue
		}
		if (err != nil || len(events) == 0) && prior.found {
			// A repeat the read model did not know yet (executeToken).
			return Result{CommandID: cmd.ID, Account: acc, Version: prior.version, Sequence: prior.sequence, Repeated: true}, nil
		}
		if err != nil {
			return Result{}, err
		}
		if len(events) == 0 {
			return Result{CommandID: cmd.ID, Account: acc, Version: acc.Version(), Sequence: seq}, nil
		}
		ev := events[0]
		newSeq, dup, err := s.log.Append(ctx, ev, seq)
		switch {
		case errors.Is(err, natsjs.ErrConcurrentAppend):
			s.accounts.drop(cmd.AccountID)
			fresh = true
			continue
		case err != nil:
			return Result{}, fmt.Errorf("commands: append %s: %w", ev.Type, err)
		case dup:
			return s.duplicate(ctx, cmd, newSeq)
		}
		acc = domain.EvolveAccount(acc, ev)
		s.accounts.put(cmd.AccountID, acc, newSeq)
		return Result{CommandID: cmd.ID, Account: acc, Version: acc.Version(), Sequence: newSeq, Emitted: events}, nil
	}
	return Result{}, errAttempts
}

// duplicate answers a command whose event the log already holds (it
// de-duplicated the append by event id): it reads the aggregate back from
// the log and reports the version that event gave it.
func (s *Service) duplicate(ctx context.Context, cmd domain.Command, seq uint64) (Result, error) {
	tail := cmd.TokenID
	if tail == "" {
		tail = domain.AccountSubject
	}
	s.tokens.drop(cmd.AccountID + "/" + cmd.TokenID)
	s.accounts.drop(cmd.AccountID)
	stored, err := s.log.LoadLatest(ctx, cmd.AccountID, tail)
	if err != nil {
		return Result{}, fmt.Errorf("commands: reload after a repeated append: %w", err)
	}
	r := Result{CommandID: cmd.ID, Sequence: seq, Repeated: true}
	for i, se := range stored {
		if se.Sequence == seq {
			r.Version = int64(i + 1)
		}
	}
	if r.Version == 0 {
		// The log holds this command's event on another aggregate's
		// subject: the id was used for another command (remembered says
		// the same once the read model has that event).
		return Result{}, domain.Invalid("commandId", "was already used for another command")
	}
	acc, _, _, err := s.account(ctx, cmd.AccountID, false)
	if err != nil {
		return Result{}, err
	}
	r.Account = acc
	if cmd.TokenID != "" {
		r.Token = fold(stored)
		s.tokens.put(cmd.AccountID+"/"+cmd.TokenID, r.Token, lastSeq(stored))
	}
	return r, nil
}

// Account returns an account's state and the sequence of its last event,
// read from the log when it is not in memory.
func (s *Service) Account(ctx context.Context, accountID string) (domain.Account, uint64, error) {
	a, seq, _, err := s.account(ctx, accountID, false)
	return a, seq, err
}

// account returns the account and the sequence of its last event, from
// memory unless fresh is set or it is not there. loaded is true only for a
// state read up to the leader's last event (fresh): the one a refusal or a
// no-op may rest on. Models
// are never removed, so a remembered account can only lack what was added
// since; Execute re-reads it before it refuses anything.
func (s *Service) account(ctx context.Context, accountID string, fresh bool) (a domain.Account, seq uint64, loaded bool, err error) {
	a, seq, loaded, _, err = s.accountRun(ctx, accountID, fresh, uuid.Nil)
	return a, seq, loaded, err
}

// accountRun is account that also looks, in a state read from the log,
// for an event of command cmd: the earlier run of a repeated command.
func (s *Service) accountRun(ctx context.Context, accountID string, fresh bool, cmd uuid.UUID) (a domain.Account, seq uint64, loaded bool, prior priorRun, err error) {
	if !fresh {
		if a, seq, ok := s.accounts.get(accountID); ok {
			return a, seq, false, priorRun{}, nil
		}
	}
	stored, err := s.load(ctx, accountID, domain.AccountSubject, fresh)
	if err != nil {
		return domain.Account{}, 0, false, priorRun{}, fmt.Errorf("commands: load account %s: %w", accountID, err)
	}
	for _, se := range stored {
		a = domain.EvolveAccount(a, se.Event)
	}
	seq = lastSeq(stored)
	if a.Exists() {
		s.accounts.put(accountID, a, seq)
	}
	return a, seq, fresh, findRun(stored, cmd), nil
}

// token returns a token and the sequence of its last event (0: none yet),
// like account; on a cache miss it starts from the read model's snapshot
// when there is one (Snapshots), also for a token it does not know (a
// new one, or one it has not applied yet: a refusal is decided again).
func (s *Service) token(ctx context.Context, accountID, tokenID string, fresh bool) (t domain.Token, seq uint64, loaded bool, err error) {
	t, seq, loaded, _, err = s.tokenRun(ctx, accountID, tokenID, fresh, uuid.Nil)
	return t, seq, loaded, err
}

// tokenRun is token that also looks, in a state read from the log, for an
// event of command cmd: the earlier run of a repeated command.
func (s *Service) tokenRun(ctx context.Context, accountID, tokenID string, fresh bool, cmd uuid.UUID) (t domain.Token, seq uint64, loaded bool, prior priorRun, err error) {
	key := accountID + "/" + tokenID
	if !fresh {
		if t, seq, ok := s.tokens.get(key); ok {
			return t, seq, false, priorRun{}, nil
		}
		if snap, ok := s.mem.(Snapshots); ok {
			// A read error is no reason to fail: the log answers instead.
			if t, seq, err := snap.TokenState(accountID, tokenID); err == nil {
				if t.Exists() {
					s.tokens.put(key, t, seq)
				}
				return t, seq, false, priorRun{}, nil
			}
		}
	}
	stored, err := s.load(ctx, accountID, tokenID, fresh)
	if err != nil {
		return domain.Token{}, 0, false, priorRun{}, fmt.Errorf("commands: load token %s: %w", tokenID, err)
	}
	t = fold(stored)
	seq = lastSeq(stored)
	if t.Exists() {
		s.tokens.put(key, t, seq)
	}
	return t, seq, fresh, findRun(stored, cmd), nil
}

// priorRun is what an earlier run of a command did to its aggregate, found
// in the log: the version its event gave the aggregate, and its sequence.
type priorRun struct {
	found    bool
	version  int64
	sequence uint64
}

// findRun looks for the event of command cmd among an aggregate's events.
// A command's events carry its id, and a command emits at most one event.
func findRun(stored []natsjs.StoredEvent, cmd uuid.UUID) priorRun {
	if cmd == uuid.Nil {
		return priorRun{}
	}
	for i, se := range stored {
		if se.Event.CommandID == cmd {
			return priorRun{found: true, version: int64(i + 1), sequence: se.Sequence}
		}
	}
	return priorRun{}
}

// load reads a subject from the log: up to the leader's last event when
// fresh, since only then is the state trusted for a refusal or a no-op.
func (s *Service) load(ctx context.Context, accountID, tail string, fresh bool) ([]natsjs.StoredEvent, error) {
	if fresh {
		return s.log.LoadLatest(ctx, accountID, tail)
	}
	return s.log.Load(ctx, accountID, tail)
}

func fold(stored []natsjs.StoredEvent) domain.Token {
	var t domain.Token
	for _, se := range stored {
		t = domain.Evolve(t, se.Event)
	}
	return t
}

func lastSeq(stored []natsjs.StoredEvent) uint64 {
	if len(stored) == 0 {
		return 0
	}
	return stored[len(stored)-1].Sequence
}
