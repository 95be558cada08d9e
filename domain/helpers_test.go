package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tokend/tokend/domain"
)

// The fixtures every test of this package shares: one account with two
// models, another account with its own model, one token, a clock on a whole
// second (so that "now + 1 s" and "now + max lifetime" are exact).
const (
	accountID      = "acc-1"
	otherAccountID = "acc-2"
	tokenID        = "tok-1"
	model1         = "m-1"
	model2         = "m-2"
	otherModel     = "m-other" // a model of otherAccountID
	firstName      = "alpha"
	secretSha256   = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
	secretHint     = "tkn_0Abc"
)

var (
	now        = time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
	day        = 24 * time.Hour
	firstExp   = now.Add(30 * day).Unix()
	actor      = domain.Actor{Kind: domain.ActorLicense, ID: "lic-1"}
	issueCmdID = uid(1)
)

// fatalHelper is what the fixtures need of a test: *testing.T, *testing.B
// and *rapid.T all have it.
type fatalHelper interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// uid returns a fixed, readable UUID.
func uid(n int) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012x", n))
}

// cmdSeq hands out command ids that differ from each other and from issueCmdID.
type cmdSeq struct{ n int }

func (s *cmdSeq) next() uuid.UUID { s.n++; return uid(1000 + s.n) }

// tokenCmd is a command about tokenID of accountID.
func tokenCmd(id uuid.UUID, body domain.CommandBody) domain.Command {
	return domain.Command{ID: id, AccountID: accountID, TokenID: tokenID, Actor: actor, Body: body}
}

// accountCmd is a command about an account.
func accountCmd(id uuid.UUID, account string, body domain.CommandBody) domain.Command {
	return domain.Command{ID: id, AccountID: account, Actor: actor, Body: body}
}

// issueBody is the IssueToken of the token every token test starts from.
func issueBody() domain.IssueToken {
	return domain.IssueToken{Name: firstName, ExpirationDate: firstExp, SecretSha256: secretSha256, SecretHint: secretHint}
}

// newAccount builds an account through its decider, with the given models.
func newAccount(t fatalHelper, id string, models ...string) domain.Account {
	t.Helper()
	var a domain.Account
	var seq cmdSeq
	step := func(body domain.CommandBody) {
		t.Helper()
		evs, err := domain.DecideAccount(a, accountCmd(seq.next(), id, body), now)
		if err != nil || len(evs) != 1 {
			t.Fatalf("account %s: %T: events %v, error %v", id, body, evs, err)
		}
		a = domain.EvolveAccount(a, evs[0])
	}
	step(domain.CreateAccount{Name: id, LicenseID: "lic-" + id, LicenseSha256: strings.Repeat("a", 64)})
	for _, m := range models {
		step(domain.RegisterModel{ModelID: m, Name: "model " + m})
	}
	return a
}

// theAccount is accountID with model1 and model2; otherAccount has otherModel.
func theAccount(t fatalHelper) domain.Account { return newAccount(t, accountID, model1, model2) }

func otherAccount(t fatalHelper) domain.Account { return newAccount(t, otherAccountID, otherModel) }

// rules returns the rules at now for the account's models.
func rules(t testing.TB) domain.Rules {
	return domain.Rules{Now: now, Models: theAccount(t)}
}

// mustApply decides body against tok and folds what it emits; it fails the
// test on a refusal.
func mustApply(t testing.TB, tok domain.Token, id uuid.UUID, body domain.CommandBody, r domain.Rules) domain.Token {
	t.Helper()
	evs, err := domain.Decide(tok, tokenCmd(id, body), r)
	if err != nil {
		t.Fatalf("setup %T %+v: %v", body, body, err)
	}
	for _, e := range evs {
		tok = domain.Evolve(tok, e)
	}
	return tok
}

// issued returns the token issued with issueBody, with the given commands
// applied after it.
func issued(t testing.TB, then ...domain.CommandBody) domain.Token {
	t.Helper()
	r := rules(t)
	tok := mustApply(t, domain.Token{}, issueCmdID, issueBody(), r)
	var seq cmdSeq
	for _, b := range then {
		tok = mustApply(t, tok, seq.next(), b, r)
	}
	return tok
}

// wantRefused checks a refusal: the code (through CodeOf and errors.Is), the
// exact message, the field for invalid_argument, and that nothing is emitted.
func wantRefused(t testing.TB, evs []domain.Event, err error, code domain.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted (events %+v), want %s %q", evs, code, msg)
	}
	if got := domain.CodeOf(err); got != code {
		t.Errorf("code %q (%v), want %q", got, err, code)
	}
	if !errors.Is(err, &domain.Error{Code: code}) {
		t.Errorf("errors.Is(%v, code %s) is false", err, code)
	}
	if err.Error() != msg {
		t.Errorf("message\n got %q\nwant %q", err.Error(), msg)
	}
	if code == domain.CodeInvalidArgument {
		var de *domain.Error
		if !errors.As(err, &de) || de.Field == "" || !strings.HasPrefix(de.Message, de.Field+": ") {
			t.Errorf("invalid_argument %q does not name its field first (Field %q)", err, de.Field)
		}
	}
	if len(evs) != 0 {
		t.Errorf("a refused command emitted %d events: %+v", len(evs), evs)
	}
}

// wantEvent checks that exactly one event of type typ with exactly the given
// changes was emitted for cmd at now, with the derived id and the command's
// identity, and returns it.
func wantEvent(t testing.TB, evs []domain.Event, err error, cmd domain.Command, r domain.Rules, typ domain.EventType, changes domain.Changes) domain.Event {
	t.Helper()
	if err != nil {
		t.Fatalf("refused: %v (code %s), want %s", err, domain.CodeOf(err), typ)
	}
	if len(evs) != 1 {
		t.Fatalf("%d events %+v, want one %s", len(evs), evs, typ)
	}
	e := evs[0]
	if e.Type != typ {
		t.Errorf("event type %s, want %s", e.Type, typ)
	}
	if !reflect.DeepEqual(e.Data.Changes, changes) {
		t.Errorf("changes\n got %s\nwant %s", jsonOf(t, e.Data.Changes), jsonOf(t, changes))
	}
	if want := uuid.NewSHA1(cmd.ID, []byte("0")); e.ID != want {
		t.Errorf("event id %s, want %s (UUIDv5 of the command id and \"0\")", e.ID, want)
	}
	if e.ID != domain.EventID(cmd.ID, 0) {
		t.Errorf("event id %s differs from EventID(cmd, 0)", e.ID)
	}
	if e.CommandID != cmd.ID || e.AccountID != cmd.AccountID || e.TokenID != cmd.TokenID || e.Actor != cmd.Actor {
		t.Errorf("event identity %+v does not match command %+v", e, cmd)
	}
	if e.SchemaVersion != 1 {
		t.Errorf("schema version %d", e.SchemaVersion)
	}
	if !e.At.Equal(r.Now) || e.At.Location() != time.UTC {
		t.Errorf("event at %v, want %v in UTC", e.At, r.Now)
	}
	return e
}

func wantNoEvent(t testing.TB, evs []domain.Event, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("refused: %v (code %s), want a no-op", err, domain.CodeOf(err))
	}
	if len(evs) != 0 {
		t.Fatalf("%d events %+v, want none", len(evs), evs)
	}
}

// Change builders.
func str(s string) *string { return &s }

func chStr(from, to *string) *domain.Change[string] {
	return &domain.Change[string]{From: from, To: to}
}

func chExp(from, to int64) *domain.Change[int64] {
	return &domain.Change[int64]{From: &from, To: &to}
}

func chStatus(from, to domain.Status) *domain.Change[domain.Status] {
	return &domain.Change[domain.Status]{From: &from, To: &to}
}

func i64(v int64) *int64 { return &v }

// jsonOf is v in JSON, for failure messages.
func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	return string(b)
}
