package httpapi

import (
	"net/http"

	"github.com/tokend/tokend/projections"
)

// listTokens is GET /v1/tokens (API.md "List query").
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p principal) error {
	q, err := parseListQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	if err := s.awaitSequence(r); err != nil {
		return err
	}
	page, err := s.store.ListTokens(p.AccountID, projections.ListQuery{
		Statuses: q.Statuses, ModelID: q.ModelID, Assigned: q.Assigned, Q: q.Q,
		ExpiresBefore: q.ExpiresBefore, ExpiresAfter: q.ExpiresAfter,
		Sort: q.Sort, Limit: q.Limit, Cursor: q.Cursor,
	})
	if err != nil {
		return err
	}
	if page.Tokens == nil {
		page.Tokens = []projections.TokenView{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// tokenAudit is GET /v1/tokens/{id}/audit: the token's trail, oldest first;
// a deleted token's stays readable, another account's is not found.
func (s *Server) tokenAudit(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := pathID(r, true)
	if err != nil {
		return err
	}
	q, err := parseAuditQuery(r.URL.RawQuery, false)
	if err != nil {
		return err
	}
	if err := s.awaitSequence(r); err != nil {
		return err
	}
	page, err := s.store.TokenAudit(p.AccountID, id, projections.AuditQuery{Limit: q.Limit, Cursor: q.Cursor})
	if err != nil {
		return err
	}
	return writeAudit(w, page)
}

// accountAudit is GET /v1/audit: the account's whole trail, oldest first,
// account-level events included.
func (s *Server) accountAudit(w http.ResponseWriter, r *http.Request, p principal) error {
	q, err := parseAuditQuery(r.URL.RawQuery, true)
	if err != nil {
		return err
	}
	if err := s.awaitSequence(r); err != nil {
		return err
	}
	page, err := s.store.AccountAudit(p.AccountID, projections.AuditQuery{
		Since: q.Since, Until: q.Until, Type: q.Type, Limit: q.Limit, Cursor: q.Cursor,
	})
	if err != nil {
		return err
	}
	return writeAudit(w, page)
}

func writeAudit(w http.ResponseWriter, page projections.AuditPage) error {
	if page.Entries == nil {
		page.Entries = []projections.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
