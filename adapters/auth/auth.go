// Package auth authenticates a provider's license, the one way every intake
// does it: an HTTP request's Authorization header and a NATS command's
// Authorization header go through Authenticate alike, so a license that
// works (or is refused) over one works (or is refused) over the other.
// Transport concerns (rate limits, the 401's WWW-Authenticate) stay with
// the transport.
package auth

import (
	"strings"

	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// Principal is who a command or a management call acts for: one license of
// one account.
type Principal struct {
	AccountID string
	LicenseID string
}

// Admin reports whether the principal may create accounts: any license of
// the account the service created on its first start (docs/api.md).
func (p Principal) Admin() bool { return p.AccountID == domain.DefaultAccountID }

// Actor is the principal as an event's actor.
func (p Principal) Actor() domain.Actor {
	return domain.Actor{Kind: domain.ActorLicense, ID: p.LicenseID}
}

// Licenses finds a license by the SHA-256 of its key. *projections.Store
// implements it; it is called concurrently.
type Licenses interface {
	License(licenseSha256 string) (projections.LicenseRecord, bool, error)
}

// Bearer returns the credentials of an "Authorization: Bearer <x>" header,
// given every value the header has. The scheme is case-insensitive (RFC
// 9110 section 11.1); more than one Authorization value is refused, since
// which one counts would be a guess.
func Bearer(authorization []string) (string, bool) {
	if len(authorization) != 1 {
		return "", false
	}
	scheme, cred, ok := strings.Cut(authorization[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimLeft(cred, " ")
	return cred, cred != ""
}

// Authenticate finds the license that the Authorization header's values
// carry. A missing or malformed license (domain.CheckSecret) is refused
// without a lookup; the license is then found by its SHA-256, and an
// unknown or revoked one is refused. Every refusal is
// domain.ErrUnauthenticated; any other error is the store's. Neither the
// license nor its hash is ever logged or returned.
func Authenticate(licenses Licenses, authorization []string) (Principal, error) {
	lic, ok := Bearer(authorization)
	if !ok || !domain.CheckSecret(domain.LicensePrefix, lic) {
		return Principal{}, domain.ErrUnauthenticated
	}
	rec, found, err := licenses.License(domain.HashSecret(lic))
	if err != nil {
		return Principal{}, err
	}
	if !found || rec.Revoked {
		return Principal{}, domain.ErrUnauthenticated
	}
	return Principal{AccountID: rec.AccountID, LicenseID: rec.LicenseID}, nil
}
