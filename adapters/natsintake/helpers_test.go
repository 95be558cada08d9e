package natsintake_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsintake"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/internal/stacktest"
	"github.com/tokend/tokend/projections"
)

// fixture is the real stack without HTTP: an embedded JetStream server, the
// Badger read model and its projector, the command service, the outcomes
// bucket, and a collector of every outcome published. The intake itself is
// started by the test, when it wants.
type fixture struct {
	t        testing.TB
	core     *stacktest.Core
	emb      *natsjs.Embedded
	nc       *nats.Conn
	js       jetstream.JetStream
	store    *projections.Store
	events   *natsjs.EventStore
	svc      *commands.Service
	outcomes *natsintake.Outcomes
	admin    string // a license of the account "default"
	seen     *collector
	seenSub  *nats.Subscription
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	core := stacktest.Start(t)
	outcomes := core.Outcomes(t)
	f := &fixture{t: t, core: core, emb: core.Server, nc: core.NC, js: core.JS, store: core.Store, events: core.Events, svc: core.Commands,
		outcomes: outcomes, admin: core.Admin, seen: newCollector()}
	sub, err := f.nc.Subscribe(natsintake.OutcomesPrefix+">", f.seen.add)
	if err != nil {
		t.Fatal(err)
	}
	f.seenSub = sub
	t.Cleanup(func() { sub.Unsubscribe() })
	if err := f.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	f.settle()
	return f
}

// ctxT returns a context that ends with the test or after 20 s.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// settle waits until the read model has applied every event so far (the
// licenses the intake authenticates with come from it).
func (f *fixture) settle() {
	f.t.Helper()
	f.core.Settle(f.t)
}

// start starts an intake with the test's adjustments; Cleanup closes it.
func (f *fixture) start(adjust ...func(*natsintake.Config)) *natsintake.Intake {
	f.t.Helper()
	cfg := natsintake.Config{
		URL:      f.emb.ClientURL(),
		JS:       f.js,
		Commands: f.svc,
		Licenses: f.store,
		Outcomes: f.outcomes,
		Logger:   slog.New(slog.DiscardHandler),
		Lanes:    4,
	}
	for _, a := range adjust {
		a(&cfg)
	}
	in, err := natsintake.Start(ctxT(f.t), cfg)
	if err != nil {
		f.t.Fatalf("start the intake: %v", err)
	}
	f.t.Cleanup(func() { in.Close() })
	return in
}

// account creates an account with a license of its own and returns both.
func (f *fixture) account(name string) (accountID, license string) {
	f.t.Helper()
	license, _ = domain.NewSecret(domain.LicensePrefix)
	id := uuid.New()
	accountID = commands.AccountIDFor(id)
	_, err := f.svc.Execute(ctxT(f.t), domain.Command{ID: id, AccountID: accountID, Actor: domain.SystemActor,
		Body: domain.CreateAccount{Name: name, LicenseID: commands.LicenseIDFor(id), LicenseSha256: domain.HashSecret(license)}})
	if err != nil {
		f.t.Fatal(err)
	}
	f.settle()
	return accountID, license
}

// command is a command body as API.md shows it.
type command struct {
	CommandID       string `json:"commandId"`
	TokenID         string `json:"tokenId,omitempty"`
	ExpectedVersion *int64 `json:"expectedVersion,omitempty"`
	Data            any    `json:"data"`
}

func issue(name string) command {
	return command{CommandID: uuid.NewString(), Data: map[string]any{"name": name, "expirationDate": time.Now().Add(time.Hour).Unix()}}
}

func on(tokenID string, data any) command {
	return command{CommandID: uuid.NewString(), TokenID: tokenID, Data: data}
}

// publish publishes a command as API.md says: on tokens.commands.<typ>,
// Nats-Msg-Id the command id, Authorization the license ("" for none).
func (f *fixture) publish(typ string, c command, license string) *jetstream.PubAck {
	f.t.Helper()
	body, err := json.Marshal(c)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.publishRaw(typ, body, c.CommandID, license)
}

func (f *fixture) publishRaw(typ string, body []byte, msgID, license string) *jetstream.PubAck {
	f.t.Helper()
	h := nats.Header{}
	if msgID != "" {
		h.Set(nats.MsgIdHdr, msgID)
	}
	if license != "" {
		h.Set("Authorization", "Bearer "+license)
	}
	ack, err := f.js.PublishMsg(ctxT(f.t), &nats.Msg{Subject: natsjs.CommandSubject(typ), Header: h, Data: body})
	if err != nil {
		f.t.Fatalf("publish %s: %v", typ, err)
	}
	return ack
}

// outcome waits for the n-th outcome (from 1) published for a command.
func (f *fixture) outcome(id string, n int) wire.Outcome {
	f.t.Helper()
	// Longer than AckWait: on a starved machine (the race detector, other
	// packages' servers on the same 2 cores) a delivery can be lost in the
	// client and comes again only after AckWait; the outcome is late, not
	// missing, and that is what this waits for.
	o, ok := f.seen.wait(id, n, natsintake.DefaultAckWait+15*time.Second)
	if !ok {
		f.t.Fatalf("no outcome #%d for command %s", n, id)
	}
	return o
}

// collector keeps every outcome published, by command id.
type collector struct {
	mu   sync.Mutex
	byID map[string][]wire.Outcome
	all  int
	wake chan struct{}
}

func newCollector() *collector {
	return &collector{byID: map[string][]wire.Outcome{}, wake: make(chan struct{})}
}

func (c *collector) add(m *nats.Msg) {
	var o wire.Outcome
	if err := json.Unmarshal(m.Data, &o); err != nil {
		o = wire.Outcome{CommandID: "undecodable: " + string(m.Data)}
	}
	c.mu.Lock()
	c.byID[o.CommandID] = append(c.byID[o.CommandID], o)
	c.all++
	close(c.wake)
	c.wake = make(chan struct{})
	c.mu.Unlock()
}

func (c *collector) wait(id string, n int, d time.Duration) (wire.Outcome, bool) {
	deadline := time.After(d)
	for {
		c.mu.Lock()
		got, wake := c.byID[id], c.wake
		c.mu.Unlock()
		if len(got) >= n {
			return got[n-1], true
		}
		select {
		case <-wake:
		case <-deadline:
			return wire.Outcome{}, false
		}
	}
}

func (c *collector) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID[id])
}

func (c *collector) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.all
}

// waitTotal waits until n outcomes in all have been published.
func (c *collector) waitTotal(n int, d time.Duration) bool {
	deadline := time.After(d)
	for {
		c.mu.Lock()
		all, wake := c.all, c.wake
		c.mu.Unlock()
		if all >= n {
			return true
		}
		select {
		case <-wake:
		case <-deadline:
			return false
		}
	}
}

// tokenEvents returns the events of one token of the default account.
func (f *fixture) tokenEvents(account, tokenID string) []natsjs.StoredEvent {
	f.t.Helper()
	evs, err := f.events.Load(ctxT(f.t), account, tokenID)
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

func mustAccepted(t testing.TB, o wire.Outcome) {
	t.Helper()
	if o.Status != wire.StatusAccepted || o.Error != nil {
		t.Fatalf("outcome %+v (error %+v), want accepted", o, o.Error)
	}
}

func mustRejected(t testing.TB, o wire.Outcome, code domain.Code) {
	t.Helper()
	if o.Status != wire.StatusRejected || o.Error == nil || o.Error.Code != code {
		t.Fatalf("outcome %+v (error %+v), want rejected %s", o, o.Error, code)
	}
}
