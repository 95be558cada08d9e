package httpapi

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
)

// CommandOutcomes is where the outcomes of commands published on NATS are
// remembered (*natsintake.Outcomes). It answers only for the given account:
// another account's command is not found. It is called concurrently.
type CommandOutcomes interface {
	CommandOutcome(ctx context.Context, accountID string, id uuid.UUID) (wire.Outcome, bool, error)
}

// getCommand is GET /v1/commands/{id}: the outcome of a command the
// caller's account published on NATS, as it was published on
// tokens.outcomes.<id> but never with a secret (docs/api.md "Commands on
// NATS"). A command of another account, one that never ran, one refused
// before any account was known (unauthenticated) and one older than the
// 7 days outcomes are kept are all 404.
func (s *Server) getCommand(w http.ResponseWriter, r *http.Request, p principal) error {
	raw := r.PathValue("id")
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 || s.cfg.Outcomes == nil {
		return domain.ErrNotFound
	}
	o, found, err := s.cfg.Outcomes.CommandOutcome(r.Context(), p.AccountID, id)
	if err != nil {
		return err
	}
	if !found {
		return domain.ErrNotFound
	}
	o.Secret = "" // never stored; never served either
	writeJSON(w, http.StatusOK, o)
	return nil
}
