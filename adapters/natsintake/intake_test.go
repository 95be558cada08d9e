package natsintake_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsintake"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

// Commands published while no intake runs wait in TOKEN_COMMANDS and are
// carried out once one starts; a restarted intake resumes after the last
// acknowledged command and replays none (watermill#671).
func TestCommandsPublishedWhileStoppedRunOnStart(t *testing.T) {
	f := newFixture(t)
	var first []command
	for i := range 20 {
		c := issue("offline " + string(rune('a'+i)))
		f.publish("IssueToken", c, f.admin)
		first = append(first, c)
	}
	if f.seen.total() != 0 {
		t.Fatal("outcomes before any intake ran")
	}

	in := f.start()
	for _, c := range first {
		o := f.outcome(c.CommandID, 1)
		mustAccepted(t, o)
		if o.TokenID != commands.TokenIDFor(uuid.MustParse(c.CommandID)) || o.Version != 1 || o.Sequence == 0 || !domain.CheckSecret(domain.TokenSecretPrefix, o.Secret) {
			t.Fatalf("outcome %+v", o)
		}
	}
	if err := in.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// Stopped again: rename one of the tokens, issue one more.
	tok := commands.TokenIDFor(uuid.MustParse(first[0].CommandID))
	rename := on(tok, map[string]any{"name": "renamed while down"})
	f.publish("RenameToken", rename, f.admin)
	more := issue("second batch")
	f.publish("IssueToken", more, f.admin)
	before := f.seen.total()

	f.start()
	mustAccepted(t, f.outcome(rename.CommandID, 1))
	mustAccepted(t, f.outcome(more.CommandID, 1))
	if o := f.outcome(rename.CommandID, 1); o.Version != 2 || o.Secret != "" {
		t.Fatalf("rename outcome %+v", o)
	}
	// Nothing of the first run came back: no outcome was published again.
	time.Sleep(300 * time.Millisecond)
	if got := f.seen.total() - before; got != 2 {
		t.Fatalf("%d outcomes after the restart, want 2: acknowledged commands were replayed", got)
	}
	for _, c := range first {
		if n := f.seen.count(c.CommandID); n != 1 {
			t.Fatalf("command %s answered %d times", c.CommandID, n)
		}
	}
	info, err := f.js.Consumer(ctxT(t), natsjs.CommandsStream, natsintake.ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := info.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumRedelivered != 0 || ci.Config.Durable != natsintake.ConsumerName {
		t.Fatalf("consumer %s: %d redelivered, durable %q", ci.Name, ci.NumRedelivered, ci.Config.Durable)
	}
}

// A command published twice runs once: within JetStream's duplicate window
// the second publish is dropped; after it (simulated with another
// Nats-Msg-Id for the same commandId) the remembered first outcome is
// published again, without the secret; a refusal stays the first outcome
// even after the state that caused it has changed.
func TestCommandPublishedTwiceRunsOnce(t *testing.T) {
	f := newFixture(t)
	f.start()

	c := issue("twice")
	f.publish("IssueToken", c, f.admin)
	if ack := f.publish("IssueToken", c, f.admin); !ack.Duplicate {
		t.Fatalf("second publish within the window: %+v, want a duplicate", ack)
	}
	first := f.outcome(c.CommandID, 1)
	mustAccepted(t, first)
	if first.Secret == "" {
		t.Fatal("the first outcome of an IssueToken has no secret")
	}
	// Remembered before it was published: a publisher holding the outcome
	// finds it at once (GET /v1/commands/{id}), without its secret.
	if got, found, err := f.outcomes.CommandOutcome(ctxT(t), domain.DefaultAccountID, uuid.MustParse(c.CommandID)); err != nil || !found || got.Secret != "" || got.Sequence != first.Sequence {
		t.Fatalf("remembered outcome %+v, found %v, %v", got, found, err)
	}

	body := mustJSON(t, c)
	f.publishRaw("IssueToken", body, uuid.NewString(), f.admin) // past the window
	again := f.outcome(c.CommandID, 2)
	mustAccepted(t, again)
	if again.Secret != "" || again.Version != first.Version || again.Sequence != first.Sequence || again.TokenID != first.TokenID {
		t.Fatalf("repeat gave %+v, want the first outcome %+v without its secret", again, first)
	}
	if n := len(f.tokenEvents(domain.DefaultAccountID, first.TokenID)); n != 1 {
		t.Fatalf("%d events for one IssueToken published three times", n)
	}
	// An accepted command is remembered by its event, not in the bucket,
	// which holds only refusals and no-ops, and never a secret.
	kv, err := f.js.KeyValue(ctxT(t), natsintake.OutcomesBucket)
	if err != nil {
		t.Fatal(err)
	}
	if entry, err := kv.Get(ctxT(t), c.CommandID); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("the accepted IssueToken is in the bucket: %v, %v", entry, err)
	}

	// A refusal is remembered too.
	model := uuid.NewString()
	assign := on(first.TokenID, map[string]any{"modelId": commands.ModelIDFor(uuid.MustParse(model))})
	f.publish("AssignModel", assign, f.admin)
	mustRejected(t, f.outcome(assign.CommandID, 1), domain.CodeInvalidArgument)
	if entry, err := kv.Get(ctxT(t), assign.CommandID); err != nil || strings.Contains(string(entry.Value()), "tkn_") {
		t.Fatalf("the refusal in the bucket: %v, %v", entry, err)
	}
	if _, err := f.svc.Execute(ctxT(t), domain.Command{ID: uuid.MustParse(model), AccountID: domain.DefaultAccountID, Actor: domain.SystemActor,
		Body: domain.RegisterModel{ModelID: commands.ModelIDFor(uuid.MustParse(model)), Name: "now it exists"}}); err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.publishRaw("AssignModel", mustJSON(t, assign), uuid.NewString(), f.admin)
	mustRejected(t, f.outcome(assign.CommandID, 2), domain.CodeInvalidArgument)
	if n := len(f.tokenEvents(domain.DefaultAccountID, first.TokenID)); n != 1 {
		t.Fatalf("the repeated refusal ran: %d events", n)
	}

	// The same command id from another account is not a repeat.
	_, other := f.account("other")
	f.publishRaw("IssueToken", body, uuid.NewString(), other)
	mustRejected(t, f.outcome(c.CommandID, 3), domain.CodeInvalidArgument)
}

// The same with a stream whose duplicate window really passes: JetStream
// stores the second copy, and the remembered outcome answers it.
func TestRepeatAfterTheDuplicateWindow(t *testing.T) {
	f := newFixture(t)
	s, err := f.js.Stream(ctxT(t), natsjs.CommandsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.Duplicates = 100 * time.Millisecond
	if _, err := f.js.UpdateStream(ctxT(t), cfg); err != nil {
		t.Fatal(err)
	}
	f.start()
	c := on("", map[string]any{"name": "window", "expirationDate": time.Now().Add(time.Hour).Unix()})
	c.TokenID = commands.TokenIDFor(uuid.MustParse(c.CommandID)) // allowed: the derived id
	f.publish("IssueToken", c, f.admin)
	first := f.outcome(c.CommandID, 1)
	mustAccepted(t, first)
	time.Sleep(300 * time.Millisecond)
	if ack := f.publish("IssueToken", c, f.admin); ack.Duplicate {
		t.Fatal("JetStream still called it a duplicate after its window")
	}
	again := f.outcome(c.CommandID, 2)
	if again.Status != first.Status || again.Sequence != first.Sequence || again.Secret != "" {
		t.Fatalf("repeat after the window: %+v, first %+v", again, first)
	}
}

// Every other command type runs through the intake, with the same fields as
// the HTTP bodies, and expectedVersion works like If-Match.
func TestEveryCommandType(t *testing.T) {
	f := newFixture(t)
	f.start()
	c := issue("all types")
	f.publish("IssueToken", c, f.admin)
	tok := f.outcome(c.CommandID, 1).TokenID
	model := uuid.New()
	if _, err := f.svc.Execute(ctxT(t), domain.Command{ID: model, AccountID: domain.DefaultAccountID, Actor: domain.SystemActor,
		Body: domain.RegisterModel{ModelID: commands.ModelIDFor(model), Name: "m"}}); err != nil {
		t.Fatal(err)
	}
	f.settle()
	stale := int64(1)
	steps := []struct {
		typ     string
		cmd     command
		version int64
		code    domain.Code
	}{
		{"RenameToken", on(tok, map[string]any{"name": "  trimmed  "}), 2, ""},
		{"ChangeNote", on(tok, map[string]any{"note": "provider only"}), 3, ""},
		{"ChangeNote", on(tok, map[string]any{"note": nil}), 4, ""},
		{"ChangeExpiration", on(tok, map[string]any{"expirationDate": time.Now().Add(2 * time.Hour).Unix()}), 5, ""},
		{"SuspendToken", on(tok, map[string]any{}), 6, ""},
		{"ReactivateToken", on(tok, map[string]any{}), 7, ""},
		{"AssignModel", on(tok, map[string]any{"modelId": commands.ModelIDFor(model)}), 8, ""},
		{"UnassignModel", on(tok, map[string]any{}), 9, ""},
		{"UpdateToken", on(tok, map[string]any{"name": "both", "status": "suspended"}), 10, ""},
		{"UpdateToken", command{CommandID: uuid.NewString(), TokenID: tok, ExpectedVersion: &stale, Data: map[string]any{"name": "late"}}, 0, domain.CodeVersionConflict},
		{"CancelToken", on(tok, map[string]any{}), 11, ""},
		{"RenameToken", on(tok, map[string]any{"name": "after cancel"}), 0, domain.CodeTokenCanceled},
		{"DeleteToken", on(tok, map[string]any{}), 12, ""},
		{"SuspendToken", on(uuid.NewString(), map[string]any{}), 0, domain.CodeNotFound},
		{"SuspendToken", on("a.b", map[string]any{}), 0, domain.CodeNotFound},
		{"SuspendToken", command{CommandID: uuid.NewString(), Data: map[string]any{}}, 0, domain.CodeInvalidArgument},
	}
	for _, s := range steps {
		f.publish(s.typ, s.cmd, f.admin)
		o := f.outcome(s.cmd.CommandID, 1)
		if s.code != "" {
			mustRejected(t, o, s.code)
			continue
		}
		mustAccepted(t, o)
		if o.Version != s.version || o.TokenID != tok {
			t.Fatalf("%s: outcome %+v, want version %d", s.typ, o, s.version)
		}
	}
	evs := f.tokenEvents(domain.DefaultAccountID, tok)
	if len(evs) != 12 || evs[1].Event.Type != domain.TokenRenamed || evs[9].Event.Type != domain.TokenUpdated || evs[11].Event.Type != domain.TokenDeleted {
		t.Fatalf("%d events", len(evs))
	}
	if got := evs[1].Event.Data.Changes.Name.To; got == nil || *got != "trimmed" {
		t.Fatalf("renamed to %v", got)
	}
	if evs[2].Event.Actor != (domain.Actor{Kind: domain.ActorLicense, ID: commands.LicenseIDFor(uuid.NewSHA1(uuid.NameSpaceURL, []byte("tokend:bootstrap:account:default")))}) {
		t.Fatalf("actor %+v", evs[2].Event.Actor)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// GET /v1/commands/{id} reads both memories: an accepted command from the
// read model (its event), a refusal from the bucket; another account's
// command and one never seen are not found.
func TestCommandOutcomeReadsBothMemories(t *testing.T) {
	f := newFixture(t)
	f.start()
	accepted := issue("remembered by its event")
	f.publish("IssueToken", accepted, f.admin)
	first := f.outcome(accepted.CommandID, 1)
	mustAccepted(t, first)
	refused := on(first.TokenID, map[string]any{"modelId": "no-such-model"})
	f.publish("AssignModel", refused, f.admin)
	mustRejected(t, f.outcome(refused.CommandID, 1), domain.CodeInvalidArgument)
	otherAccount, _ := f.account("other")

	for _, c := range []struct {
		name, account, id string
		found             bool
		status            string
	}{
		{"accepted", domain.DefaultAccountID, accepted.CommandID, true, "accepted"},
		{"refused", domain.DefaultAccountID, refused.CommandID, true, "rejected"},
		{"accepted, asked by another account", otherAccount, accepted.CommandID, false, ""},
		{"refused, asked by another account", otherAccount, refused.CommandID, false, ""},
		{"never seen", domain.DefaultAccountID, uuid.NewString(), false, ""},
	} {
		got, found, err := f.outcomes.CommandOutcome(ctxT(t), c.account, uuid.MustParse(c.id))
		if err != nil || found != c.found || found && (string(got.Status) != c.status || got.CommandID != c.id || got.Secret != "") {
			t.Errorf("%s: %+v, found %v, %v", c.name, got, found, err)
		}
		if c.name == "accepted" && (got.TokenID != first.TokenID || got.Version != first.Version || got.Sequence != first.Sequence) {
			t.Errorf("accepted: %+v, published %+v", got, first)
		}
	}
}
