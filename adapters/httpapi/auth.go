package httpapi

import (
	"net"
	"net/http"
	"strings"

	"github.com/tokend/tokend/domain"
)

// principal is who a management call acts for: one license of one account.
type principal struct {
	AccountID string
	LicenseID string
}

// admin reports whether the caller may create accounts: any license of the
// account the service created on its first start (docs/api.md).
func (p principal) admin() bool { return p.AccountID == domain.DefaultAccountID }

// actor is the principal as an event's actor.
func (p principal) actor() domain.Actor {
	return domain.Actor{Kind: domain.ActorLicense, ID: p.LicenseID}
}

// bearer returns the credentials of an "Authorization: Bearer <x>" header.
// The scheme is case-insensitive (RFC 9110 section 11.1); more than one
// Authorization header is refused, since which one counts would be a guess.
func bearer(r *http.Request) (string, bool) {
	hs := r.Header.Values("Authorization")
	if len(hs) != 1 {
		return "", false
	}
	scheme, cred, ok := strings.Cut(hs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimLeft(cred, " ")
	return cred, cred != ""
}

// clientAddr is the address the failed-authentication limit is kept for:
// Config.ClientAddr when set (behind a trusted proxy), else the host of the
// connection's remote address.
func (s *Server) clientAddr(r *http.Request) string {
	if s.cfg.ClientAddr != nil {
		return s.cfg.ClientAddr(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate finds the license of a management call. In order:
//   - an address that has spent its failed-authentication budget gets 429
//     before anything is looked up;
//   - a missing or malformed license (domain.CheckSecret) is refused without
//     a lookup;
//   - the license is found by its SHA-256; unknown or revoked is refused;
//   - the license's own request budget is taken.
//
// Each refusal of the second and third kind spends the address's budget, and
// the one that empties it is answered 429 instead of 401. Neither the license
// nor its hash is ever logged.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	addr := s.clientAddr(r)
	if blocked, after := s.failLimit.exhausted(addr); blocked {
		return principal{}, withRetryAfter(domain.ErrRateLimited, after)
	}
	lic, ok := bearer(r)
	if !ok || !domain.CheckSecret(domain.LicensePrefix, lic) {
		return principal{}, s.authFailed(addr)
	}
	rec, found, err := s.store.License(domain.HashSecret(lic))
	if err != nil {
		return principal{}, err
	}
	if !found || rec.Revoked {
		return principal{}, s.authFailed(addr)
	}
	if ok, after := s.licenseLimit.allow(rec.LicenseID); !ok {
		return principal{}, withRetryAfter(domain.ErrRateLimited, after)
	}
	return principal{AccountID: rec.AccountID, LicenseID: rec.LicenseID}, nil
}

// authFailed spends one failed authentication of addr and returns the
// refusal: 401, or 429 once the address's budget is gone.
func (s *Server) authFailed(addr string) error {
	if ok, after := s.failLimit.allow(addr); !ok {
		return withRetryAfter(domain.ErrRateLimited, after)
	}
	return domain.ErrUnauthenticated
}
