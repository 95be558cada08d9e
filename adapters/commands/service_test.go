package commands_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/natsjs/natstest"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

const account = "acme"

var actor = domain.Actor{Kind: domain.ActorLicense, ID: "lic-1"}

// fixture is one embedded JetStream server with the streams, and a command
// service on its own connection.
type fixture struct {
	t     *testing.T
	emb   *natsjs.Embedded
	js    jetstream.JetStream
	store *natsjs.EventStore
	svc   *commands.Service
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	emb, _, js := natstest.Start(t)
	f := &fixture{t: t, emb: emb, js: js, store: natsjs.NewEventStore(js), now: time.Now()}
	f.svc = commands.New(f.store, nil, commands.Config{})
	return f
}

// service returns another command service with its own NATS connection, as
// a second tokend process would have.
func (f *fixture) service() *commands.Service {
	f.t.Helper()
	nc, js, err := natsjs.Connect(f.emb.ClientURL(), "second", slog.New(slog.DiscardHandler))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(nc.Close)
	return commands.New(natsjs.NewEventStore(js), nil, commands.Config{})
}

func (f *fixture) exec(svc *commands.Service, tokenID string, body domain.CommandBody) (commands.Result, error) {
	f.t.Helper()
	return svc.Execute(context.Background(), domain.Command{ID: uuid.New(), AccountID: account, TokenID: tokenID, Actor: actor, Body: body})
}

func (f *fixture) must(svc *commands.Service, tokenID string, body domain.CommandBody) commands.Result {
	f.t.Helper()
	r, err := f.exec(svc, tokenID, body)
	if err != nil {
		f.t.Fatalf("%T: %v", body, err)
	}
	return r
}

// setup creates the account (once), n models and one token, and returns
// the token id and the model ids.
func (f *fixture) setup(n int) (string, []string) {
	f.t.Helper()
	if acc, _, err := f.svc.Account(context.Background(), account); err != nil || !acc.Exists() {
		f.must(f.svc, "", domain.CreateAccount{Name: "Acme", LicenseID: "lic-1", LicenseSha256: domain.HashSecret("x")})
	}
	models := make([]string, n)
	for i := range models {
		id := uuid.New()
		models[i] = commands.ModelIDFor(id)
		if _, err := f.svc.Execute(context.Background(), domain.Command{ID: id, AccountID: account, Actor: actor,
			Body: domain.RegisterModel{ModelID: models[i], Name: fmt.Sprintf("model-%d", i)}}); err != nil {
			f.t.Fatal(err)
		}
	}
	id := uuid.New()
	tokenID := commands.TokenIDFor(id)
	if _, err := f.svc.Execute(context.Background(), domain.Command{ID: id, AccountID: account, TokenID: tokenID, Actor: actor,
		Body: domain.IssueToken{Name: "t", ExpirationDate: f.now.Add(time.Hour).Unix(), SecretSha256: "h", SecretHint: "tkn_abcd"}}); err != nil {
		f.t.Fatal(err)
	}
	return tokenID, models
}

func (f *fixture) events(tokenID string) []natsjs.StoredEvent {
	f.t.Helper()
	evs, err := f.store.Load(context.Background(), account, tokenID)
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

func (f *fixture) lastSeq() uint64 {
	f.t.Helper()
	seq, err := f.store.LastSequence(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return seq
}

func count(evs []natsjs.StoredEvent, typ domain.EventType) int {
	n := 0
	for _, e := range evs {
		if e.Event.Type == typ {
			n++
		}
	}
	return n
}

// Two processes, 50 clients, 50 models, one unassigned token: the expected
// subject sequence lets exactly one assignment through.
func TestConcurrentAssignmentsOneWins(t *testing.T) {
	f := newFixture(t)
	tokenID, models := f.setup(50)
	services := []*commands.Service{f.svc, f.service()}

	var wg sync.WaitGroup
	errs := make([]error, len(models))
	for i, m := range models {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.exec(services[i%2], tokenID, domain.AssignModel{ModelID: m})
		}()
	}
	wg.Wait()

	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, domain.ErrAlreadyAssigned):
			t.Errorf("assign %d: %v, want already_assigned", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d assignments succeeded, want exactly 1", won)
	}
	if n := count(f.events(tokenID), domain.ModelAssigned); n != 1 {
		t.Errorf("the stream holds %d ModelAssigned events, want 1", n)
	}
}

// A stale in-memory state is caught by the expected sequence, and the
// command is decided again on the log's state.
func TestStaleCacheIsDecidedAgain(t *testing.T) {
	f := newFixture(t)
	tokenID, models := f.setup(2)
	other := f.service()
	f.must(f.svc, tokenID, domain.RenameToken{Name: "cached here"})
	f.must(other, tokenID, domain.AssignModel{ModelID: models[0]}) // f.svc does not know

	_, err := f.exec(f.svc, tokenID, domain.AssignModel{ModelID: models[1]})
	if !errors.Is(err, domain.ErrAlreadyAssigned) {
		t.Fatalf("assign on a stale cache: %v, want already_assigned", err)
	}
	r := f.must(f.svc, tokenID, domain.RenameToken{Name: "renamed"})
	if r.Version != 4 || r.Token.ModelID() != models[0] || r.Token.Name() != "renamed" {
		t.Fatalf("after a conflict: version %d, model %q, name %q", r.Version, r.Token.ModelID(), r.Token.Name())
	}
}

func TestSameCommandTwiceGivesOneEvent(t *testing.T) {
	f := newFixture(t)
	tokenID, _ := f.setup(0)
	cmd := domain.Command{ID: uuid.New(), AccountID: account, TokenID: tokenID, Actor: actor,
		Body: domain.UpdateToken{Name: domain.Some("both"), Status: domain.Some("suspended")}}
	first, err := f.svc.Execute(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	// Someone else changes the token in between, so that deciding the
	// command again would emit a new event if it were not recognised.
	f.must(f.service(), tokenID, domain.RenameToken{Name: "moved on"})

	for name, svc := range map[string]*commands.Service{"same process": f.svc, "another process": f.service()} {
		again, err := svc.Execute(context.Background(), cmd)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !again.Repeated || again.Sequence != first.Sequence || again.Version != first.Version {
			t.Errorf("%s: repeat gave %+v, want the first outcome (seq %d, version %d)", name, again, first.Sequence, first.Version)
		}
	}
	if n := count(f.events(tokenID), domain.TokenUpdated); n != 1 {
		t.Errorf("%d TokenUpdated events, want 1", n)
	}
}

// A repeat that the state left by its first run makes a no-op (a
// SuspendToken of a token it suspended, a CancelToken of a token it
// canceled) or refuses (the SuspendToken, once the token is canceled),
// arriving before any read model knows the first run (here there
// is none), answers the first run's outcome: the log holds its event.
func TestRepeatRefusedOrNoOpByItsOwnEffect(t *testing.T) {
	f := newFixture(t)
	tokenID, _ := f.setup(0)
	suspend := domain.Command{ID: uuid.New(), AccountID: account, TokenID: tokenID, Actor: actor, Body: domain.SuspendToken{}}
	cancel := domain.Command{ID: uuid.New(), AccountID: account, TokenID: tokenID, Actor: actor, Body: domain.CancelToken{}}
	var firsts []commands.Result
	for _, cmd := range []domain.Command{suspend, cancel} {
		r, err := f.svc.Execute(context.Background(), cmd)
		if err != nil {
			t.Fatal(err)
		}
		firsts = append(firsts, r)
	}
	for i, cmd := range []domain.Command{suspend, cancel} {
		for name, svc := range map[string]*commands.Service{"same process": f.svc, "another process": f.service()} {
			again, err := svc.Execute(context.Background(), cmd)
			if err != nil || !again.Repeated || again.Version != firsts[i].Version || again.Sequence != firsts[i].Sequence {
				t.Errorf("%s: repeated %T gave %+v, %v; want the first outcome %+v", name, cmd.Body, again, err, firsts[i])
			}
		}
	}
	// A new command is still refused by the same state.
	if _, err := f.exec(f.svc, tokenID, domain.SuspendToken{}); domain.CodeOf(err) != domain.CodeTokenCanceled {
		t.Fatalf("a new SuspendToken of a canceled token: %v, want token_canceled", err)
	}
	if n := len(f.events(tokenID)); n != 3 {
		t.Fatalf("%d events, want 3", n)
	}
}

// A command id used again by another account, before any read model knows
// the first use, is refused, and the other account gets no token.
func TestCommandIDOfAnotherAccountIsRefused(t *testing.T) {
	f := newFixture(t)
	f.setup(0)
	if _, err := f.svc.Execute(context.Background(), domain.Command{ID: uuid.New(), AccountID: "globex", Actor: actor,
		Body: domain.CreateAccount{Name: "Globex", LicenseID: "lic-2", LicenseSha256: domain.HashSecret("y")}}); err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	issue := func(accountID string) error {
		_, err := f.svc.Execute(context.Background(), domain.Command{ID: id, AccountID: accountID, TokenID: commands.TokenIDFor(id), Actor: actor,
			Body: domain.IssueToken{Name: "mine", ExpirationDate: f.now.Add(time.Hour).Unix(), SecretSha256: "h3", SecretHint: "tkn_abcd"}})
		return err
	}
	if err := issue(account); err != nil {
		t.Fatal(err)
	}
	if err := issue("globex"); domain.CodeOf(err) != domain.CodeInvalidArgument || !strings.Contains(err.Error(), "commandId") {
		t.Fatalf("the same command id from another account: %v, want invalid_argument on commandId", err)
	}
	stored, err := f.store.Load(context.Background(), "globex", commands.TokenIDFor(id))
	if err != nil || len(stored) != 0 {
		t.Fatalf("the other account has %d events for the token (%v)", len(stored), err)
	}
}

func TestRepeatedIssueCreatesOneToken(t *testing.T) {
	f := newFixture(t)
	f.setup(0)
	id := uuid.New()
	cmd := domain.Command{ID: id, AccountID: account, TokenID: commands.TokenIDFor(id), Actor: actor,
		Body: domain.IssueToken{Name: "once", ExpirationDate: f.now.Add(time.Hour).Unix(), SecretSha256: "h2", SecretHint: "tkn_wxyz"}}
	for i := range 3 {
		svc := f.svc
		if i == 2 {
			svc = f.service()
		}
		r, err := svc.Execute(context.Background(), cmd)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if r.Token.Name() != "once" || r.Version != 1 {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	if n := len(f.events(cmd.TokenID)); n != 1 {
		t.Fatalf("%d events for one IssueToken run three times, want 1", n)
	}
}

// Every refusal leaves the log as it was.
func TestRefusedCommandsAppendNothing(t *testing.T) {
	f := newFixture(t)
	tokenID, models := f.setup(2)
	f.must(f.svc, tokenID, domain.AssignModel{ModelID: models[0]})
	canceled, _ := f.setup(0)
	f.must(f.svc, canceled, domain.CancelToken{})
	stale := int64(1)
	cases := []struct {
		name  string
		token string
		body  domain.CommandBody
		code  domain.Code
		ver   *int64
	}{
		{"empty name", tokenID, domain.RenameToken{Name: "  "}, domain.CodeInvalidArgument, nil},
		{"past expiration", tokenID, domain.ChangeExpiration{ExpirationDate: f.now.Add(-time.Hour).Unix()}, domain.CodeInvalidArgument, nil},
		{"unknown model", tokenID, domain.UpdateToken{ModelID: domain.Some(ptr("nope"))}, domain.CodeInvalidArgument, nil},
		{"second model", tokenID, domain.AssignModel{ModelID: models[1]}, domain.CodeAlreadyAssigned, nil},
		{"bad field among good ones", tokenID, domain.UpdateToken{Name: domain.Some("fine"), Status: domain.Some("gone")}, domain.CodeInvalidArgument, nil},
		{"canceled", canceled, domain.RenameToken{Name: "again"}, domain.CodeTokenCanceled, nil},
		{"missing token", "no-such-token", domain.SuspendToken{}, domain.CodeNotFound, nil},
		{"stale version", tokenID, domain.SuspendToken{}, domain.CodeVersionConflict, &stale},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.lastSeq()
			_, err := f.svc.Execute(context.Background(), domain.Command{ID: uuid.New(), AccountID: account, TokenID: c.token, Actor: actor, Body: c.body, ExpectedVersion: c.ver})
			if got := domain.CodeOf(err); got != c.code {
				t.Fatalf("code %q (%v), want %q", got, err, c.code)
			}
			if after := f.lastSeq(); after != before {
				t.Fatalf("the stream moved from %d to %d", before, after)
			}
		})
	}
}

// Another account's token is not found, exactly like a missing one.
func TestOtherAccountsTokenIsNotFound(t *testing.T) {
	f := newFixture(t)
	tokenID, _ := f.setup(0)
	_, err := f.svc.Execute(context.Background(), domain.Command{ID: uuid.New(), AccountID: "other", TokenID: tokenID, Actor: actor, Body: domain.SuspendToken{}})
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("got %v, want not_found", err)
	}
}

func ptr[T any](v T) *T { return &v }

// A token id that cannot name a token subject is not found, and nothing is read or written.
func TestImpossibleTokenIDsAreNotFound(t *testing.T) {
	f := newFixture(t)
	f.setup(0)
	for _, id := range []string{domain.AccountSubject, "a.b", "*", ">", "with space"} {
		before := f.lastSeq()
		_, err := f.exec(f.svc, id, domain.RenameToken{Name: "x"})
		if !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("token id %q: %v, want not_found", id, err)
		}
		if f.lastSeq() != before {
			t.Errorf("token id %q: the stream moved", id)
		}
	}
}

// The same command after a restart of everything (the log's server, the
// read model, the command service) still gives one event: the read model
// remembers the command id, so the first outcome is returned even though
// deciding the command again would now change the token.
func TestSameCommandAcrossARestartGivesOneEvent(t *testing.T) {
	storeDir, readDir := t.TempDir(), t.TempDir()
	run := func(body func(svc *commands.Service, store *natsjs.EventStore, rm *projections.Store)) {
		t.Helper()
		emb, _, js := natstest.StartAt(t, storeDir)
		defer emb.Shutdown()
		rm, err := projections.Open(readDir, projections.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer rm.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- projections.NewProjector(rm, js, nil).Run(ctx) }()
		defer func() { cancel(); <-done }()
		es := natsjs.NewEventStore(js)
		body(commands.New(es, rm, commands.Config{}), es, rm)
	}
	var tokenID string
	var cmd domain.Command
	var first commands.Result
	run(func(svc *commands.Service, es *natsjs.EventStore, rm *projections.Store) {
		f := &fixture{t: t, store: es, svc: svc, now: time.Now()}
		tokenID, _ = f.setup(0)
		cmd = domain.Command{ID: uuid.New(), AccountID: account, TokenID: tokenID, Actor: actor,
			Body: domain.UpdateToken{Name: domain.Some("both"), Status: domain.Some("suspended")}}
		var err error
		if first, err = svc.Execute(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
		last := f.must(svc, tokenID, domain.RenameToken{Name: "moved on"})
		if err := rm.WaitFor(context.Background(), last.Sequence, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	run(func(svc *commands.Service, es *natsjs.EventStore, rm *projections.Store) {
		again, err := svc.Execute(context.Background(), cmd)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Repeated || again.Sequence != first.Sequence || again.Version != first.Version {
			t.Fatalf("after a restart the repeat gave %+v, want the first outcome (seq %d, version %d)", again, first.Sequence, first.Version)
		}
		evs, err := es.Load(context.Background(), account, tokenID)
		if err != nil {
			t.Fatal(err)
		}
		if n := count(evs, domain.TokenUpdated); n != 1 || len(evs) != 3 {
			t.Fatalf("%d events (%d TokenUpdated) after the repeat, want 3 (1)", len(evs), n)
		}
	})
}
