package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/sdk"
)

// TestAccountsAndLicenses covers the SDK's and tokenctl's account calls
// against a real tokend: the admin creates an account, whose license works at
// once and sees only its own things; licenses are issued, listed and revoked,
// and a revoked one stops working at once.
func TestAccountsAndLicenses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts tokend")
	}
	s := startService(t, binaries(t))
	validateAgainstOpenAPI(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := sdk.New(s.url, s.license)

	r := s.ok(t, "accounts", "create", "acme", "-o", "json")
	var created sdk.CreatedAccount
	mustJSON(t, r.stdout, &created)
	if created.Account.Name != "acme" || !strings.HasPrefix(created.License, "lic_") || !strings.Contains(r.stderr, "only time the license is shown") {
		t.Fatalf("accounts create: %+v, stderr %q", created, r.stderr)
	}
	acme := sdk.New(s.url, created.License)
	if a, err := acme.Account(ctx); err != nil || a.ID != created.Account.ID {
		t.Fatalf("acme's account: %+v %v", a, err)
	}

	// Only the admin creates accounts.
	if _, err := acme.CreateAccount(ctx, "evil"); !errors.Is(err, sdk.ErrPermissionDenied) {
		t.Errorf("acme creating an account: %v", err)
	}

	// Tenancy: another account's token and model answer not_found.
	m, err := acme.CreateModel(ctx, "acme-model")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := acme.CreateToken(ctx, sdk.CreateTokenRequest{Name: "acme user", ExpirationDate: time.Now().Add(time.Hour).Unix(), ModelID: m.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.GetToken(ctx, tok.Token.ID); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("admin reading acme's token: %v", err)
	}
	if _, err := admin.Model(ctx, m.ID); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("admin reading acme's model: %v", err)
	}
	if r := s.ctl(t, "", "tokens", "cancel", tok.Token.ID); r.code != 3 {
		t.Errorf("admin canceling acme's token: exit %d %s", r.code, r.stderr)
	}

	// An end user's secret reads the model its token is assigned to.
	if got, err := sdk.New(s.url, tok.Secret).Model(ctx, m.ID); err != nil || got.Name != "acme-model" {
		t.Errorf("the end user reading its model: %+v %v", got, err)
	}

	// Licenses: issue, list, revoke; a revoked license stops at once.
	issued, err := acme.IssueLicense(ctx)
	if err != nil || !strings.HasPrefix(issued.License, "lic_") {
		t.Fatalf("IssueLicense: %+v %v", issued, err)
	}
	second := sdk.New(s.url, issued.License)
	if _, err := second.Account(ctx); err != nil {
		t.Fatalf("the new license: %v", err)
	}
	lics, err := acme.Licenses(ctx)
	if err != nil || len(lics) != 2 {
		t.Fatalf("Licenses: %+v %v", lics, err)
	}
	if err := acme.RevokeLicense(ctx, issued.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Account(ctx); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Errorf("a revoked license: %v", err)
	}
	lics, _ = acme.Licenses(ctx)
	for _, l := range lics {
		if l.ID == issued.ID && !l.Revoked {
			t.Errorf("revoked license listed as %+v", l)
		}
	}
	r = s.ctl(t, "", "--license", issued.License, "tokens", "list")
	if r.code != 6 || !strings.HasPrefix(r.stderr, "tokenctl: unauthenticated: ") {
		t.Errorf("tokenctl with a revoked license: exit %d %q", r.code, r.stderr)
	}

	// tokenctl's license commands, with the admin's own account.
	r = s.ok(t, "licenses", "issue", "-o", "json")
	var mine sdk.IssuedLicense
	mustJSON(t, r.stdout, &mine)
	if r := s.ok(t, "licenses", "list"); !strings.Contains(r.stdout, mine.ID) {
		t.Errorf("licenses list:\n%s", r.stdout)
	}
	if r := s.ok(t, "licenses", "revoke", mine.ID); r.stdout != "license "+mine.ID+" revoked\n" {
		t.Errorf("licenses revoke: %q", r.stdout)
	}
}
