package domain_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/tokend/tokend/domain"
)

// refToken is a reference model of a token, written from API.md without
// the domain's code: the oracle of the property test.
type refToken struct {
	exists, deleted bool
	issuedBy        uuid.UUID
	name, note      string
	exp             int64
	status          domain.Status
	model           string
	version         int64
	createdAt       time.Time
	updatedAt       time.Time
}

// refOutcome is what the model predicts for one command: either a set of
// acceptable refusal codes (every rule the command breaks; the domain may
// report any one of them), or the next state and the event type ("" for a
// no-op).
type refOutcome struct {
	codes []domain.Code
	next  refToken
	typ   domain.EventType
}

func refNameOK(raw string) (string, bool) {
	if !utf8.ValidString(raw) {
		return "", false
	}
	// Trimmed of white space, except NEL (U+0085), which API.md names
	// among the control characters a name refuses.
	s := strings.TrimFunc(raw, func(r rune) bool { return unicode.In(r, unicode.White_Space) && r != 0x85 })
	if s == "" || utf8.RuneCountInString(s) > 200 {
		return "", false
	}
	for _, r := range s {
		if unicode.Is(unicode.Cc, r) {
			return "", false
		}
	}
	return s, true
}

func refNoteOK(raw string) bool { return utf8.ValidString(raw) && utf8.RuneCountInString(raw) <= 2000 }

func refExpOK(v int64, r domain.Rules) bool {
	max := r.MaxLifetime
	if max <= 0 {
		max = 365 * 24 * time.Hour
	}
	at := time.Unix(v, 0) // the test's dates are small enough not to wrap
	return at.After(r.Now) && !at.After(r.Now.Add(max))
}

func refStatus(raw string) (domain.Status, bool) {
	switch strings.ToLower(raw) {
	case "active":
		return domain.StatusActive, true
	case "suspended":
		return domain.StatusSuspended, true
	case "canceled", "cancelled":
		return domain.StatusCanceled, true
	}
	return "", false
}

// predict applies API.md's rules to the model.
func (m refToken) predict(c domain.Command, r domain.Rules, models []string) refOutcome {
	known := func(id string) bool { return slices.Contains(models, id) }
	var codes []domain.Code
	bad := func(code domain.Code) { codes = append(codes, code) }

	if b, ok := c.Body.(domain.IssueToken); ok {
		if m.exists {
			if m.issuedBy == c.ID {
				return refOutcome{next: m}
			}
			return refOutcome{codes: []domain.Code{domain.CodeVersionConflict}}
		}
		name, ok := refNameOK(b.Name)
		if !ok {
			bad(domain.CodeInvalidArgument)
		}
		if !refNoteOK(b.Note) || !refExpOK(b.ExpirationDate, r) || (b.ModelID != "" && !known(b.ModelID)) {
			bad(domain.CodeInvalidArgument)
		}
		if codes != nil {
			return refOutcome{codes: codes}
		}
		return refOutcome{typ: domain.TokenIssued, next: refToken{
			exists: true, issuedBy: c.ID, name: name, note: b.Note, exp: b.ExpirationDate,
			status: domain.StatusActive, model: b.ModelID, version: 1, createdAt: r.Now, updatedAt: r.Now,
		}}
	}
	if !m.exists || m.deleted {
		return refOutcome{codes: []domain.Code{domain.CodeNotFound}}
	}
	if c.ExpectedVersion != nil && *c.ExpectedVersion != m.version {
		return refOutcome{codes: []domain.Code{domain.CodeVersionConflict}}
	}
	next := m
	next.version++
	next.updatedAt = r.Now
	if _, ok := c.Body.(domain.DeleteToken); ok {
		next.deleted = true
		return refOutcome{typ: domain.TokenDeleted, next: next}
	}

	// The fields the command sets, as raw inputs.
	var (
		name, note, status *string
		exp                *int64
		model              **string // nil: untouched; *model nil: unassign
	)
	switch b := c.Body.(type) {
	case domain.RenameToken:
		name = &b.Name
	case domain.ChangeNote:
		note = &b.Note
	case domain.ChangeExpiration:
		exp = &b.ExpirationDate
	case domain.SuspendToken:
		status = str("suspended")
	case domain.ReactivateToken:
		status = str("active")
	case domain.CancelToken:
		status = str("canceled")
	case domain.AssignModel:
		id := b.ModelID
		p := &id
		model = &p
	case domain.UnassignModel:
		var p *string
		model = &p
	case domain.UpdateToken:
		if b.Name.Set {
			name = &b.Name.Value
		}
		if b.Note.Set {
			note = &b.Note.Value
		}
		if b.ExpirationDate.Set {
			exp = &b.ExpirationDate.Value
		}
		if b.Status.Set {
			status = &b.Status.Value
		}
		if b.ModelID.Set {
			p := b.ModelID.Value
			model = &p
		}
	}

	var changed []domain.EventType
	if name != nil {
		if n, ok := refNameOK(*name); !ok {
			bad(domain.CodeInvalidArgument)
		} else if n != m.name {
			next.name = n
			changed = append(changed, domain.TokenRenamed)
		}
	}
	if note != nil {
		if !refNoteOK(*note) {
			bad(domain.CodeInvalidArgument)
		} else if *note != m.note {
			next.note = *note
			changed = append(changed, domain.TokenNoteChanged)
		}
	}
	if exp != nil && *exp != m.exp {
		if !refExpOK(*exp, r) {
			bad(domain.CodeInvalidArgument)
		}
		next.exp = *exp
		changed = append(changed, domain.TokenExpirationChanged)
	}
	if status != nil {
		if s, ok := refStatus(*status); !ok {
			bad(domain.CodeInvalidArgument)
		} else if s != m.status {
			next.status = s
			switch s {
			case domain.StatusSuspended:
				changed = append(changed, domain.TokenSuspended)
			case domain.StatusActive:
				changed = append(changed, domain.TokenReactivated)
			default:
				changed = append(changed, domain.TokenCanceled)
			}
		}
	}
	if model != nil {
		target := ""
		if *model != nil {
			target = **model
			if target == "" {
				bad(domain.CodeInvalidArgument)
			}
		}
		if target != m.model && !(*model != nil && target == "") {
			if target != "" && !known(target) {
				bad(domain.CodeInvalidArgument)
			}
			if target != "" && m.model != "" {
				bad(domain.CodeAlreadyAssigned)
			}
			next.model = target
			if target == "" {
				changed = append(changed, domain.ModelUnassigned)
			} else {
				changed = append(changed, domain.ModelAssigned)
			}
		}
	}
	if len(changed) > 0 && m.status == domain.StatusCanceled {
		bad(domain.CodeTokenCanceled)
	}
	switch {
	case codes != nil:
		return refOutcome{codes: codes}
	case len(changed) == 0:
		return refOutcome{next: m}
	case len(changed) == 1:
		return refOutcome{typ: changed[0], next: next}
	default:
		return refOutcome{typ: domain.TokenUpdated, next: next}
	}
}

func (m refToken) snapshot() domain.TokenSnapshot {
	if !m.exists {
		return domain.TokenSnapshot{}
	}
	return domain.TokenSnapshot{
		ID: tokenID, AccountID: accountID, Name: m.name, Note: m.note, ExpirationDate: m.exp,
		Status: m.status, ModelID: m.model, SecretSha256: secretSha256, SecretHint: secretHint,
		CreatedAt: m.createdAt, UpdatedAt: m.updatedAt, Version: m.version, IssuedBy: m.issuedBy, Deleted: m.deleted,
	}
}

// The pools commands draw from: valid and invalid values, and values that
// repeat, so that no-ops, refusals and collisions all happen often.
var (
	propNames    = []string{"alpha", " alpha ", "beta", "gamma é", "🔑", "", "  ", "a\x00b", "a\u0085b", strings.Repeat("x", 200), strings.Repeat("x", 201), "\xff"}
	propNotes    = []string{"", "", "n1", "n2", " n1 ", "\xff", strings.Repeat("é", 2000), strings.Repeat("é", 2001)}
	propStatuses = []string{"active", "ACTIVE", "Suspended", "SUSPENDED", "canceled", "CANCELLED", "cancelled", "bogus", "ſuspended", ""}
	propModels   = []string{model1, model2, "m-3", otherModel, ""}
	propOffsets  = []int64{-5, 0, 1, 3600, 30 * 86400, 365 * 86400, 365*86400 + 1}
)

func drawExp(t *rapid.T, r domain.Rules, cur int64, label string) int64 {
	if cur != 0 && rapid.IntRange(0, 3).Draw(t, label+"Same") == 0 {
		return cur
	}
	return r.Now.Unix() + rapid.SampledFrom(propOffsets).Draw(t, label)
}

func drawBody(t *rapid.T, m refToken, r domain.Rules) domain.CommandBody {
	kinds := []domain.CommandType{
		domain.CmdIssueToken, domain.CmdRenameToken, domain.CmdChangeNote, domain.CmdChangeExpiration,
		domain.CmdSuspendToken, domain.CmdReactivateToken, domain.CmdCancelToken, domain.CmdAssignModel,
		domain.CmdUnassignModel, domain.CmdDeleteToken, domain.CmdUpdateToken, domain.CmdUpdateToken,
	}
	kind := kinds[0]
	if m.exists || rapid.IntRange(0, 4).Draw(t, "notIssue") == 0 {
		kind = rapid.SampledFrom(kinds).Draw(t, "kind")
	}
	switch kind {
	case domain.CmdIssueToken:
		if !m.exists && rapid.Bool().Draw(t, "validIssue") {
			return domain.IssueToken{
				Name: "alpha", ExpirationDate: r.Now.Unix() + 1,
				ModelID:      rapid.SampledFrom([]string{"", model1}).Draw(t, "model"),
				SecretSha256: secretSha256, SecretHint: secretHint,
			}
		}
		return domain.IssueToken{
			Name:           rapid.SampledFrom(propNames).Draw(t, "name"),
			Note:           rapid.SampledFrom(propNotes).Draw(t, "note"),
			ExpirationDate: drawExp(t, r, 0, "exp"),
			ModelID:        rapid.SampledFrom(propModels).Draw(t, "model"),
			SecretSha256:   secretSha256, SecretHint: secretHint,
		}
	case domain.CmdRenameToken:
		return domain.RenameToken{Name: rapid.SampledFrom(propNames).Draw(t, "name")}
	case domain.CmdChangeNote:
		return domain.ChangeNote{Note: rapid.SampledFrom(propNotes).Draw(t, "note")}
	case domain.CmdChangeExpiration:
		return domain.ChangeExpiration{ExpirationDate: drawExp(t, r, m.exp, "exp")}
	case domain.CmdSuspendToken:
		return domain.SuspendToken{}
	case domain.CmdReactivateToken:
		return domain.ReactivateToken{}
	case domain.CmdCancelToken:
		if rapid.Bool().Draw(t, "reallyCancel") {
			return domain.ReactivateToken{} // cancelling ends most changes: make it rarer
		}
		return domain.CancelToken{}
	case domain.CmdAssignModel:
		return domain.AssignModel{ModelID: rapid.SampledFrom(propModels).Draw(t, "model")}
	case domain.CmdUnassignModel:
		return domain.UnassignModel{}
	case domain.CmdDeleteToken:
		if rapid.IntRange(0, 3).Draw(t, "reallyDelete") != 0 {
			return domain.SuspendToken{} // deletion ends the interesting part: make it rarer
		}
		return domain.DeleteToken{}
	}
	var u domain.UpdateToken
	if rapid.Bool().Draw(t, "setName") {
		u.Name = domain.Some(rapid.SampledFrom(propNames).Draw(t, "name"))
	}
	if rapid.Bool().Draw(t, "setNote") {
		u.Note = domain.Some(rapid.SampledFrom(propNotes).Draw(t, "note"))
	}
	if rapid.Bool().Draw(t, "setExp") {
		u.ExpirationDate = domain.Some(drawExp(t, r, m.exp, "exp"))
	}
	if rapid.Bool().Draw(t, "setStatus") {
		u.Status = domain.Some(rapid.SampledFrom(propStatuses).Draw(t, "status"))
	}
	if rapid.Bool().Draw(t, "setModel") {
		var p *string
		if i := rapid.IntRange(-1, len(propModels)-1).Draw(t, "model"); i >= 0 {
			p = &propModels[i]
		}
		u.ModelID = domain.Some(p)
	}
	return u
}

// TestDecideEvolveProperty runs random command sequences against one token
// (and registers a model on its account now and then) and checks, after
// every command, that:
//   - Decide agrees with the reference model: it refuses exactly when a rule
//     is broken, with the code of a broken rule, and emits the predicted
//     event type otherwise (none for a no-op); at most one event a command;
//   - folding the emitted events with Evolve (directly, and after a JSON
//     round trip) rebuilds exactly the state the model decided on, and so
//     does folding the whole history from the zero Token;
//   - every change's "from" is the value before; the event id derives from
//     the command id;
//   - version == number of events; a CANCELED token never changes again
//     (only deletion); the model never moves from one model to another
//     without passing through unassigned.
func TestDecideEvolveProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		acc := theAccount(t)
		models := []string{model1, model2}
		clock := now
		maxLifetime := rapid.SampledFrom([]time.Duration{0, time.Hour, 30 * day}).Draw(t, "maxLifetime")
		var (
			tok     domain.Token
			m       refToken
			history []domain.Event
			seq     cmdSeq
		)
		steps := rapid.IntRange(1, 100).Draw(t, "steps")
		for step := 0; step < steps; step++ {
			clock = clock.Add(time.Duration(rapid.IntRange(0, 3*86400).Draw(t, "tick")) * time.Second)
			if rapid.IntRange(0, 15).Draw(t, "registerModel") == 0 {
				evs, err := domain.DecideAccount(acc, accountCmd(seq.next(), accountID, domain.RegisterModel{ModelID: "m-3", Name: "three"}), clock)
				if err != nil {
					t.Fatalf("register m-3: %v", err)
				}
				for _, e := range evs {
					acc = domain.EvolveAccount(acc, e)
					models = append(models, e.Data.ModelID)
				}
				continue
			}
			r := domain.Rules{Now: clock, MaxLifetime: maxLifetime, Models: acc}
			id := seq.next()
			if m.exists && rapid.IntRange(0, 9).Draw(t, "retryIssue") == 0 {
				id = m.issuedBy
			}
			cmd := tokenCmd(id, drawBody(t, m, r))
			switch rapid.IntRange(0, 9).Draw(t, "ifMatch") {
			case 0:
				cmd.ExpectedVersion = i64(m.version)
			case 1:
				cmd.ExpectedVersion = i64(m.version + int64(rapid.SampledFrom([]int{-1, 1}).Draw(t, "skew")))
			}

			want := m.predict(cmd, r, models)
			before := tok
			evs, err := domain.Decide(tok, cmd, r)
			if len(evs) > 1 {
				t.Fatalf("%d events for one command", len(evs))
			}
			if want.codes != nil {
				if err == nil {
					t.Fatalf("%+v on %+v: accepted (%v), want one of %v", mustJSON(cmd.Body), m, evs, want.codes)
				}
				if !slices.Contains(want.codes, domain.CodeOf(err)) {
					t.Fatalf("%+v on %+v: %s %q, want one of %v", mustJSON(cmd.Body), m, domain.CodeOf(err), err, want.codes)
				}
				if len(evs) != 0 {
					t.Fatalf("refused, yet emitted %v", evs)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%+v (version %v) on %+v: refused with %s %q", mustJSON(cmd.Body), cmd.ExpectedVersion, m, domain.CodeOf(err), err)
			}
			if want.typ == "" {
				if len(evs) != 0 {
					t.Fatalf("%+v on %+v: emitted %s, want a no-op", mustJSON(cmd.Body), m, evs[0].Type)
				}
				continue
			}
			if len(evs) != 1 || evs[0].Type != want.typ {
				t.Fatalf("%+v on %+v: emitted %v, want one %s", mustJSON(cmd.Body), m, evs, want.typ)
			}
			e := evs[0]
			if e.ID != uuid.NewSHA1(cmd.ID, []byte("0")) || e.CommandID != cmd.ID || e.TokenID != tokenID || e.AccountID != accountID {
				t.Fatalf("event identity %+v for command %s", e, cmd.ID)
			}
			checkFrom(t, before, e)

			tok = domain.Evolve(tok, e)
			history = append(history, e)
			m = want.next

			if got, exp := tok.Snapshot(), m.snapshot(); !reflect.DeepEqual(got, exp) {
				t.Fatalf("after %s\nstate %+v\nmodel %+v", e.Type, got, exp)
			}
			var decoded domain.Event
			b, _ := json.Marshal(e)
			if err := json.Unmarshal(b, &decoded); err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if got := domain.Evolve(before, decoded); !reflect.DeepEqual(got, tok) {
				t.Fatalf("Evolve of the decoded %s\n got %+v\nwant %+v", b, got.Snapshot(), tok.Snapshot())
			}
			var replay domain.Token
			for _, h := range history {
				replay = domain.Evolve(replay, h)
			}
			if !reflect.DeepEqual(replay, tok) {
				t.Fatalf("replay of %d events differs", len(history))
			}

			// Invariants.
			if tok.Version() != int64(len(history)) {
				t.Fatalf("version %d after %d events", tok.Version(), len(history))
			}
			if before.Status() == domain.StatusCanceled {
				b, a := before.Snapshot(), tok.Snapshot()
				if e.Type != domain.TokenDeleted || !a.Deleted {
					t.Fatalf("a canceled token emitted %s", e.Type)
				}
				a.Version, a.UpdatedAt, a.Deleted = b.Version, b.UpdatedAt, b.Deleted
				if a != b {
					t.Fatalf("a canceled token changed: %+v -> %+v", b, a)
				}
			}
			if before.ModelID() != "" && tok.ModelID() != "" && before.ModelID() != tok.ModelID() {
				t.Fatalf("moved from model %s to %s directly", before.ModelID(), tok.ModelID())
			}
		}
	})
}

// checkFrom checks that every change of a token event starts from the value
// the token had (TokenIssued starts from nothing).
func checkFrom(t *rapid.T, before domain.Token, e domain.Event) {
	c := e.Data.Changes
	if e.Type == domain.TokenIssued {
		if c.Name == nil || c.ExpirationDate == nil || c.Status == nil ||
			c.Name.From != nil || c.ExpirationDate.From != nil || c.Status.From != nil ||
			(c.Note != nil && c.Note.From != nil) || (c.ModelID != nil && c.ModelID.From != nil) {
			t.Fatalf("TokenIssued changes %+v", c)
		}
		return
	}
	opt := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	s := before.Snapshot()
	switch {
	case c.Name != nil && (c.Name.From == nil || *c.Name.From != s.Name || c.Name.To == nil),
		c.Note != nil && (opt(c.Note.From) != s.Note || (c.Note.From != nil && *c.Note.From == "") || (c.Note.To != nil && *c.Note.To == "")),
		c.ExpirationDate != nil && (c.ExpirationDate.From == nil || *c.ExpirationDate.From != s.ExpirationDate || c.ExpirationDate.To == nil),
		c.Status != nil && (c.Status.From == nil || *c.Status.From != s.Status || c.Status.To == nil),
		c.ModelID != nil && (opt(c.ModelID.From) != s.ModelID || (c.ModelID.From != nil && *c.ModelID.From == "") || (c.ModelID.To != nil && *c.ModelID.To == "")),
		c.LicenseID != nil || c.ModelName != nil:
		t.Fatalf("%s changes %s do not start from %+v", e.Type, mustJSON(c), s)
	}
	if e.Type != domain.TokenDeleted && c.Count() == 0 {
		t.Fatalf("%s changes nothing", e.Type)
	}
	if (e.Type == domain.TokenUpdated) != (c.Count() > 1) {
		t.Fatalf("%s with %d changes", e.Type, c.Count())
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
