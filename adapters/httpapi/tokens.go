package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// createdToken is the answer to POST /v1/tokens. Secret is empty, and
// omitted, when a retried request (same Idempotency-Key) finds the token
// already issued: the secret was shown once and only its hash is kept.
type createdToken struct {
	Token  projections.TokenView `json:"token"`
	Secret string                `json:"secret,omitempty"`
}

// tokenView renders the token a command left, with its model's name from
// the account the command saw.
func (s *Server) tokenView(res commands.Result) projections.TokenView {
	name, _ := res.Account.ModelName(res.Token.ModelID())
	return projections.NewTokenView(res.Token, name, s.now())
}

// issueToken is POST /v1/tokens: it draws the secret, issues the token and
// shows the secret this once (201), with the token's ETag and Location.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, p principal) error {
	d, err := decode(w, r, wire.IssueTokenSpec)
	if err != nil {
		return err
	}
	cmdID, err := commandID(r, p)
	if err != nil {
		return err
	}
	body := wire.IssueTokenBody(d)
	secret, err := body.DrawSecret()
	if err != nil {
		return err
	}
	res, err := s.execute(r, domain.Command{
		ID: cmdID, AccountID: p.AccountID, TokenID: commands.TokenIDFor(cmdID), Actor: p.Actor(), Body: body,
	})
	if err != nil {
		return err
	}
	setWriteHeaders(w, res)
	w.Header().Set("Cache-Control", "no-store") // the secret must not be cached anywhere
	w.Header().Set("Location", "/v1/tokens/"+url.PathEscape(res.Token.ID()))
	if res.Repeated || res.Token.SecretSha256() != body.SecretSha256 {
		// A retry: the token exists with the first request's secret, which
		// this request never saw. Say so with 200 and no secret.
		writeJSON(w, http.StatusOK, createdToken{Token: s.tokenView(res)})
		return nil
	}
	writeJSON(w, http.StatusCreated, createdToken{Token: s.tokenView(res), Secret: secret})
	return nil
}

// getToken is GET /v1/tokens/{id}, with ETag. Another account's token is
// not found, as the read model answers for (account, id) pairs only.
func (s *Server) getToken(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := pathID(r, true)
	if err != nil {
		return err
	}
	if err := s.awaitSequence(r); err != nil {
		return err
	}
	v, err := s.store.Token(p.AccountID, id)
	if err != nil {
		return err
	}
	tag := etag(v.Version)
	w.Header().Set("ETag", tag)
	if noneMatch(r.Header.Values("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// tokenWrite carries out a command on the token of the path and answers
// the token after it (200 TokenView), or 204 for a deletion.
func (s *Server) tokenWrite(w http.ResponseWriter, r *http.Request, p principal, body domain.CommandBody) error {
	id, err := pathID(r, true)
	if err != nil {
		return err
	}
	expected, err := ifMatch(r)
	if err != nil {
		return err
	}
	cmdID, err := commandID(r, p)
	if err != nil {
		return err
	}
	res, err := s.execute(r, domain.Command{
		ID: cmdID, AccountID: p.AccountID, TokenID: id, Actor: p.Actor(), ExpectedVersion: expected, Body: body,
	})
	if err != nil {
		return err
	}
	setWriteHeaders(w, res)
	if _, del := body.(domain.DeleteToken); del {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(w, http.StatusOK, s.tokenView(res))
	return nil
}

// patchToken is PATCH /v1/tokens/{id}: any of name, note, expirationDate,
// status, modelId; all or nothing. An empty object changes nothing and
// answers the token as it is.
func (s *Server) patchToken(w http.ResponseWriter, r *http.Request, p principal) error {
	if _, err := pathID(r, true); err != nil {
		return err
	}
	d, err := decode(w, r, wire.PatchTokenSpec)
	if err != nil {
		return err
	}
	return s.tokenWrite(w, r, p, wire.PatchTokenBody(d))
}

// cancelToken is POST /v1/tokens/{id}/cancel.
func (s *Server) cancelToken(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	return s.tokenWrite(w, r, p, domain.CancelToken{})
}

// assignModel is PUT /v1/tokens/{id}/model {"modelId"}.
func (s *Server) assignModel(w http.ResponseWriter, r *http.Request, p principal) error {
	if _, err := pathID(r, true); err != nil {
		return err
	}
	d, err := decode(w, r, wire.AssignModelSpec)
	if err != nil {
		return err
	}
	return s.tokenWrite(w, r, p, domain.AssignModel{ModelID: d.Get("modelId").Str})
}

// unassignModel is DELETE /v1/tokens/{id}/model.
func (s *Server) unassignModel(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	return s.tokenWrite(w, r, p, domain.UnassignModel{})
}

// deleteToken is DELETE /v1/tokens/{id}: 204, with the TokenDeleted event's
// sequence and the token's last version.
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	return s.tokenWrite(w, r, p, domain.DeleteToken{})
}

// noneMatch reports whether If-None-Match names tag: "*", or a list of tags
// compared weakly (RFC 9110 section 13.1.2), so W/"3" matches "3".
func noneMatch(values []string, tag string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == tag {
				return true
			}
		}
	}
	return false
}
