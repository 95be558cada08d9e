package domain_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tokend/tokend/domain"
)

const licenseHash = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestAccountCommands(t *testing.T) {
	hash2 := strings.Repeat("b", 64)
	licenseOf := func(id string) string { return "lic-" + id }
	cases := []struct {
		name    string
		account func(t fatalHelper) domain.Account // the state before
		body    domain.CommandBody
		code    domain.Code
		msg     string
		typ     domain.EventType
		changes domain.Changes
		data    domain.EventData                                 // besides Changes
		check   func(t *testing.T, before, after domain.Account) // after folding the event
	}{
		{
			name: "create", account: func(fatalHelper) domain.Account { return domain.Account{} },
			body: domain.CreateAccount{Name: " Acme AI ", LicenseID: "lic-a", LicenseSha256: licenseHash},
			typ:  domain.AccountCreated, changes: domain.Changes{Name: chStr(nil, str("Acme AI")), LicenseID: chStr(nil, str("lic-a"))},
			data: domain.EventData{LicenseID: "lic-a", LicenseSha256: licenseHash},
			check: func(t *testing.T, _, a domain.Account) {
				l, ok := a.License("lic-a")
				if !a.Exists() || a.ID() != accountID || a.Name() != "Acme AI" || a.Version() != 1 || !ok ||
					l != (domain.License{ID: "lic-a", Sha256: licenseHash}) || a.HasModel(model1) {
					t.Errorf("created account %+v, license %+v", a, l)
				}
			},
		},
		{
			name: "create again with another command", account: theAccount,
			body: domain.CreateAccount{Name: "x", LicenseID: "lic-b", LicenseSha256: licenseHash},
			code: domain.CodeVersionConflict, msg: "account acc-1 already exists",
		},
		{
			name: "create with an empty name", account: func(fatalHelper) domain.Account { return domain.Account{} },
			body: domain.CreateAccount{Name: "\t", LicenseID: "lic-b", LicenseSha256: licenseHash},
			code: domain.CodeInvalidArgument, msg: msgNameEmpty,
		},
		{
			name: "issue a license", account: theAccount,
			body: domain.IssueLicense{LicenseID: "lic-2", LicenseSha256: hash2},
			typ:  domain.LicenseIssued, changes: domain.Changes{LicenseID: chStr(nil, str("lic-2"))},
			data: domain.EventData{LicenseID: "lic-2", LicenseSha256: hash2},
			check: func(t *testing.T, before, a domain.Account) {
				if l, ok := a.License("lic-2"); !ok || l != (domain.License{ID: "lic-2", Sha256: hash2}) {
					t.Errorf("license %+v %v", l, ok)
				}
				if _, ok := a.License(licenseOf(accountID)); !ok {
					t.Error("the first license is gone")
				}
				if _, ok := before.License("lic-2"); ok {
					t.Error("EvolveAccount changed its input's licenses")
				}
			},
		},
		{
			name: "issue a license again is a no-op", account: theAccount,
			body: domain.IssueLicense{LicenseID: licenseOf(accountID), LicenseSha256: hash2},
		},
		{
			name: "issue a license on a missing account", account: func(fatalHelper) domain.Account { return domain.Account{} },
			body: domain.IssueLicense{LicenseID: "lic-2", LicenseSha256: hash2},
			code: domain.CodeNotFound, msg: "account acc-1 not found",
		},
		{
			name: "revoke a license", account: theAccount,
			body: domain.RevokeLicense{LicenseID: licenseOf(accountID)},
			typ:  domain.LicenseRevoked, changes: domain.Changes{LicenseID: chStr(str(licenseOf(accountID)), nil)},
			data: domain.EventData{LicenseID: licenseOf(accountID)},
			check: func(t *testing.T, before, a domain.Account) {
				if l, _ := a.License(licenseOf(accountID)); !l.Revoked || l.ID != licenseOf(accountID) || l.Sha256 == "" {
					t.Errorf("license after revocation %+v", l)
				}
				if l, _ := before.License(licenseOf(accountID)); l.Revoked {
					t.Error("EvolveAccount changed its input's licenses")
				}
			},
		},
		{
			name: "revoke a revoked license is a no-op",
			account: func(t fatalHelper) domain.Account {
				a := theAccount(t)
				evs, err := domain.DecideAccount(a, accountCmd(uid(3), accountID, domain.RevokeLicense{LicenseID: licenseOf(accountID)}), now)
				if err != nil || len(evs) != 1 {
					t.Fatal(evs, err)
				}
				return domain.EvolveAccount(a, evs[0])
			},
			body: domain.RevokeLicense{LicenseID: licenseOf(accountID)},
		},
		{
			name: "revoke an unknown license", account: theAccount,
			body: domain.RevokeLicense{LicenseID: "lic-x"},
			code: domain.CodeNotFound, msg: "license lic-x not found",
		},
		{
			name: "revoke another account's license", account: theAccount,
			body: domain.RevokeLicense{LicenseID: licenseOf(otherAccountID)},
			code: domain.CodeNotFound, msg: "license lic-acc-2 not found",
		},
		{
			name: "revoke on a missing account", account: func(fatalHelper) domain.Account { return domain.Account{} },
			body: domain.RevokeLicense{LicenseID: "lic-x"},
			code: domain.CodeNotFound, msg: "account acc-1 not found",
		},
		{
			name: "register a model", account: theAccount,
			body: domain.RegisterModel{ModelID: "m-3", Name: "  GPT-ish  "},
			typ:  domain.ModelRegistered, changes: domain.Changes{ModelID: chStr(nil, str("m-3")), ModelName: chStr(nil, str("GPT-ish"))},
			data: domain.EventData{ModelID: "m-3"},
			check: func(t *testing.T, before, a domain.Account) {
				if n, ok := a.ModelName("m-3"); !ok || n != "GPT-ish" || !a.HasModel("m-3") || !a.HasModel(model1) {
					t.Errorf("model %q %v", n, ok)
				}
				if before.HasModel("m-3") {
					t.Error("EvolveAccount changed its input's models")
				}
				// The account is the catalogue Decide assigns against.
				r := domain.Rules{Now: now, Models: a}
				c := tokenCmd(uid(9), domain.AssignModel{ModelID: "m-3"})
				evs, err := domain.Decide(issued(t), c, r)
				wantEvent(t, evs, err, c, r, domain.ModelAssigned, domain.Changes{ModelID: chStr(nil, str("m-3"))})
			},
		},
		{
			name: "register a model again is a no-op", account: theAccount,
			body: domain.RegisterModel{ModelID: model1, Name: "renamed"},
		},
		{
			name: "register a model with a bad name", account: theAccount,
			body: domain.RegisterModel{ModelID: "m-3", Name: strings.Repeat("é", 201)},
			code: domain.CodeInvalidArgument, msg: msgNameTooLong,
		},
		{
			name: "register a model on a missing account", account: func(fatalHelper) domain.Account { return domain.Account{} },
			body: domain.RegisterModel{ModelID: "m-3", Name: "x"},
			code: domain.CodeNotFound, msg: "account acc-1 not found",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.account(t)
			cmd := accountCmd(uid(7), accountID, tc.body)
			evs, err := domain.DecideAccount(before, cmd, now)
			switch {
			case tc.code != "":
				wantRefused(t, evs, err, tc.code, tc.msg)
			case tc.typ == "":
				wantNoEvent(t, evs, err)
			default:
				r := domain.Rules{Now: now}
				e := wantEvent(t, evs, err, cmd, r, tc.typ, tc.changes)
				data := tc.data
				data.Changes = tc.changes
				if !reflect.DeepEqual(e.Data, data) {
					t.Errorf("data\n got %s\nwant %s", jsonOf(t, e.Data), jsonOf(t, data))
				}
				if e.TokenID != "" || e.Subject() != domain.AccountSubject || !e.Type.IsAccountEvent() {
					t.Errorf("account event on subject %q (token %q)", e.Subject(), e.TokenID)
				}
				after := domain.EvolveAccount(before, e)
				if after.Version() != before.Version()+1 {
					t.Errorf("version %d after %d", after.Version(), before.Version())
				}
				if tc.check != nil {
					tc.check(t, before, after)
				}
			}
		})
	}
}

// TestAccountRepeats: a retried command (same id) emits nothing.
func TestAccountRepeats(t *testing.T) {
	var a domain.Account
	create := accountCmd(uid(1), domain.DefaultAccountID, domain.CreateAccount{Name: domain.DefaultAccountID, LicenseID: "lic-0", LicenseSha256: licenseHash})
	create.Actor = domain.SystemActor
	steps := []domain.Command{
		create,
		accountCmd(uid(2), domain.DefaultAccountID, domain.RegisterModel{ModelID: "m", Name: "model"}),
		accountCmd(uid(3), domain.DefaultAccountID, domain.IssueLicense{LicenseID: "lic-1", LicenseSha256: licenseHash}),
		accountCmd(uid(4), domain.DefaultAccountID, domain.RevokeLicense{LicenseID: "lic-1"}),
	}
	for i, c := range steps {
		evs, err := domain.DecideAccount(a, c, now)
		if err != nil || len(evs) != 1 {
			t.Fatalf("step %d: %v %v", i, evs, err)
		}
		a = domain.EvolveAccount(a, evs[0])
		if i == 0 && (evs[0].Actor != domain.Actor{Kind: "system"} || jsonOf(t, evs[0].Actor) != `{"kind":"system"}`) {
			t.Errorf("system actor %s", jsonOf(t, evs[0].Actor))
		}
	}
	for i, c := range steps {
		evs, err := domain.DecideAccount(a, c, now)
		wantNoEvent(t, evs, err)
		_ = i
	}
	if a.Version() != 4 || a.ID() != domain.DefaultAccountID {
		t.Errorf("account %+v", a)
	}
}

func TestAccountInternalErrors(t *testing.T) {
	a := theAccount(t)
	cases := []struct {
		name string
		acc  domain.Account
		cmd  domain.Command
	}{
		{"token id on an account command", a, domain.Command{ID: uid(5), AccountID: accountID, TokenID: tokenID, Body: domain.RegisterModel{ModelID: "x", Name: "x"}}},
		{"token command", a, accountCmd(uid(5), accountID, domain.RenameToken{Name: "x"})},
		{"create without license", domain.Account{}, accountCmd(uid(5), accountID, domain.CreateAccount{Name: "x"})},
		{"license without hash", a, accountCmd(uid(5), accountID, domain.IssueLicense{LicenseID: "l"})},
		{"model without id", a, accountCmd(uid(5), accountID, domain.RegisterModel{Name: "x"})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := domain.DecideAccount(tc.acc, tc.cmd, now)
			if domain.CodeOf(err) != domain.CodeInternal || len(evs) != 0 {
				t.Errorf("%v %v", evs, err)
			}
		})
	}
}

// TestEvolveAccountTolerates: replay applies what it is given and does not
// panic on sparse events.
func TestEvolveAccountTolerates(t *testing.T) {
	var a domain.Account
	a = domain.EvolveAccount(a, domain.Event{Type: domain.LicenseRevoked, Data: domain.EventData{LicenseID: "l"}})
	a = domain.EvolveAccount(a, domain.Event{Type: domain.ModelRegistered, Data: domain.EventData{ModelID: "m"}})
	if l, ok := a.License("l"); !ok || !l.Revoked || !a.HasModel("m") {
		t.Errorf("%+v %v", l, ok)
	}
}
