package httpapi

import (
	"net/http"
	"net/url"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// getAccount is GET /v1/account: the caller's own account.
func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := s.awaitSequence(r); err != nil {
		return err
	}
	a, err := s.store.Account(p.AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

// createdAccount is the answer to POST /v1/accounts. License is omitted when
// a retried request (same Idempotency-Key) finds the account created: the
// license was shown once.
type createdAccount struct {
	Account projections.AccountView `json:"account"`
	License string                  `json:"license,omitempty"`
}

// createAccount is POST /v1/accounts (admin only): a new account and its
// first license, shown this once. It answers once the read model knows the
// license (at most MinSequenceWait), so that the license works at once on
// this replica.
func (s *Server) createAccount(w http.ResponseWriter, r *http.Request, p principal) error {
	if !p.Admin() {
		return &domain.Error{Code: domain.CodePermissionDenied, Message: "only a license of the account default may create accounts"}
	}
	d, err := decode(w, r, wire.NameSpec)
	if err != nil {
		return err
	}
	cmdID, err := commandID(r, p)
	if err != nil {
		return err
	}
	license, err := domain.NewSecret(domain.LicensePrefix)
	if err != nil {
		return err
	}
	accountID := commands.AccountIDFor(cmdID)
	hash := domain.HashSecret(license)
	res, err := s.execute(r, domain.Command{
		ID: cmdID, AccountID: accountID, Actor: p.Actor(),
		Body: domain.CreateAccount{Name: d.Get("name").Str, LicenseID: commands.LicenseIDFor(cmdID), LicenseSha256: hash},
	})
	if err != nil {
		return err
	}
	s.settle(r, res.Sequence)
	setWriteHeaders(w, res)
	w.Header().Set("Cache-Control", "no-store")
	out := createdAccount{Account: projections.AccountView{ID: res.Account.ID(), Name: res.Account.Name()}}
	if l, ok := res.Account.License(commands.LicenseIDFor(cmdID)); res.Repeated || !ok || l.Sha256 != hash {
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	out.License = license
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// settle waits, at most MinSequenceWait, for the read model to apply seq,
// so that a license just issued authenticates on this replica. A timeout is
// not an error here: the write happened, and the license works moments later.
func (s *Server) settle(r *http.Request, seq uint64) {
	_ = s.waitFor(r.Context(), seq)
}

// licenseView is a license as listed: never its key or hash.
type licenseView struct {
	ID      string `json:"id"`
	Revoked bool   `json:"revoked"`
}

// listLicenses is GET /v1/licenses: the caller's account's licenses,
// revoked ones included, by id. They come from the command service's account
// state (the log), which is where revocations are decided.
func (s *Server) listLicenses(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := s.awaitSequence(r); err != nil {
		return err
	}
	a, _, err := s.cmds.Account(r.Context(), p.AccountID)
	if err != nil {
		return err
	}
	out := struct {
		Licenses []licenseView `json:"licenses"`
	}{Licenses: []licenseView{}}
	for _, l := range a.Licenses() {
		out.Licenses = append(out.Licenses, licenseView{ID: l.ID, Revoked: l.Revoked})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// issuedLicense is the answer to POST /v1/licenses.
type issuedLicense struct {
	ID      string `json:"id"`
	License string `json:"license,omitempty"`
}

// issueLicense is POST /v1/licenses: another license for the caller's
// account, shown this once (201), working on this replica when answered.
func (s *Server) issueLicense(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	cmdID, err := commandID(r, p)
	if err != nil {
		return err
	}
	license, err := domain.NewSecret(domain.LicensePrefix)
	if err != nil {
		return err
	}
	id, hash := commands.LicenseIDFor(cmdID), domain.HashSecret(license)
	res, err := s.execute(r, domain.Command{
		ID: cmdID, AccountID: p.AccountID, Actor: p.Actor(),
		Body: domain.IssueLicense{LicenseID: id, LicenseSha256: hash},
	})
	if err != nil {
		return err
	}
	s.settle(r, res.Sequence)
	setWriteHeaders(w, res)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/v1/licenses/"+url.PathEscape(id))
	if l, ok := res.Account.License(id); res.Repeated || !ok || l.Sha256 != hash {
		writeJSON(w, http.StatusOK, issuedLicense{ID: id})
		return nil
	}
	writeJSON(w, http.StatusCreated, issuedLicense{ID: id, License: license})
	return nil
}

// revokeLicense is DELETE /v1/licenses/{id}: 204 once the read model of this
// replica has applied the revocation, so the license fails from the next
// request on. If the read model does not get there within MinSequenceWait
// the answer is 503 projection_behind: the revocation is recorded (a retry
// is a no-op) but not yet in force here.
func (s *Server) revokeLicense(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := pathID(r, false)
	if err != nil {
		return err
	}
	if err := noBody(w, r); err != nil {
		return err
	}
	cmdID, err := commandID(r, p)
	if err != nil {
		return err
	}
	res, err := s.execute(r, domain.Command{
		ID: cmdID, AccountID: p.AccountID, Actor: p.Actor(),
		Body: domain.RevokeLicense{LicenseID: id},
	})
	if err != nil {
		return err
	}
	if err := s.waitFor(r.Context(), res.Sequence); err != nil {
		return err
	}
	setWriteHeaders(w, res)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// registerModel is POST /v1/models {"name"}: 201 {"id","name"}.
func (s *Server) registerModel(w http.ResponseWriter, r *http.Request, p principal) error {
	d, err := decode(w, r, wire.NameSpec)
	if err != nil {
		return err
	}
	cmdID, err := commandID(r, p)
	if err != nil {
		return err
	}
	id := commands.ModelIDFor(cmdID)
	res, err := s.execute(r, domain.Command{
		ID: cmdID, AccountID: p.AccountID, Actor: p.Actor(),
		Body: domain.RegisterModel{ModelID: id, Name: d.Get("name").Str},
	})
	if err != nil {
		return err
	}
	name, _ := res.Account.ModelName(id)
	setWriteHeaders(w, res)
	w.Header().Set("Location", "/v1/models/"+url.PathEscape(id))
	status := http.StatusCreated
	if res.Repeated {
		status = http.StatusOK
	}
	writeJSON(w, status, projections.Model{ID: id, Name: name})
	return nil
}

// listModels is GET /v1/models.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := s.awaitSequence(r); err != nil {
		return err
	}
	ms, err := s.store.Models(p.AccountID)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []projections.Model{}
	}
	writeJSON(w, http.StatusOK, struct {
		Models []projections.Model `json:"models"`
	}{ms})
	return nil
}
