package commands_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// snapshots is a read model that answers TokenState with whatever the test
// sets (a stale, missing or current snapshot) and remembers no outcome.
type snapshots struct {
	mu    sync.Mutex
	tok   domain.Token
	seq   uint64
	err   error
	calls int
	// outcomeReads counts the look-ups of an earlier run of a command.
	outcomeReads int
}

func (s *snapshots) set(tok domain.Token, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok, s.seq = tok, seq
}

func (s *snapshots) CommandOutcome(uuid.UUID) (projections.Outcome, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomeReads++
	return projections.Outcome{}, false, nil
}

func (s *snapshots) WaitFor(context.Context, uint64, time.Duration) error { return nil }

func (s *snapshots) TokenState(string, string) (domain.Token, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.tok, s.seq, s.err
}

// countingLog counts the loads of token subjects.
type countingLog struct {
	*natsjs.EventStore
	mu         sync.Mutex
	tokenLoads int
}

func (l *countingLog) Load(ctx context.Context, accountID, subject string) ([]natsjs.StoredEvent, error) {
	l.count(subject)
	return l.EventStore.Load(ctx, accountID, subject)
}

func (l *countingLog) LoadLatest(ctx context.Context, accountID, subject string) ([]natsjs.StoredEvent, error) {
	l.count(subject)
	return l.EventStore.LoadLatest(ctx, accountID, subject)
}

func (l *countingLog) count(subject string) {
	if subject != domain.AccountSubject {
		l.mu.Lock()
		l.tokenLoads++
		l.mu.Unlock()
	}
}

// fold returns the token after its first n stored events, and the sequence
// of the n-th.
func fold(evs []natsjs.StoredEvent, n int) (domain.Token, uint64) {
	var t domain.Token
	var seq uint64
	for _, e := range evs[:n] {
		t, seq = domain.Evolve(t, e.Event), e.Sequence
	}
	return t, seq
}

// A command on a token the service has not cached starts from the read
// model's snapshot, without loading the token from the log; a snapshot
// that lags the log (or does not know the token yet, or fails) costs a
// load and a decision on the log's state, never a wrong answer.
func TestSnapshotsOnACacheMiss(t *testing.T) {
	f := newFixture(t)
	tokenID, models := f.setup(2)
	f.must(f.svc, tokenID, domain.RenameToken{Name: "second"})
	f.must(f.svc, tokenID, domain.AssignModel{ModelID: models[0]})
	evs := f.events(tokenID) // issued, renamed, assigned

	newService := func(snap *snapshots) (*commands.Service, *countingLog) {
		log := &countingLog{EventStore: f.store}
		return commands.New(log, snap, commands.Config{}), log
	}

	t.Run("current snapshot: no load", func(t *testing.T) {
		snap := &snapshots{}
		snap.set(fold(evs, len(evs)))
		svc, log := newService(snap)
		r := f.must(svc, tokenID, domain.RenameToken{Name: "third"})
		if r.Version != 4 || r.Token.ModelID() != models[0] || log.tokenLoads != 0 || snap.calls != 1 {
			t.Fatalf("version %d, model %q, %d token loads, %d snapshot reads; want 4, %s, 0, 1",
				r.Version, r.Token.ModelID(), log.tokenLoads, snap.calls, models[0])
		}
		evs = f.events(tokenID)
	})
	t.Run("stale snapshot: the append is refused and decided again", func(t *testing.T) {
		snap := &snapshots{}
		snap.set(fold(evs, 1)) // as issued: unassigned, version 1
		svc, log := newService(snap)
		r := f.must(svc, tokenID, domain.RenameToken{Name: "fourth"})
		if r.Version != 5 || r.Token.ModelID() != models[0] || log.tokenLoads != 1 {
			t.Fatalf("version %d, model %q, %d token loads; want 5, %s, 1", r.Version, r.Token.ModelID(), log.tokenLoads, models[0])
		}
		evs = f.events(tokenID)
	})
	t.Run("stale snapshot: a refusal it would cause is decided on the log", func(t *testing.T) {
		snap := &snapshots{}
		snap.set(fold(evs, 1)) // unassigned in the snapshot, assigned in the log
		svc, _ := newService(snap)
		if _, err := f.exec(svc, tokenID, domain.AssignModel{ModelID: models[1]}); !errors.Is(err, domain.ErrAlreadyAssigned) {
			t.Fatalf("assign on a stale snapshot: %v, want already_assigned", err)
		}
		snap.set(fold(evs, 2)) // unassigned in the snapshot: an assignment, a no-op in the log
		svc, _ = newService(snap)
		r, err := f.exec(svc, tokenID, domain.AssignModel{ModelID: models[0]})
		if err != nil || len(r.Emitted) != 0 || r.Version != 5 {
			t.Fatalf("assigning the model it has, on a stale snapshot: %+v %v; want a no-op at version 5", r, err)
		}
	})
	t.Run("unknown to the snapshot", func(t *testing.T) {
		svc, log := newService(&snapshots{})
		r := f.must(svc, tokenID, domain.RenameToken{Name: "fifth"})
		if r.Version != 6 || log.tokenLoads != 1 {
			t.Fatalf("version %d, %d token loads; want 6, 1", r.Version, log.tokenLoads)
		}
	})
	t.Run("snapshot read fails", func(t *testing.T) {
		svc, log := newService(&snapshots{err: errors.New("disk on fire")})
		r := f.must(svc, tokenID, domain.RenameToken{Name: "sixth"})
		if r.Version != 7 || log.tokenLoads != 1 {
			t.Fatalf("version %d, %d token loads; want 7, 1", r.Version, log.tokenLoads)
		}
	})
	t.Run("a new token: issued without any load", func(t *testing.T) {
		svc, log := newService(&snapshots{})
		id := uuid.New()
		r, err := svc.Execute(context.Background(), domain.Command{ID: id, AccountID: account, TokenID: commands.TokenIDFor(id), Actor: actor,
			Body: domain.IssueToken{Name: "new", ExpirationDate: f.now.Add(time.Hour).Unix(), SecretSha256: "h", SecretHint: "tkn_abcd"}})
		if err != nil || r.Version != 1 || log.tokenLoads != 0 {
			t.Fatalf("issue: %+v %v, %d token loads; want version 1, no load", r, err, log.tokenLoads)
		}
	})
}

// A command whose id its caller has just drawn (ExecuteNew) is carried out
// like any other, without asking the read model for an earlier run of it;
// Execute asks.
func TestExecuteNewSkipsTheLookupOfAnEarlierRun(t *testing.T) {
	f := newFixture(t)
	tokenID, _ := f.setup(0)
	snap := &snapshots{}
	svc := commands.New(f.store, snap, commands.Config{})
	cmd := func(name string) domain.Command {
		return domain.Command{ID: uuid.New(), AccountID: account, TokenID: tokenID, Actor: actor,
			Body: domain.RenameToken{Name: name}}
	}
	r, err := svc.Execute(context.Background(), cmd("via Execute"))
	if err != nil || snap.outcomeReads != 1 {
		t.Fatalf("Execute: %v, %d look-ups of an earlier run; want 1", err, snap.outcomeReads)
	}
	r2, err := svc.ExecuteNew(context.Background(), cmd("via ExecuteNew"))
	if err != nil || snap.outcomeReads != 1 {
		t.Fatalf("ExecuteNew: %v, %d look-ups of an earlier run; want still 1", err, snap.outcomeReads)
	}
	if len(r2.Emitted) != 1 || r2.Version != r.Version+1 || r2.Token.Name() != "via ExecuteNew" {
		t.Fatalf("ExecuteNew: version %d (after %d), %d events, name %q", r2.Version, r.Version, len(r2.Emitted), r2.Token.Name())
	}
}
