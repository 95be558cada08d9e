package httpapi

import (
	"errors"
	"net"
	"net/http"

	"github.com/tokend/tokend/adapters/auth"
	"github.com/tokend/tokend/domain"
)

// principal is who a management call acts for: one license of one account.
// It is the auth package's, so that HTTP and the NATS intake authenticate
// by one code path.
type principal = auth.Principal

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
//   - auth.Authenticate refuses a missing or malformed license
//     (domain.CheckSecret) without a lookup, then finds the license by its
//     SHA-256 and refuses an unknown or revoked one;
//   - the license's own request budget is taken.
//
// Each refusal of auth.Authenticate spends the address's budget, and the one
// that empties it is answered 429 instead of 401. Neither the license nor its
// hash is ever logged.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	addr := s.clientAddr(r)
	if blocked, after := s.failLimit.exhausted(addr); blocked {
		return principal{}, withRetryAfter(domain.ErrRateLimited, after)
	}
	p, err := auth.Authenticate(s.store, r.Header.Values("Authorization"))
	if errors.Is(err, domain.ErrUnauthenticated) {
		return principal{}, s.authFailed(addr)
	}
	if err != nil {
		return principal{}, err
	}
	if ok, after := s.licenseLimit.allow(p.LicenseID); !ok {
		return principal{}, withRetryAfter(domain.ErrRateLimited, after)
	}
	return p, nil
}

// authFailed spends one failed authentication of addr and returns the
// refusal: 401, or 429 once the address's budget is gone.
func (s *Server) authFailed(addr string) error {
	if ok, after := s.failLimit.allow(addr); !ok {
		return withRetryAfter(domain.ErrRateLimited, after)
	}
	return domain.ErrUnauthenticated
}
