package httpapi

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/tokend/tokend/adapters/auth"
	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// introspect is POST /v1/introspect: {"token": "tkn_…"} as JSON, or RFC
// 7662's form encoding token=tkn_…. It needs no license. A secret of the
// wrong shape or checksum is inactive without any lookup; an unknown,
// deleted, expired, suspended or canceled one is inactive too, and the
// answer then holds {"active":false} and nothing else. The note is never
// shown: the read model's end-user view has none.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) error {
	secret, err := introspectedSecret(w, r)
	if err != nil {
		return err
	}
	if err := s.awaitSequence(r); err != nil {
		return err
	}
	// RFC 7662 section 4: introspection answers must not be cached.
	w.Header().Set("Cache-Control", "no-store")
	if !domain.CheckSecret(domain.TokenSecretPrefix, secret) {
		writeJSON(w, http.StatusOK, projections.Introspection{})
		return nil
	}
	in, err := s.store.Introspect(domain.HashSecret(secret))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}

// introspectedSecret reads the token to introspect from either encoding.
// In the form encoding, token_type_hint and parameters this server does not
// know are ignored, as RFC 7662 (through RFC 6749 section 3.2) asks; the
// JSON body follows the API's own strict rules.
func introspectedSecret(w http.ResponseWriter, r *http.Request) (string, error) {
	body, kind, err := readBody(w, r, needJSONOrForm)
	if err != nil {
		return "", err
	}
	if kind == bodyJSON {
		d, err := wire.DecodeBody(body, wire.IntrospectSpec)
		if err != nil {
			return "", err
		}
		return d.Get("token").Str, nil
	}
	if !utf8.Valid(body) {
		return "", domain.Invalid("body", "must be valid UTF-8")
	}
	form, err := url.ParseQuery(strings.TrimSpace(string(body)))
	if err != nil {
		return "", domain.Invalid("body", "malformed form encoding")
	}
	vs := form["token"]
	switch {
	case len(vs) == 0:
		return "", domain.Invalid("token", "required")
	case len(vs) > 1:
		return "", domain.Invalid("token", "given more than once")
	case !utf8.ValidString(vs[0]):
		return "", domain.Invalid("token", "must be valid UTF-8")
	}
	return vs[0], nil
}

// getModel is GET /v1/models/{id}. A provider's license reads any model of
// its account. An end user's token secret reads the one model its token is
// assigned to, while the token is active (neither expired, suspended,
// canceled nor deleted): an inactive one is refused like a bad license, and
// any other model is not found.
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	if cred, ok := auth.Bearer(r.Header.Values("Authorization")); ok && strings.HasPrefix(cred, domain.TokenSecretPrefix) {
		return s.getModelAsEndUser(w, r, cred)
	}
	p, err := s.authenticate(r)
	if err != nil {
		return err
	}
	id, err := pathID(r, false)
	if err != nil {
		return err
	}
	if err := s.awaitSequence(r); err != nil {
		return err
	}
	m, err := s.store.Model(p.AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) getModelAsEndUser(w http.ResponseWriter, r *http.Request, secret string) error {
	addr := s.clientAddr(r)
	if blocked, after := s.failLimit.exhausted(addr); blocked {
		return withRetryAfter(domain.ErrRateLimited, after)
	}
	if !domain.CheckSecret(domain.TokenSecretPrefix, secret) {
		return s.authFailed(addr)
	}
	id, err := pathID(r, false)
	if err != nil {
		return err
	}
	if err := s.awaitSequence(r); err != nil {
		return err
	}
	in, err := s.store.Introspect(domain.HashSecret(secret))
	if err != nil {
		return err
	}
	if !in.Active || in.View == nil {
		return s.authFailed(addr)
	}
	if ok, after := s.licenseLimit.allow("token:" + in.View.ID); !ok {
		return withRetryAfter(domain.ErrRateLimited, after)
	}
	if in.View.ModelID == nil || *in.View.ModelID != id {
		return domain.ErrNotFound
	}
	m, err := s.store.Model(in.AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}
