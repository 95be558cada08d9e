package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/sdk"
	"github.com/tokend/tokend/sdk/natscmd"
)

// TestLogsHoldNoSecret runs a provider's whole day against a tokend
// subprocess — accounts and licenses created, issued, used and revoked;
// tokens issued over HTTP and over NATS, introspected (JSON and form),
// used as bearer, changed, canceled and deleted; wrong, unknown and revoked
// credentials tried on both intakes — then reads every line tokend wrote
// (stdout and stderr: its whole log) and looks for each secret and license
// it issued or was shown. None may appear, whole or without its prefix.
func TestLogsHoldNoSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tokend as a subprocess")
	}
	admin, err := domain.NewSecret(domain.LicensePrefix)
	if err != nil {
		t.Fatal(err)
	}
	p := newProcess(t)
	p.start("TOKEND_ADMIN_LICENSE=" + admin)
	out := p.run.Output // stdout and stderr

	secrets := []string{admin}
	keep := func(s string) string {
		t.Helper()
		if s == "" {
			t.Fatal("an answer without its secret")
		}
		secrets = append(secrets, s)
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := p.URL()
	root := sdk.New(base, admin)

	// Accounts and licenses.
	acct, err := root.CreateAccount(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	acme := sdk.New(base, keep(acct.License))
	second, err := acme.IssueLicense(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keep(second.License)
	third, err := acme.IssueLicense(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keep(third.License)
	if err := acme.RevokeLicense(ctx, third.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.New(base, third.License).Models(ctx); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Fatalf("a revoked license: %v", err)
	}

	// Models and tokens over HTTP.
	model, err := acme.CreateModel(ctx, "gpt-large")
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(24 * time.Hour).Unix()
	var tokens []sdk.CreatedToken
	for i := range 3 {
		ct, err := acme.CreateToken(ctx, sdk.CreateTokenRequest{Name: fmt.Sprintf("user %d", i), Note: "private", ExpirationDate: exp, ModelID: model.ID})
		if err != nil {
			t.Fatal(err)
		}
		keep(ct.Secret)
		tokens = append(tokens, ct)
	}

	// The same over NATS, with a good license and a bad one.
	nc, err := nats.Connect("nats://" + p.NATSAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nclient, err := natscmd.New(nc, second.License)
	if err != nil {
		t.Fatal(err)
	}
	o, err := nclient.SendCommand(ctx, natscmd.IssueToken(sdk.CreateTokenRequest{Name: "over nats", ExpirationDate: exp}))
	if err != nil || o.Err() != nil {
		t.Fatalf("IssueToken over NATS: %v %v", err, o.Err())
	}
	keep(o.Secret)
	if o, err := nclient.SendCommand(ctx, natscmd.RenameToken(o.TokenID, "renamed over nats")); err != nil || o.Err() != nil {
		t.Fatalf("RenameToken over NATS: %v %v", err, o.Err())
	}
	unknown, _ := domain.NewSecret(domain.LicensePrefix)
	secrets = append(secrets, unknown)
	for _, bad := range []string{unknown, third.License, "lic_not-a-license"} {
		bc, err := natscmd.New(nc, bad)
		if err != nil {
			t.Fatal(err)
		}
		o, err := bc.SendCommand(ctx, natscmd.IssueToken(sdk.CreateTokenRequest{Name: "refused", ExpirationDate: exp}))
		if !errors.Is(err, sdk.ErrUnauthenticated) && !errors.Is(o.Err(), sdk.ErrUnauthenticated) {
			t.Fatalf("a command with a bad license over NATS: %v %v", err, o.Err())
		}
	}

	// Introspection, JSON and form-encoded; the secret as a bearer.
	for _, ct := range tokens {
		in, err := acme.Introspect(ctx, ct.Secret)
		if err != nil || !in.Active {
			t.Fatalf("introspect: %+v %v", in, err)
		}
		resp, err := http.PostForm(base+"/v1/introspect", url.Values{"token": {ct.Secret}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("form introspection: %d", resp.StatusCode)
		}
		if _, err := sdk.New(base, ct.Secret).Model(ctx, model.ID); err != nil {
			t.Fatalf("the token's secret as bearer of its model: %v", err)
		}
	}
	unknownSecret, _ := domain.NewSecret(domain.TokenSecretPrefix)
	secrets = append(secrets, unknownSecret)
	if in, err := acme.Introspect(ctx, unknownSecret); err != nil || in.Active {
		t.Fatalf("an unknown secret: %+v %v", in, err)
	}

	// Changes, cancel, delete; then the dead secrets again.
	id := tokens[0].Token.ID
	if _, err := acme.UpdateToken(ctx, id, sdk.UpdateTokenRequest{Name: sdk.Some("renamed"), Status: sdk.Some(sdk.StatusSuspended)}); err != nil {
		t.Fatal(err)
	}
	if _, err := acme.CancelToken(ctx, tokens[1].Token.ID); err != nil {
		t.Fatal(err)
	}
	if err := acme.DeleteToken(ctx, tokens[2].Token.ID); err != nil {
		t.Fatal(err)
	}
	for _, ct := range tokens {
		if in, err := acme.Introspect(ctx, ct.Secret); err != nil || in.Active {
			t.Fatalf("a suspended, canceled or deleted token introspects %+v %v", in, err)
		}
	}

	// Wrong credentials over HTTP: unknown, revoked, malformed, a token
	// secret where a license belongs, a license where a token belongs.
	for _, bad := range []string{unknown, third.License, "lic_" + strings.Repeat("A", 49), tokens[0].Secret} {
		if _, err := sdk.New(base, bad).Models(ctx); !errors.Is(err, sdk.ErrUnauthenticated) {
			t.Fatalf("a bad license: %v", err)
		}
	}
	if in, err := acme.Introspect(ctx, acct.License); err != nil || in.Active {
		t.Fatalf("a license introspected as a token: %+v %v", in, err)
	}

	// A clean stop flushes everything the process would log.
	p.stop()
	logs := out.String()
	if n := strings.Count(logs, "\n"); n < 20 {
		t.Fatalf("only %d log lines: the test did not see tokend's log", n)
	}
	for _, s := range secrets {
		for _, part := range []string{s, s[4:], s[8:]} { // whole, without the prefix, past the hint
			if strings.Contains(logs, part) {
				t.Errorf("tokend's log holds the secret or license %s… (%q)", s[:8], part[:12])
			}
		}
	}
	t.Logf("%d log lines searched for %d secrets and licenses", strings.Count(logs, "\n"), len(secrets))
}
