package natsintake_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsintake"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

// deadLetters returns the dead letters stored so far, oldest first.
func (f *fixture) deadLetters(n int) []jetstream.Msg {
	f.t.Helper()
	c, err := f.js.OrderedConsumer(ctxT(f.t), natsjs.CommandsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{natsintake.DeadLetterSubject}})
	if err != nil {
		f.t.Fatal(err)
	}
	batch, err := c.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		f.t.Fatal(err)
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}

// Messages that are not commands are dead-lettered, unauthorised commands
// and invalid ones are refused with an outcome, and the commands behind
// them (one lane: strictly behind) are carried out all the same.
func TestMalformedAndUnauthorisedKeepTheQueueFlowing(t *testing.T) {
	f := newFixture(t)
	revokedAccount, revoked := f.account("revoked")
	if _, err := f.svc.Execute(ctxT(t), domain.Command{ID: uuid.New(), AccountID: revokedAccount, Actor: domain.SystemActor,
		Body: domain.RevokeLicense{LicenseID: licenseOf(t, f, revokedAccount)}}); err != nil {
		t.Fatal(err)
	}
	f.settle()
	metrics := &observer{}
	f.start(func(c *natsintake.Config) { c.Lanes = 1; c.Metrics = metrics })

	good1 := issue("before the garbage")
	f.publish("IssueToken", good1, f.admin)

	malformedID := uuid.NewString()
	f.publishRaw("IssueToken", []byte(`{"commandId": "`+malformedID+`", "data": {`), malformedID, f.admin)
	unknown := issue("unknown type")
	f.publish("FrobnicateToken", unknown, f.admin)
	bigID := uuid.NewString()
	big := `{"commandId":"` + bigID + `","data":{"name":"big","note":"` + strings.Repeat("x", 70000) + `","expirationDate":1}}`
	f.publishRaw("IssueToken", []byte(big), bigID, f.admin)
	f.publishRaw("IssueToken", []byte(`{"data":{}}`), "", f.admin) // nothing to answer
	nilID := `{"commandId":"00000000-0000-0000-0000-000000000000","data":{"name":"nil","expirationDate":1}}`
	f.publishRaw("IssueToken", []byte(nilID), "", f.admin) // nor here: the nil UUID names no command

	noLicense := issue("no license")
	f.publish("IssueToken", noLicense, "")
	badLicense := issue("bad license")
	f.publish("IssueToken", badLicense, "lic_notalicense")
	revokedCmd := issue("revoked license")
	f.publish("IssueToken", revokedCmd, revoked)
	twice := issue("two licenses")
	f.js.PublishMsg(ctxT(t), &nats.Msg{Subject: natsjs.CommandSubject("IssueToken"), Data: mustJSON(t, twice),
		Header: nats.Header{"Authorization": {"Bearer " + f.admin, "Bearer " + f.admin}}})
	lower := issue("lower-case header name")
	f.js.PublishMsg(ctxT(t), &nats.Msg{Subject: natsjs.CommandSubject("IssueToken"), Data: mustJSON(t, lower),
		Header: nats.Header{"authorization": {"bearer " + f.admin}}})

	longName := issue(strings.Repeat("n", 201))
	f.publish("IssueToken", longName, f.admin)
	extra := issue("extra field")
	body := strings.Replace(string(mustJSON(t, extra)), `{"commandId"`, `{"priority":1,"commandId"`, 1)
	f.publishRaw("IssueToken", []byte(body), extra.CommandID, f.admin)

	good2 := issue("after the garbage")
	f.publish("IssueToken", good2, f.admin)

	mustAccepted(t, f.outcome(good1.CommandID, 1))
	mustAccepted(t, f.outcome(good2.CommandID, 1))
	mustAccepted(t, f.outcome(lower.CommandID, 1))
	for id, code := range map[string]domain.Code{
		malformedID: domain.CodeInvalidArgument, unknown.CommandID: domain.CodeInvalidArgument, bigID: domain.CodePayloadTooLarge,
		noLicense.CommandID: domain.CodeUnauthenticated, badLicense.CommandID: domain.CodeUnauthenticated,
		revokedCmd.CommandID: domain.CodeUnauthenticated, twice.CommandID: domain.CodeUnauthenticated,
		longName.CommandID: domain.CodeInvalidArgument, extra.CommandID: domain.CodeInvalidArgument,
	} {
		mustRejected(t, f.outcome(id, 1), code)
	}
	if o := f.outcome(longName.CommandID, 1); !strings.HasPrefix(o.Error.Message, "data.name: ") {
		t.Fatalf("long name refused with %q, want it to name data.name", o.Error.Message)
	}
	if o := f.outcome(extra.CommandID, 1); !strings.HasPrefix(o.Error.Message, "priority: unknown field") {
		t.Fatalf("extra field refused with %q", o.Error.Message)
	}

	dead := f.deadLetters(5)
	want := []struct{ reason, subject string }{
		{natsintake.ReasonMalformed, "tokens.commands.IssueToken"},
		{natsintake.ReasonUnknownType, "tokens.commands.FrobnicateToken"},
		{natsintake.ReasonTooLarge, "tokens.commands.IssueToken"},
		{natsintake.ReasonMalformed, "tokens.commands.IssueToken"},
		{natsintake.ReasonMalformed, "tokens.commands.IssueToken"},
	}
	if len(dead) != len(want) {
		t.Fatalf("%d dead letters, want %d", len(dead), len(want))
	}
	for i, m := range dead {
		h := m.Headers()
		if h.Get(natsintake.HeaderDeadReason) != want[i].reason || h.Get(natsintake.HeaderDeadSubject) != want[i].subject ||
			h.Get(natsintake.HeaderDeadDetail) == "" || h.Get(natsintake.HeaderDeadSequence) == "" {
			t.Errorf("dead letter %d: headers %v, want reason %s from %s", i, h, want[i].reason, want[i].subject)
		}
		for k := range h {
			if strings.EqualFold(k, "Authorization") {
				t.Errorf("dead letter %d keeps the Authorization header", i)
			}
		}
	}
	if string(dead[2].Data()) != big || dead[2].Headers().Get(natsintake.HeaderDeadMsgID) != bigID {
		t.Error("the oversized dead letter lost its body or its message id")
	}

	// The dead letters themselves are consumed and left alone: nothing is
	// pending, and no outcome was published for them.
	waitFor(t, "the consumer to settle", func() bool {
		c, _ := f.js.Consumer(ctxT(t), natsjs.CommandsStream, natsintake.ConsumerName)
		ci, err := c.Info(ctxT(t))
		return err == nil && ci.NumPending == 0 && ci.NumAckPending == 0
	})
	if n := f.seen.total(); n != 12 {
		t.Fatalf("%d outcomes, want 12", n)
	}
	for _, label := range []string{"IssueToken accepted", "unknown unknown_type", "IssueToken malformed", "IssueToken payload_too_large", "IssueToken unauthenticated", "IssueToken invalid_argument"} {
		if metrics.count(label) == 0 {
			t.Errorf("metric %q not observed; got %v", label, metrics.snapshot())
		}
	}
}

// A fault that is not the command's is retried with backoff, then the
// message goes to the poison queue (a dead letter with reason internal) and
// its publisher gets an internal outcome; a panic is not retried. The queue
// keeps flowing either way.
func TestFaultsAreRetriedThenPoisoned(t *testing.T) {
	f := newFixture(t)
	flaky := &faultyService{inner: f.svc, fail: map[string]int{"flaky": 2, "broken": -1, "panics": -2}}
	f.start(func(c *natsintake.Config) {
		c.Commands = flaky
		c.Lanes = 1
		c.Retry = natsintake.DefaultRetry
		c.Retry.InitialInterval, c.Retry.MaxInterval = time.Millisecond, 5*time.Millisecond
	})
	cmds := map[string]command{}
	for _, name := range []string{"flaky", "broken", "panics", "fine"} {
		cmds[name] = issue(name)
		f.publish("IssueToken", cmds[name], f.admin)
	}
	mustAccepted(t, f.outcome(cmds["flaky"].CommandID, 1))
	mustAccepted(t, f.outcome(cmds["fine"].CommandID, 1))
	mustRejected(t, f.outcome(cmds["broken"].CommandID, 1), domain.CodeInternal)
	mustRejected(t, f.outcome(cmds["panics"].CommandID, 1), domain.CodeInternal)
	if o := f.outcome(cmds["broken"].CommandID, 1); o.Error.Message != domain.ErrInternal.Message {
		t.Fatalf("internal outcome says %q", o.Error.Message)
	}
	if got := flaky.calls("flaky"); got != 3 {
		t.Errorf("flaky ran %d times, want 3 (two faults, then success)", got)
	}
	if got := flaky.calls("broken"); got != natsintake.DefaultRetry.MaxRetries+1 {
		t.Errorf("broken ran %d times, want %d", got, natsintake.DefaultRetry.MaxRetries+1)
	}
	if got := flaky.calls("panics"); got != 1 {
		t.Errorf("a panic was retried: %d runs", got)
	}
	dead := f.deadLetters(2)
	if len(dead) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dead))
	}
	for _, m := range dead {
		if m.Headers().Get(natsintake.HeaderDeadReason) != natsintake.ReasonInternal {
			t.Errorf("dead letter headers %v", m.Headers())
		}
	}
	// A poisoned command is not remembered: once the fault is gone, the
	// same command id runs.
	flaky.heal("broken")
	f.publishRaw("IssueToken", mustJSON(t, cmds["broken"]), uuid.NewString(), f.admin)
	mustAccepted(t, f.outcome(cmds["broken"].CommandID, 2))
}

// watermill#609: a backlog of slow commands is not redelivered while it
// waits in the client, because the consumer's MaxAckPending (four times
// the lanes) bounds what is fetched ahead. With watermill-nats' defaults
// (500 pulled ahead) the tail of this backlog waits about 1.6 s, longer than
// the 1 s AckWait.
func TestSlowBacklogIsNotRedelivered(t *testing.T) {
	f := newFixture(t)
	slow := &faultyService{inner: f.svc, delay: 200 * time.Millisecond}
	var cmds []command
	for i := range 16 {
		c := issue("slow " + string(rune('a'+i)))
		f.publish("IssueToken", c, f.admin)
		cmds = append(cmds, c)
	}
	f.start(func(c *natsintake.Config) { c.Commands = slow; c.Lanes = 2; c.AckWait = time.Second })
	for _, c := range cmds {
		mustAccepted(t, f.outcome(c.CommandID, 1))
	}
	time.Sleep(200 * time.Millisecond)
	for _, c := range cmds {
		if n := slow.calls(c.Data.(map[string]any)["name"].(string)); n != 1 {
			t.Errorf("%s ran %d times", c.CommandID, n)
		}
		if n := f.seen.count(c.CommandID); n != 1 {
			t.Errorf("%s answered %d times", c.CommandID, n)
		}
	}
	c, _ := f.js.Consumer(ctxT(t), natsjs.CommandsStream, natsintake.ConsumerName)
	ci, err := c.Info(ctxT(t))
	if err != nil || ci.NumRedelivered != 0 {
		t.Fatalf("consumer: %d redelivered (%v)", ci.NumRedelivered, err)
	}
}

// faultyService wraps the command service: commands issuing a token named
// in fail fail that many times (-1 forever, -2 with a panic), every command
// takes delay first, and runs are counted by token name.
type faultyService struct {
	inner *commands.Service
	delay time.Duration

	mu   sync.Mutex
	fail map[string]int
	runs map[string]int
}

func (s *faultyService) Execute(ctx context.Context, cmd domain.Command) (commands.Result, error) {
	time.Sleep(s.delay)
	name := ""
	if b, ok := cmd.Body.(domain.IssueToken); ok {
		name = b.Name
	}
	s.mu.Lock()
	if s.runs == nil {
		s.runs = map[string]int{}
	}
	s.runs[name]++
	n := s.fail[name]
	if n > 0 {
		s.fail[name]--
	}
	s.mu.Unlock()
	switch {
	case n == -2:
		panic("the handler broke")
	case n != 0:
		return commands.Result{}, errors.New("nats: timeout")
	}
	return s.inner.Execute(ctx, cmd)
}

func (s *faultyService) calls(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[name]
}

func (s *faultyService) heal(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.fail, name)
}

// observer records ObserveCommand calls as "type outcome".
type observer struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *observer) ObserveCommand(typ, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[typ+" "+outcome]++
}

func (o *observer) count(label string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[label]
}

func (o *observer) snapshot() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, _ := json.Marshal(o.n)
	return string(b)
}

// licenseOf returns the id of the first license of an account.
func licenseOf(t testing.TB, f *fixture, accountID string) string {
	t.Helper()
	acc, _, err := f.svc.Account(ctxT(t), accountID)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range acc.Licenses() {
		return l.ID
	}
	t.Fatal("no license")
	return ""
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
