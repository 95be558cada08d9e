package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tokend/tokend/adapters/auth"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

type licenses map[string]projections.LicenseRecord

func (l licenses) License(sha string) (projections.LicenseRecord, bool, error) {
	if sha == "broken" {
		return projections.LicenseRecord{}, false, errors.New("disk on fire")
	}
	r, ok := l[sha]
	return r, ok, nil
}

func TestAuthenticate(t *testing.T) {
	good, _ := domain.NewSecret(domain.LicensePrefix)
	revoked, _ := domain.NewSecret(domain.LicensePrefix)
	unknown, _ := domain.NewSecret(domain.LicensePrefix)
	store := licenses{
		domain.HashSecret(good):    {AccountID: "acme", LicenseID: "lic-1"},
		domain.HashSecret(revoked): {AccountID: "acme", LicenseID: "lic-2", Revoked: true},
	}
	cases := []struct {
		name   string
		header []string
		want   auth.Principal
		err    error
	}{
		{"good", []string{"Bearer " + good}, auth.Principal{AccountID: "acme", LicenseID: "lic-1"}, nil},
		{"scheme in any case, extra spaces", []string{"bEARER   " + good}, auth.Principal{AccountID: "acme", LicenseID: "lic-1"}, nil},
		{"none", nil, auth.Principal{}, domain.ErrUnauthenticated},
		{"two values", []string{"Bearer " + good, "Bearer " + good}, auth.Principal{}, domain.ErrUnauthenticated},
		{"basic", []string{"Basic " + good}, auth.Principal{}, domain.ErrUnauthenticated},
		{"no credentials", []string{"Bearer "}, auth.Principal{}, domain.ErrUnauthenticated},
		{"token secret", []string{"Bearer tkn_" + good[4:]}, auth.Principal{}, domain.ErrUnauthenticated},
		{"bad checksum", []string{"Bearer " + corruptLast(good)}, auth.Principal{}, domain.ErrUnauthenticated},
		{"revoked", []string{"Bearer " + revoked}, auth.Principal{}, domain.ErrUnauthenticated},
		{"unknown", []string{"Bearer " + unknown}, auth.Principal{}, domain.ErrUnauthenticated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := auth.Authenticate(store, c.header)
			if p != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("Authenticate = %+v, %v; want %+v, %v", p, err, c.want, c.err)
			}
		})
	}
	p := auth.Principal{AccountID: domain.DefaultAccountID, LicenseID: "lic-9"}
	if !p.Admin() || p.Actor() != (domain.Actor{Kind: domain.ActorLicense, ID: "lic-9"}) {
		t.Fatalf("principal %+v: admin %v, actor %+v", p, p.Admin(), p.Actor())
	}
}

// corruptLast changes a secret's last character (its checksum's last
// digit) to another base62 digit, so that its checksum no longer matches.
func corruptLast(s string) string {
	if strings.HasSuffix(s, "x") {
		return s[:len(s)-1] + "y"
	}
	return s[:len(s)-1] + "x"
}
