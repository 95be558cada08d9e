package domain

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Token is the state of one token aggregate, folded from its events by
// Evolve. The zero Token is a token that does not exist (no events yet).
// A Token is a value: Evolve returns a new one and never changes its input.
type Token struct{ s TokenSnapshot }

// TokenSnapshot is a Token's state with exported fields, for storing it
// (the read model keeps one per token) and restoring it with RestoreToken.
// Note "" is no note and ModelID "" is unassigned.
type TokenSnapshot struct {
	ID             string    `json:"id"`
	AccountID      string    `json:"accountId"`
	Name           string    `json:"name"`
	Note           string    `json:"note,omitempty"`
	ExpirationDate int64     `json:"expirationDate"`
	Status         Status    `json:"status"`
	ModelID        string    `json:"modelId,omitempty"`
	SecretSha256   string    `json:"secretSha256"`
	SecretHint     string    `json:"secretHint"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	Version        int64     `json:"version"`
	IssuedBy       uuid.UUID `json:"issuedBy"`
	Deleted        bool      `json:"deleted,omitempty"`
}

// RestoreToken rebuilds a Token from a snapshot taken with Token.Snapshot.
// It is the replay path for stored state; it validates nothing.
func RestoreToken(s TokenSnapshot) Token { return Token{s: s} }

// Snapshot returns the token's state.
func (t Token) Snapshot() TokenSnapshot { return t.s }

// Exists reports whether the token was issued (it may since have been deleted).
func (t Token) Exists() bool { return t.s.Version > 0 }

// Live reports whether the token exists and is not deleted.
func (t Token) Live() bool { return t.Exists() && !t.s.Deleted }

func (t Token) ID() string            { return t.s.ID }
func (t Token) AccountID() string     { return t.s.AccountID }
func (t Token) Name() string          { return t.s.Name }
func (t Token) Note() string          { return t.s.Note }
func (t Token) ExpirationDate() int64 { return t.s.ExpirationDate }
func (t Token) Status() Status        { return t.s.Status }
func (t Token) ModelID() string       { return t.s.ModelID }
func (t Token) SecretSha256() string  { return t.s.SecretSha256 }
func (t Token) SecretHint() string    { return t.s.SecretHint }
func (t Token) CreatedAt() time.Time  { return t.s.CreatedAt }
func (t Token) UpdatedAt() time.Time  { return t.s.UpdatedAt }
func (t Token) Version() int64        { return t.s.Version }
func (t Token) Deleted() bool         { return t.s.Deleted }
func (t Token) IssuedBy() uuid.UUID   { return t.s.IssuedBy }
func (t Token) Expired(now time.Time) bool {
	return t.Exists() && !time.Unix(t.s.ExpirationDate, 0).After(now)
}

// Evolve applies one event of this token and returns the new state. It is
// the replay path: the event was decided already, so it is applied as it is.
func Evolve(t Token, e Event) Token {
	s := t.s
	if e.Type == TokenIssued {
		s = TokenSnapshot{
			ID:           e.TokenID,
			AccountID:    e.AccountID,
			Status:       StatusActive,
			SecretSha256: e.Data.SecretSha256,
			SecretHint:   e.Data.SecretHint,
			CreatedAt:    e.At,
			IssuedBy:     e.CommandID,
		}
	}
	c := e.Data.Changes
	if c.Name != nil {
		s.Name = deref(c.Name.To)
	}
	if c.Note != nil {
		s.Note = deref(c.Note.To)
	}
	if c.ExpirationDate != nil {
		s.ExpirationDate = deref(c.ExpirationDate.To)
	}
	if c.Status != nil {
		s.Status = deref(c.Status.To)
	}
	if c.ModelID != nil {
		s.ModelID = deref(c.ModelID.To)
	}
	if e.Type == TokenDeleted {
		s.Deleted = true
	}
	s.UpdatedAt = e.At
	s.Version++
	return Token{s: s}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// ModelSet answers whether a model id names a model of the token's account.
// Account implements it.
type ModelSet interface {
	HasModel(modelID string) bool
}

// Rules is what Decide needs besides the state and the command: the clock,
// the maximum lifetime of a token and the account's models.
type Rules struct {
	Now         time.Time
	MaxLifetime time.Duration // zero means DefaultMaxLifetime
	Models      ModelSet      // nil means the account has no models
}

func (r Rules) maxLifetime() time.Duration {
	if r.MaxLifetime <= 0 {
		return DefaultMaxLifetime
	}
	return r.MaxLifetime
}

func (r Rules) hasModel(id string) bool { return r.Models != nil && r.Models.HasModel(id) }

// Decide decides a token command against the token's state: it returns the
// events the command emits (at most one; none for a change to the current
// values) or an *Error with the API code of the refusal. Every input is
// validated before anything is emitted.
func Decide(t Token, c Command, r Rules) ([]Event, error) {
	if c.TokenID == "" {
		return nil, fmt.Errorf("decide %s: command has no token id", c.Type())
	}
	if b, ok := c.Body.(IssueToken); ok {
		return decideIssue(t, c, b, r)
	}
	if t.Exists() && t.s.ID != c.TokenID {
		return nil, fmt.Errorf("decide %s: state of token %s given for token %s", c.Type(), t.s.ID, c.TokenID)
	}
	// A token of another account is not found, exactly as a missing one
	// (API.md): the caller's account is the command's.
	if !t.Live() || t.s.AccountID != c.AccountID {
		return nil, &Error{Code: CodeNotFound, Message: "token " + c.TokenID + " not found"}
	}
	if c.ExpectedVersion != nil && *c.ExpectedVersion != t.s.Version {
		return nil, &Error{Code: CodeVersionConflict, Message: fmt.Sprintf("the token is at version %d, not %d", t.s.Version, *c.ExpectedVersion)}
	}
	if _, ok := c.Body.(DeleteToken); ok {
		return []Event{newEvent(c, TokenDeleted, r.Now, EventData{})}, nil
	}
	p, err := toPatch(c.Body)
	if err != nil {
		return nil, err
	}
	changes, err := t.diff(p, r)
	if err != nil || changes.Count() == 0 {
		return nil, err
	}
	return []Event{newEvent(c, eventTypeOf(changes), r.Now, EventData{Changes: changes})}, nil
}

// patch is a validated change request: nil fields are left alone. For model,
// a non-nil pointer to "" means unassign.
type patch struct {
	name   *Name
	note   *Note
	exp    *int64
	status *Status
	model  *string
}

// toPatch validates a command's inputs (those that need no state) and turns
// every token-changing command into one patch, so that the rules are
// written once.
func toPatch(body CommandBody) (patch, error) {
	var p patch
	switch b := body.(type) {
	case RenameToken:
		n, err := ParseName("name", b.Name)
		if err != nil {
			return p, err
		}
		p.name = &n
	case ChangeNote:
		n, err := ParseNote(b.Note)
		if err != nil {
			return p, err
		}
		p.note = &n
	case ChangeExpiration:
		p.exp = ptr(b.ExpirationDate)
	case SuspendToken:
		p.status = ptr(StatusSuspended)
	case ReactivateToken:
		p.status = ptr(StatusActive)
	case CancelToken:
		p.status = ptr(StatusCanceled)
	case AssignModel:
		if b.ModelID == "" {
			return p, Invalid("modelId", "must name a model of the account")
		}
		p.model = ptr(b.ModelID)
	case UnassignModel:
		p.model = ptr("")
	case UpdateToken:
		if b.Name.Set {
			n, err := ParseName("name", b.Name.Value)
			if err != nil {
				return p, err
			}
			p.name = &n
		}
		if b.Note.Set {
			n, err := ParseNote(b.Note.Value)
			if err != nil {
				return p, err
			}
			p.note = &n
		}
		if b.ExpirationDate.Set {
			p.exp = ptr(b.ExpirationDate.Value)
		}
		if b.Status.Set {
			s, err := ParseStatus(b.Status.Value)
			if err != nil {
				return p, err
			}
			p.status = &s
		}
		if b.ModelID.Set {
			m := ""
			if b.ModelID.Value != nil {
				if *b.ModelID.Value == "" {
					return p, Invalid("modelId", "must name a model of the account, or be null to unassign")
				}
				m = *b.ModelID.Value
			}
			p.model = &m
		}
	default:
		return p, fmt.Errorf("decide: %T is not a token command", body)
	}
	return p, nil
}

// diff validates the patch against the state and the clock and returns what
// it changes. A field set to its current value is no change and is not
// checked against the clock or the model catalogue again.
func (t Token) diff(p patch, r Rules) (Changes, error) {
	var c Changes
	s := t.s
	if p.name != nil && p.name.String() != s.Name {
		c.Name = change(ptr(s.Name), ptr(p.name.String()))
	}
	if p.note != nil && p.note.String() != s.Note {
		c.Note = change(optional(s.Note), optional(p.note.String()))
	}
	if p.exp != nil && *p.exp != s.ExpirationDate {
		c.ExpirationDate = change(ptr(s.ExpirationDate), p.exp)
	}
	if p.model != nil && *p.model != s.ModelID {
		c.ModelID = change(optional(s.ModelID), optional(*p.model))
	}
	if p.status != nil && *p.status != s.Status {
		c.Status = change(ptr(s.Status), p.status)
	}
	if c.Count() == 0 {
		return c, nil
	}
	// A canceled token refuses every change as such (API.md), before the
	// clock or the model catalogue is asked whether the change is valid.
	if s.Status == StatusCanceled {
		return Changes{}, &Error{Code: CodeTokenCanceled, Message: "token " + s.ID + " is canceled: it can no longer change, only be deleted"}
	}
	if c.ExpirationDate != nil {
		if err := ValidateExpiration(*p.exp, r.Now, r.maxLifetime()); err != nil {
			return Changes{}, err
		}
	}
	if c.ModelID != nil && *p.model != "" && !r.hasModel(*p.model) {
		return Changes{}, Invalid("modelId", "no model %q in this account", *p.model)
	}
	if c.Status != nil && !s.Status.canMove(*c.Status.To) {
		return Changes{}, Invalid("status", "cannot move from %s to %s", s.Status, *c.Status.To)
	}
	if c.ModelID != nil && s.ModelID != "" && c.ModelID.To != nil {
		return Changes{}, &Error{Code: CodeAlreadyAssigned, Field: "modelId", Message: "token " + s.ID + " is already assigned to model " + s.ModelID + ": unassign it first"}
	}
	return c, nil
}

// optional maps "" (no value) to nil.
func optional(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// eventTypeOf names the event for a set of changes: the field's own event
// when one field changed, TokenUpdated when several did.
func eventTypeOf(c Changes) EventType {
	if c.Count() > 1 {
		return TokenUpdated
	}
	switch {
	case c.Name != nil:
		return TokenRenamed
	case c.Note != nil:
		return TokenNoteChanged
	case c.ExpirationDate != nil:
		return TokenExpirationChanged
	case c.ModelID != nil && c.ModelID.To != nil:
		return ModelAssigned
	case c.ModelID != nil:
		return ModelUnassigned
	case *c.Status.To == StatusSuspended:
		return TokenSuspended
	case *c.Status.To == StatusActive:
		return TokenReactivated
	default:
		return TokenCanceled
	}
}

func decideIssue(t Token, c Command, b IssueToken, r Rules) ([]Event, error) {
	if t.Exists() {
		if t.s.IssuedBy == c.ID {
			return nil, nil // the same command again: it already happened
		}
		return nil, &Error{Code: CodeVersionConflict, Message: "token " + c.TokenID + " already exists"}
	}
	name, err := ParseName("name", b.Name)
	if err != nil {
		return nil, err
	}
	note, err := ParseNote(b.Note)
	if err != nil {
		return nil, err
	}
	if err := ValidateExpiration(b.ExpirationDate, r.Now, r.maxLifetime()); err != nil {
		return nil, err
	}
	if b.ModelID != "" && !r.hasModel(b.ModelID) {
		return nil, Invalid("modelId", "no model %q in this account", b.ModelID)
	}
	if b.SecretSha256 == "" || b.SecretHint == "" {
		return nil, fmt.Errorf("decide IssueToken: no secret hash")
	}
	changes := Changes{
		Name:           change(nil, ptr(name.String())),
		ExpirationDate: change(nil, ptr(b.ExpirationDate)),
		Status:         change(nil, ptr(StatusActive)),
	}
	if note.IsSet() {
		changes.Note = change(nil, ptr(note.String()))
	}
	if b.ModelID != "" {
		changes.ModelID = change(nil, ptr(b.ModelID))
	}
	return []Event{newEvent(c, TokenIssued, r.Now, EventData{
		Changes:      changes,
		SecretSha256: b.SecretSha256,
		SecretHint:   b.SecretHint,
	})}, nil
}
