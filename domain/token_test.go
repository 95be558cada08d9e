package domain_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tokend/tokend/domain"
)

// decideCase is one command against the token issued with issueBody and
// then changed by given. Exactly one outcome is expected: a refusal (code
// and msg), one event (typ and changes), or a no-op (neither).
type decideCase struct {
	name    string
	given   []domain.CommandBody
	body    domain.CommandBody
	version *int64 // ExpectedVersion
	code    domain.Code
	msg     string
	typ     domain.EventType
	changes domain.Changes
}

const (
	msgCanceled = "token tok-1 is canceled: it can no longer change, only be deleted"
	msgNotFound = "token tok-1 not found"
)

func msgAssigned(model string) string {
	return "token tok-1 is already assigned to model " + model + ": unassign it first"
}

func msgNoModel(model string) string {
	return fmt.Sprintf("modelId: no model %q in this account", model)
}

func runDecideCases(t *testing.T, cases []decideCase) {
	t.Helper()
	r := rules(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := issued(t, tc.given...)
			cmd := tokenCmd(uid(7), tc.body)
			cmd.ExpectedVersion = tc.version
			evs, err := domain.Decide(before, cmd, r)
			switch {
			case tc.code != "":
				wantRefused(t, evs, err, tc.code, tc.msg)
			case tc.typ == "":
				wantNoEvent(t, evs, err)
			default:
				e := wantEvent(t, evs, err, cmd, r, tc.typ, tc.changes)
				checkEvolved(t, before, e)
			}
		})
	}
}

// checkEvolved checks that Evolve applies every change of e to before, and
// only those, and counts one more version.
func checkEvolved(t *testing.T, before domain.Token, e domain.Event) {
	t.Helper()
	after := domain.Evolve(before, e)
	want := before.Snapshot()
	c := e.Data.Changes
	if c.Name != nil {
		want.Name = *c.Name.To
	}
	if c.Note != nil {
		want.Note = ""
		if c.Note.To != nil {
			want.Note = *c.Note.To
		}
	}
	if c.ExpirationDate != nil {
		want.ExpirationDate = *c.ExpirationDate.To
	}
	if c.Status != nil {
		want.Status = *c.Status.To
	}
	if c.ModelID != nil {
		want.ModelID = ""
		if c.ModelID.To != nil {
			want.ModelID = *c.ModelID.To
		}
	}
	if e.Type == domain.TokenDeleted {
		want.Deleted = true
	}
	want.UpdatedAt = e.At
	want.Version++
	if got := after.Snapshot(); !reflect.DeepEqual(got, want) {
		t.Errorf("after Evolve\n got %+v\nwant %+v", got, want)
	}
	if before.Version() != want.Version-1 {
		t.Errorf("Evolve changed its input: version %d", before.Version())
	}
}

var (
	suspend    = domain.SuspendToken{}
	reactivate = domain.ReactivateToken{}
	cancel     = domain.CancelToken{}
	unassign   = domain.UnassignModel{}
	assign1    = domain.AssignModel{ModelID: model1}
)

func statusUpdate(s string) domain.UpdateToken { return domain.UpdateToken{Status: domain.Some(s)} }

func modelUpdate(m *string) domain.UpdateToken { return domain.UpdateToken{ModelID: domain.Some(m)} }

func TestStatusTransitions(t *testing.T) {
	A, S, C := domain.StatusActive, domain.StatusSuspended, domain.StatusCanceled
	runDecideCases(t, []decideCase{
		{name: "ACTIVE: suspend", body: suspend, typ: domain.TokenSuspended, changes: domain.Changes{Status: chStatus(A, S)}},
		{name: "ACTIVE: reactivate is a no-op", body: reactivate},
		{name: "ACTIVE: cancel", body: cancel, typ: domain.TokenCanceled, changes: domain.Changes{Status: chStatus(A, C)}},
		{name: "ACTIVE: update to suspended", body: statusUpdate("suspended"), typ: domain.TokenSuspended, changes: domain.Changes{Status: chStatus(A, S)}},
		{name: "ACTIVE: update to active is a no-op", body: statusUpdate("Active")},
		{name: "ACTIVE: update to CANCELLED", body: statusUpdate("CANCELLED"), typ: domain.TokenCanceled, changes: domain.Changes{Status: chStatus(A, C)}},

		{name: "SUSPENDED: suspend is a no-op", given: []domain.CommandBody{suspend}, body: suspend},
		{name: "SUSPENDED: reactivate", given: []domain.CommandBody{suspend}, body: reactivate, typ: domain.TokenReactivated, changes: domain.Changes{Status: chStatus(S, A)}},
		{name: "SUSPENDED: cancel", given: []domain.CommandBody{suspend}, body: cancel, typ: domain.TokenCanceled, changes: domain.Changes{Status: chStatus(S, C)}},
		{name: "SUSPENDED: update to active", given: []domain.CommandBody{suspend}, body: statusUpdate("active"), typ: domain.TokenReactivated, changes: domain.Changes{Status: chStatus(S, A)}},
		{name: "SUSPENDED: update to suspended is a no-op", given: []domain.CommandBody{suspend}, body: statusUpdate("SUSPENDED")},
		{name: "SUSPENDED: update to cancelled", given: []domain.CommandBody{suspend}, body: statusUpdate("cancelled"), typ: domain.TokenCanceled, changes: domain.Changes{Status: chStatus(S, C)}},
		{name: "SUSPENDED again after reactivation", given: []domain.CommandBody{suspend, reactivate}, body: suspend, typ: domain.TokenSuspended, changes: domain.Changes{Status: chStatus(A, S)}},
	})
}

// TestCanceledIsTerminal: on a canceled token every change is refused with
// token_canceled, setting a field to its value is a no-op success, and only
// deletion goes through.
func TestCanceledIsTerminal(t *testing.T) {
	for _, given := range [][]domain.CommandBody{{cancel}, {suspend, cancel}} {
		var cases []decideCase
		add := func(tc decideCase) {
			tc.name = fmt.Sprintf("%s (%d commands before)", tc.name, len(given))
			tc.given = given
			cases = append(cases, tc)
		}
		for _, tc := range []decideCase{
			{name: "cancel again is a no-op", body: cancel},
			{name: "update to CANCELED is a no-op", body: statusUpdate("CANCELED")},
			{name: "update to CANCELLED is a no-op", body: statusUpdate("cancelled")},
			{name: "suspend", body: suspend, code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "reactivate", body: reactivate, code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "update to active", body: statusUpdate("active"), code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "update to suspended", body: statusUpdate("suspended"), code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "rename", body: domain.RenameToken{Name: "beta"}, code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "rename to the same name is a no-op", body: domain.RenameToken{Name: " " + firstName + " "}},
			{name: "change note", body: domain.ChangeNote{Note: "x"}, code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "clear the absent note is a no-op", body: domain.ChangeNote{Note: ""}},
			{name: "change expiration", body: domain.ChangeExpiration{ExpirationDate: firstExp + 1}, code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "same expiration is a no-op", body: domain.ChangeExpiration{ExpirationDate: firstExp}},
			{name: "a past expiration is refused as a change, not checked", body: domain.ChangeExpiration{ExpirationDate: 5}, code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "an unknown model is refused as a change, not looked up", body: domain.AssignModel{ModelID: "no-such-model"}, code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "assign", body: assign1, code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "update model", body: modelUpdate(str(model1)), code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "unassign while unassigned is a no-op", body: unassign},
			{name: "update model to null while unassigned is a no-op", body: modelUpdate(nil)},
			{name: "update of several fields", body: domain.UpdateToken{Name: domain.Some("beta"), Status: domain.Some("active")}, code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "update of one changed and one same field", body: domain.UpdateToken{Name: domain.Some(firstName), Note: domain.Some("x")}, code: domain.CodeTokenCanceled, msg: msgCanceled},
			{name: "update of every field to its value is a no-op", body: domain.UpdateToken{
				Name: domain.Some(firstName), Note: domain.Some(""), ExpirationDate: domain.Some(firstExp),
				Status: domain.Some("Canceled"), ModelID: domain.Some[*string](nil),
			}},
			{name: "empty update is a no-op", body: domain.UpdateToken{}},
			{name: "delete", body: domain.DeleteToken{}, typ: domain.TokenDeleted},
		} {
			add(tc)
		}
		runDecideCases(t, cases)
	}
	runDecideCases(t, []decideCase{
		{name: "assigned: assign the same model is a no-op", given: []domain.CommandBody{assign1, cancel}, body: assign1},
		{name: "assigned: assign another model", given: []domain.CommandBody{assign1, cancel}, body: domain.AssignModel{ModelID: model2}, code: domain.CodeTokenCanceled, msg: msgCanceled},
		{name: "assigned: unassign", given: []domain.CommandBody{assign1, cancel}, body: unassign, code: domain.CodeTokenCanceled, msg: msgCanceled},
		{name: "assigned: update model to null", given: []domain.CommandBody{assign1, cancel}, body: modelUpdate(nil), code: domain.CodeTokenCanceled, msg: msgCanceled},
		{name: "assigned: update model to the same", given: []domain.CommandBody{assign1, cancel}, body: modelUpdate(str(model1))},
		{name: "with a note: clear it", given: []domain.CommandBody{domain.ChangeNote{Note: "n"}, cancel}, body: domain.ChangeNote{}, code: domain.CodeTokenCanceled, msg: msgCanceled},
		{name: "with a note: same note is a no-op", given: []domain.CommandBody{domain.ChangeNote{Note: "n"}, cancel}, body: domain.UpdateToken{Note: domain.Some("n")}},
		{name: "a version mismatch still conflicts", given: []domain.CommandBody{cancel}, body: cancel, version: i64(1), code: domain.CodeVersionConflict, msg: "the token is at version 2, not 1"},
	})
}

func TestAssignment(t *testing.T) {
	runDecideCases(t, []decideCase{
		{name: "assign while unassigned", body: assign1, typ: domain.ModelAssigned, changes: domain.Changes{ModelID: chStr(nil, str(model1))}},
		{name: "assign while suspended", given: []domain.CommandBody{suspend}, body: assign1, typ: domain.ModelAssigned, changes: domain.Changes{ModelID: chStr(nil, str(model1))}},
		{name: "assign the same model is a no-op", given: []domain.CommandBody{assign1}, body: assign1},
		{name: "assign another model while assigned", given: []domain.CommandBody{assign1}, body: domain.AssignModel{ModelID: model2}, code: domain.CodeAlreadyAssigned, msg: msgAssigned(model1)},
		{name: "assign another account's model", body: domain.AssignModel{ModelID: otherModel}, code: domain.CodeInvalidArgument, msg: msgNoModel(otherModel)},
		{name: "assign another account's model while assigned", given: []domain.CommandBody{assign1}, body: domain.AssignModel{ModelID: otherModel}, code: domain.CodeInvalidArgument, msg: msgNoModel(otherModel)},
		{name: "assign a model that does not exist", body: domain.AssignModel{ModelID: "m-none"}, code: domain.CodeInvalidArgument, msg: msgNoModel("m-none")},
		{name: "assign an empty model id", body: domain.AssignModel{}, code: domain.CodeInvalidArgument, msg: "modelId: must name a model of the account"},
		{name: "unassign", given: []domain.CommandBody{assign1}, body: unassign, typ: domain.ModelUnassigned, changes: domain.Changes{ModelID: chStr(str(model1), nil)}},
		{name: "unassign while unassigned is a no-op", body: unassign},
		{name: "assign another model after unassigning", given: []domain.CommandBody{assign1, unassign}, body: domain.AssignModel{ModelID: model2}, typ: domain.ModelAssigned, changes: domain.Changes{ModelID: chStr(nil, str(model2))}},
		{name: "update: assign", body: modelUpdate(str(model1)), typ: domain.ModelAssigned, changes: domain.Changes{ModelID: chStr(nil, str(model1))}},
		{name: "update: same model is a no-op", given: []domain.CommandBody{assign1}, body: modelUpdate(str(model1))},
		{name: "update: another model while assigned", given: []domain.CommandBody{assign1}, body: modelUpdate(str(model2)), code: domain.CodeAlreadyAssigned, msg: msgAssigned(model1)},
		{name: "update: null unassigns", given: []domain.CommandBody{assign1}, body: modelUpdate(nil), typ: domain.ModelUnassigned, changes: domain.Changes{ModelID: chStr(str(model1), nil)}},
		{name: "update: null while unassigned is a no-op", body: modelUpdate(nil)},
		{name: "update: unknown model", body: modelUpdate(str("m-none")), code: domain.CodeInvalidArgument, msg: msgNoModel("m-none")},
		{name: "update: empty model id", body: modelUpdate(str("")), code: domain.CodeInvalidArgument, msg: "modelId: must name a model of the account, or be null to unassign"},
	})
}

// TestUnknownModelLooksAlike: a model of another account and a model that
// exists nowhere are refused alike, whatever the account's catalogue.
func TestUnknownModelLooksAlike(t *testing.T) {
	empty := newAccount(t, accountID)
	catalogues := map[string]domain.ModelSet{"account with models": theAccount(t), "account without models": empty, "no catalogue": nil}
	for _, id := range []string{otherModel, "m-none"} {
		var msgs []string
		for cname, models := range catalogues {
			r := domain.Rules{Now: now, Models: models}
			for _, body := range []domain.CommandBody{
				domain.AssignModel{ModelID: id}, modelUpdate(str(id)),
				domain.IssueToken{Name: "n", ExpirationDate: firstExp, ModelID: id, SecretSha256: secretSha256, SecretHint: secretHint},
			} {
				tok := issued(t)
				if _, ok := body.(domain.IssueToken); ok {
					tok = domain.Token{}
				}
				evs, err := domain.Decide(tok, tokenCmd(uid(7), body), r)
				wantRefused(t, evs, err, domain.CodeInvalidArgument, msgNoModel(id))
				if err != nil {
					msgs = append(msgs, cname+": "+err.Error())
				}
			}
		}
		if len(msgs) != 9 {
			t.Errorf("%s: %d refusals, want 9: %q", id, len(msgs), msgs)
		}
	}
	// And the other account's own token may use it.
	other := otherAccount(t)
	if !other.HasModel(otherModel) || theAccount(t).HasModel(otherModel) {
		t.Fatal("fixture: otherModel belongs to otherAccount only")
	}
}

func TestUpdateToken(t *testing.T) {
	A, S, C := domain.StatusActive, domain.StatusSuspended, domain.StatusCanceled
	later := firstExp + 3600
	withNoteAndModel := []domain.CommandBody{domain.ChangeNote{Note: "hello"}, assign1}
	runDecideCases(t, []decideCase{
		{name: "nothing set is a no-op", body: domain.UpdateToken{}},
		{name: "every field to its value is a no-op", body: domain.UpdateToken{
			Name: domain.Some(" " + firstName), Note: domain.Some(""), ExpirationDate: domain.Some(firstExp),
			Status: domain.Some("active"), ModelID: domain.Some[*string](nil),
		}},
		{name: "name only", body: domain.UpdateToken{Name: domain.Some("beta")}, typ: domain.TokenRenamed, changes: domain.Changes{Name: chStr(str(firstName), str("beta"))}},
		{name: "name changed, the rest the same", body: domain.UpdateToken{Name: domain.Some("beta"), Note: domain.Some(""), ExpirationDate: domain.Some(firstExp), Status: domain.Some("ACTIVE"), ModelID: domain.Some[*string](nil)},
			typ: domain.TokenRenamed, changes: domain.Changes{Name: chStr(str(firstName), str("beta"))}},
		{name: "note only", body: domain.UpdateToken{Note: domain.Some("n")}, typ: domain.TokenNoteChanged, changes: domain.Changes{Note: chStr(nil, str("n"))}},
		{name: "expiration only", body: domain.UpdateToken{ExpirationDate: domain.Some(later)}, typ: domain.TokenExpirationChanged, changes: domain.Changes{ExpirationDate: chExp(firstExp, later)}},
		{name: "status to suspended", body: statusUpdate("suspended"), typ: domain.TokenSuspended, changes: domain.Changes{Status: chStatus(A, S)}},
		{name: "status to active", given: []domain.CommandBody{suspend}, body: statusUpdate("active"), typ: domain.TokenReactivated, changes: domain.Changes{Status: chStatus(S, A)}},
		{name: "status to canceled", body: statusUpdate("canceled"), typ: domain.TokenCanceled, changes: domain.Changes{Status: chStatus(A, C)}},
		{name: "model assigned", body: modelUpdate(str(model2)), typ: domain.ModelAssigned, changes: domain.Changes{ModelID: chStr(nil, str(model2))}},
		{name: "model unassigned", given: []domain.CommandBody{assign1}, body: modelUpdate(nil), typ: domain.ModelUnassigned, changes: domain.Changes{ModelID: chStr(str(model1), nil)}},
		{name: "name and status", body: domain.UpdateToken{Name: domain.Some("beta"), Status: domain.Some("suspended")}, typ: domain.TokenUpdated,
			changes: domain.Changes{Name: chStr(str(firstName), str("beta")), Status: chStatus(A, S)}},
		{name: "name and cancel", body: domain.UpdateToken{Name: domain.Some("beta"), Status: domain.Some("CANCELLED")}, typ: domain.TokenUpdated,
			changes: domain.Changes{Name: chStr(str(firstName), str("beta")), Status: chStatus(A, C)}},
		{name: "every field", body: domain.UpdateToken{
			Name: domain.Some("beta"), Note: domain.Some("n"), ExpirationDate: domain.Some(later),
			Status: domain.Some("suspended"), ModelID: domain.Some(str(model1)),
		}, typ: domain.TokenUpdated, changes: domain.Changes{
			Name: chStr(str(firstName), str("beta")), Note: chStr(nil, str("n")), ExpirationDate: chExp(firstExp, later),
			Status: chStatus(A, S), ModelID: chStr(nil, str(model1)),
		}},
		{name: "clear note and unassign", given: withNoteAndModel, body: domain.UpdateToken{Note: domain.Some(""), ModelID: domain.Some[*string](nil)}, typ: domain.TokenUpdated,
			changes: domain.Changes{Note: chStr(str("hello"), nil), ModelID: chStr(str(model1), nil)}},
		{name: "reactivate and rename", given: []domain.CommandBody{suspend}, body: domain.UpdateToken{Status: domain.Some("active"), Name: domain.Some("beta")}, typ: domain.TokenUpdated,
			changes: domain.Changes{Name: chStr(str(firstName), str("beta")), Status: chStatus(S, A)}},

		// All or nothing: one bad field refuses the whole update.
		{name: "bad name, good rest", body: domain.UpdateToken{Name: domain.Some(" "), Note: domain.Some("n"), Status: domain.Some("suspended")}, code: domain.CodeInvalidArgument, msg: msgNameEmpty},
		{name: "good name, bad note", body: domain.UpdateToken{Name: domain.Some("beta"), Note: domain.Some("\xff")}, code: domain.CodeInvalidArgument, msg: msgNoteUTF8},
		{name: "good name, past expiration", body: domain.UpdateToken{Name: domain.Some("beta"), ExpirationDate: domain.Some(now.Unix())}, code: domain.CodeInvalidArgument, msg: msgPast(now)},
		{name: "good name, far expiration", body: domain.UpdateToken{Name: domain.Some("beta"), ExpirationDate: domain.Some(now.Unix() + 366*86400)}, code: domain.CodeInvalidArgument, msg: msgTooFar("365 days", now.Unix()+365*86400)},
		{name: "good name, bad status", body: domain.UpdateToken{Name: domain.Some("beta"), Status: domain.Some("paused")}, code: domain.CodeInvalidArgument, msg: "status: must be one of ACTIVE, SUSPENDED, CANCELED"},
		{name: "good name, unknown model", body: domain.UpdateToken{Name: domain.Some("beta"), ModelID: domain.Some(str(otherModel))}, code: domain.CodeInvalidArgument, msg: msgNoModel(otherModel)},
		{name: "good name, empty model id", body: domain.UpdateToken{Name: domain.Some("beta"), ModelID: domain.Some(str(""))}, code: domain.CodeInvalidArgument, msg: "modelId: must name a model of the account, or be null to unassign"},
		{name: "good name, another model while assigned", given: []domain.CommandBody{assign1}, body: domain.UpdateToken{Name: domain.Some("beta"), ModelID: domain.Some(str(model2))}, code: domain.CodeAlreadyAssigned, msg: msgAssigned(model1)},
		{name: "good name on a canceled token", given: []domain.CommandBody{cancel}, body: domain.UpdateToken{Name: domain.Some("beta")}, code: domain.CodeTokenCanceled, msg: msgCanceled},
		{name: "good status, bad name", body: domain.UpdateToken{Status: domain.Some("canceled"), Name: domain.Some("a\x00b")}, code: domain.CodeInvalidArgument, msg: msgNameControl(0)},
	})
}

func TestSingleFieldCommands(t *testing.T) {
	later := firstExp + 60
	runDecideCases(t, []decideCase{
		{name: "rename", body: domain.RenameToken{Name: "beta"}, typ: domain.TokenRenamed, changes: domain.Changes{Name: chStr(str(firstName), str("beta"))}},
		{name: "rename to the same name is a no-op", body: domain.RenameToken{Name: firstName}},
		{name: "rename to the same name after trimming is a no-op", body: domain.RenameToken{Name: "\t" + firstName + "  "}},
		{name: "rename twice", given: []domain.CommandBody{domain.RenameToken{Name: "beta"}}, body: domain.RenameToken{Name: "gamma"}, typ: domain.TokenRenamed, changes: domain.Changes{Name: chStr(str("beta"), str("gamma"))}},
		{name: "note set", body: domain.ChangeNote{Note: "n"}, typ: domain.TokenNoteChanged, changes: domain.Changes{Note: chStr(nil, str("n"))}},
		{name: "note replaced", given: []domain.CommandBody{domain.ChangeNote{Note: "n"}}, body: domain.ChangeNote{Note: "m"}, typ: domain.TokenNoteChanged, changes: domain.Changes{Note: chStr(str("n"), str("m"))}},
		{name: "expiration", body: domain.ChangeExpiration{ExpirationDate: later}, typ: domain.TokenExpirationChanged, changes: domain.Changes{ExpirationDate: chExp(firstExp, later)}},
		{name: "expiration earlier", body: domain.ChangeExpiration{ExpirationDate: now.Unix() + 1}, typ: domain.TokenExpirationChanged, changes: domain.Changes{ExpirationDate: chExp(firstExp, now.Unix()+1)}},
		{name: "delete", body: domain.DeleteToken{}, typ: domain.TokenDeleted},
		{name: "delete a suspended token", given: []domain.CommandBody{suspend}, body: domain.DeleteToken{}, typ: domain.TokenDeleted},
		{name: "delete an assigned token", given: []domain.CommandBody{assign1}, body: domain.DeleteToken{}, typ: domain.TokenDeleted},
	})
}

// allTokenBodies is one valid body of every token command but IssueToken.
func allTokenBodies() []domain.CommandBody {
	return []domain.CommandBody{
		domain.RenameToken{Name: "beta"}, domain.RenameToken{Name: firstName},
		domain.ChangeNote{Note: "n"}, domain.ChangeNote{},
		domain.ChangeExpiration{ExpirationDate: firstExp + 1}, domain.ChangeExpiration{ExpirationDate: firstExp},
		suspend, reactivate, cancel, assign1, unassign, domain.DeleteToken{},
		domain.UpdateToken{}, domain.UpdateToken{Name: domain.Some("beta"), Status: domain.Some("suspended")},
	}
}

// TestNotFound: a missing token, a deleted one and another account's one
// are not found, alike, for every command but IssueToken.
func TestNotFound(t *testing.T) {
	r := rules(t)
	deleted := issued(t, domain.DeleteToken{})
	if deleted.Live() || !deleted.Exists() || !deleted.Deleted() {
		t.Fatalf("deleted token: live %v exists %v deleted %v", deleted.Live(), deleted.Exists(), deleted.Deleted())
	}
	states := []struct {
		name    string
		tok     domain.Token
		account string
	}{
		{"never issued", domain.Token{}, accountID},
		{"deleted", deleted, accountID},
		{"deleted, after a cancel", issued(t, cancel, domain.DeleteToken{}), accountID},
		{"another account's token", issued(t), otherAccountID},
		{"another account's canceled token", issued(t, cancel), otherAccountID},
	}
	for _, st := range states {
		for _, body := range allTokenBodies() {
			t.Run(fmt.Sprintf("%s/%s %+v", st.name, body.CommandType(), body), func(t *testing.T) {
				cmd := tokenCmd(uid(7), body)
				cmd.AccountID = st.account
				evs, err := domain.Decide(st.tok, cmd, r)
				wantRefused(t, evs, err, domain.CodeNotFound, msgNotFound)
				cmd.ExpectedVersion = i64(st.tok.Version())
				evs, err = domain.Decide(st.tok, cmd, r)
				wantRefused(t, evs, err, domain.CodeNotFound, msgNotFound)
			})
		}
	}
}

func TestVersionConflict(t *testing.T) {
	renamed := []domain.CommandBody{domain.RenameToken{Name: "beta"}} // version 2
	var cases []decideCase
	for _, body := range allTokenBodies() {
		for _, v := range []int64{0, 1, 3} {
			cases = append(cases, decideCase{
				name: fmt.Sprintf("%s %+v expecting %d", body.CommandType(), body, v), given: renamed, body: body, version: i64(v),
				code: domain.CodeVersionConflict, msg: fmt.Sprintf("the token is at version 2, not %d", v),
			})
		}
	}
	cases = append(cases,
		decideCase{name: "the current version goes through", given: renamed, body: domain.RenameToken{Name: "gamma"}, version: i64(2),
			typ: domain.TokenRenamed, changes: domain.Changes{Name: chStr(str("beta"), str("gamma"))}},
		decideCase{name: "the current version, no-op", given: renamed, body: domain.RenameToken{Name: "beta"}, version: i64(2)},
		decideCase{name: "the current version, delete", given: renamed, body: domain.DeleteToken{}, version: i64(2), typ: domain.TokenDeleted},
	)
	runDecideCases(t, cases)
}

func TestIssueToken(t *testing.T) {
	r := rules(t)
	body := domain.IssueToken{Name: "  My token ", Note: "for bob", ExpirationDate: firstExp, ModelID: model2, SecretSha256: secretSha256, SecretHint: secretHint}
	cmd := tokenCmd(issueCmdID, body)
	evs, err := domain.Decide(domain.Token{}, cmd, r)
	e := wantEvent(t, evs, err, cmd, r, domain.TokenIssued, domain.Changes{
		Name:           chStr(nil, str("My token")),
		Note:           chStr(nil, str("for bob")),
		ExpirationDate: &domain.Change[int64]{To: i64(firstExp)},
		Status:         &domain.Change[domain.Status]{To: ptrStatus(domain.StatusActive)},
		ModelID:        chStr(nil, str(model2)),
	})
	if e.Data.SecretSha256 != secretSha256 || e.Data.SecretHint != secretHint {
		t.Errorf("secret data %+v", e.Data)
	}
	tok := domain.Evolve(domain.Token{}, e)
	want := domain.TokenSnapshot{
		ID: tokenID, AccountID: accountID, Name: "My token", Note: "for bob", ExpirationDate: firstExp,
		Status: domain.StatusActive, ModelID: model2, SecretSha256: secretSha256, SecretHint: secretHint,
		CreatedAt: now, UpdatedAt: now, Version: 1, IssuedBy: issueCmdID,
	}
	if got := tok.Snapshot(); !reflect.DeepEqual(got, want) {
		t.Errorf("issued\n got %+v\nwant %+v", got, want)
	}
	if !tok.Live() || !tok.Exists() || tok.Deleted() || tok.Expired(now) || !tok.Expired(time.Unix(firstExp, 0)) {
		t.Errorf("issued token: live %v exists %v deleted %v", tok.Live(), tok.Exists(), tok.Deleted())
	}
	if !reflect.DeepEqual(domain.RestoreToken(tok.Snapshot()), tok) {
		t.Error("RestoreToken(Snapshot()) differs")
	}

	t.Run("the same command again emits nothing", func(t *testing.T) {
		for _, then := range [][]domain.CommandBody{nil, {domain.RenameToken{Name: "x"}}, {cancel}, {domain.DeleteToken{}}} {
			tok := issued(t, then...)
			later := r
			later.Now = now.Add(time.Hour)
			evs, err := domain.Decide(tok, tokenCmd(issueCmdID, issueBody()), later)
			wantNoEvent(t, evs, err)
		}
	})
	t.Run("another command for an existing id", func(t *testing.T) {
		for _, then := range [][]domain.CommandBody{nil, {domain.DeleteToken{}}} {
			evs, err := domain.Decide(issued(t, then...), tokenCmd(uid(2), issueBody()), r)
			wantRefused(t, evs, err, domain.CodeVersionConflict, "token tok-1 already exists")
		}
	})
	t.Run("no secret hash is an internal error", func(t *testing.T) {
		for _, b := range []domain.IssueToken{{Name: "a", ExpirationDate: firstExp}, {Name: "a", ExpirationDate: firstExp, SecretSha256: secretSha256}} {
			evs, err := domain.Decide(domain.Token{}, tokenCmd(uid(2), b), r)
			if domain.CodeOf(err) != domain.CodeInternal || len(evs) != 0 {
				t.Errorf("%+v: %v %v", b, evs, err)
			}
		}
	})
	t.Run("no token id is an internal error", func(t *testing.T) {
		for _, b := range append(allTokenBodies(), issueBody()) {
			c := tokenCmd(uid(2), b)
			c.TokenID = ""
			evs, err := domain.Decide(issued(t), c, r)
			if domain.CodeOf(err) != domain.CodeInternal || len(evs) != 0 {
				t.Errorf("%T: %v %v", b, evs, err)
			}
		}
	})
	t.Run("state of another token is an internal error", func(t *testing.T) {
		c := tokenCmd(uid(2), domain.RenameToken{Name: "z"})
		c.TokenID = "tok-2"
		evs, err := domain.Decide(issued(t), c, r)
		if domain.CodeOf(err) != domain.CodeInternal || len(evs) != 0 {
			t.Errorf("%v %v", evs, err)
		}
	})
	t.Run("an account command is an internal error", func(t *testing.T) {
		evs, err := domain.Decide(issued(t), tokenCmd(uid(2), domain.RegisterModel{ModelID: "x", Name: "x"}), r)
		if domain.CodeOf(err) != domain.CodeInternal || len(evs) != 0 {
			t.Errorf("%v %v", evs, err)
		}
	})
}

// TestEventID: the id of a command's event is the UUIDv5 of the command id
// and "0", the same on every retry, different for another command.
func TestEventID(t *testing.T) {
	r := rules(t)
	c := tokenCmd(uid(42), domain.RenameToken{Name: "beta"})
	e1, _ := domain.Decide(issued(t), c, r)
	later := r
	later.Now = now.Add(time.Minute)
	e2, _ := domain.Decide(issued(t), c, later)
	if len(e1) != 1 || len(e2) != 1 || e1[0].ID != e2[0].ID || e1[0].ID != domain.EventID(uid(42), 0) {
		t.Fatalf("ids %v %v", e1, e2)
	}
	if v := e1[0].ID.Version(); v != 5 {
		t.Errorf("event id version %d, want 5", v)
	}
	if domain.EventID(uid(42), 1) == domain.EventID(uid(42), 0) || domain.EventID(uid(43), 0) == domain.EventID(uid(42), 0) {
		t.Error("event ids collide")
	}
}
