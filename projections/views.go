package projections

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/tokend/tokend/domain"
)

// TokenView is a token as its provider sees it (API.md "TokenView"). Note,
// ModelID and ModelName are null when unset. Expired is computed from the
// clock when the view is made, never stored.
type TokenView struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	Note           *string       `json:"note"`
	ExpirationDate int64         `json:"expirationDate"`
	Status         domain.Status `json:"status"`
	Expired        bool          `json:"expired"`
	ModelID        *string       `json:"modelId"`
	ModelName      *string       `json:"modelName"`
	SecretHint     string        `json:"secretHint"`
	CreatedAt      int64         `json:"createdAt"`
	UpdatedAt      int64         `json:"updatedAt"`
	Version        int64         `json:"version"`
}

// EndUserView is a token as its end user sees it: the TokenView without
// note, version and secret hint.
type EndUserView struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	ExpirationDate int64         `json:"expirationDate"`
	Status         domain.Status `json:"status"`
	Expired        bool          `json:"expired"`
	ModelID        *string       `json:"modelId"`
	ModelName      *string       `json:"modelName"`
	CreatedAt      int64         `json:"createdAt"`
	UpdatedAt      int64         `json:"updatedAt"`
}

// NewTokenView renders a token's state as its provider's view. modelName is
// the name of the token's model ("" when unassigned); now decides Expired.
// The HTTP layer uses it to answer a command with the state the command
// produced, before the read model has caught up.
func NewTokenView(t domain.Token, modelName string, now time.Time) TokenView {
	s := t.Snapshot()
	return viewOf(&tokenRecord{TokenSnapshot: s, ModelName: modelName}, now)
}

func viewOf(r *tokenRecord, now time.Time) TokenView {
	v := TokenView{
		ID:             r.ID,
		Name:           r.Name,
		ExpirationDate: r.ExpirationDate,
		Status:         r.Status,
		Expired:        expired(r.ExpirationDate, now),
		SecretHint:     r.SecretHint,
		CreatedAt:      r.CreatedAt.Unix(),
		UpdatedAt:      r.UpdatedAt.Unix(),
		Version:        r.Version,
	}
	if r.Note != "" {
		n := r.Note
		v.Note = &n
	}
	if r.ModelID != "" {
		id, name := r.ModelID, r.ModelName
		v.ModelID, v.ModelName = &id, &name
	}
	return v
}

// expired is the rule of API.md: a token whose expirationDate is not after
// now is expired (the same rule as domain.Token.Expired).
func expired(expirationDate int64, now time.Time) bool {
	return !time.Unix(expirationDate, 0).After(now)
}

// Introspection is the answer to POST /v1/introspect. When Active is false
// it encodes as {"active":false} and nothing else, whatever View holds;
// when true, as {"active":true} followed by the EndUserView's fields.
// AccountID is the token's account, for the caller's own use (a model
// lookup with a token secret); it is never encoded.
type Introspection struct {
	Active    bool
	View      *EndUserView
	AccountID string
}

var inactiveJSON = []byte(`{"active":false}`)

// MarshalJSON implements json.Marshaler.
func (in Introspection) MarshalJSON() ([]byte, error) {
	if !in.Active || in.View == nil {
		return append([]byte(nil), inactiveJSON...), nil
	}
	body, err := json.Marshal(in.View)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(body) + 16)
	b.WriteString(`{"active":true`)
	if len(body) > 2 {
		b.WriteByte(',')
		b.Write(body[1:])
	} else {
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}

// Model is one of an account's models.
type Model struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AccountView is an account as GET /v1/account shows it.
type AccountView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// LicenseRecord says which account a license hash belongs to, its license
// id and whether it was revoked.
type LicenseRecord struct {
	AccountID string
	LicenseID string
	Revoked   bool
}

// Outcome is what a command did, recorded from its event's commandId so a
// retried command can answer with its first outcome. Version is the
// token's version after the event (the account's, for account events).
type Outcome struct {
	CommandID uuid.UUID
	AccountID string
	TokenID   string
	EventType domain.EventType
	Sequence  uint64
	Version   int64
}

// AuditEntry is one event of an audit trail (API.md "AuditEntry"). TokenID
// is empty, and omitted, for account-level events; At is RFC 3339 in UTC
// with all nine digits of nanoseconds (domain.TimeFormat).
type AuditEntry struct {
	Sequence  uint64           `json:"sequence"`
	EventID   uuid.UUID        `json:"eventId"`
	Type      domain.EventType `json:"type"`
	TokenID   string           `json:"tokenId,omitempty"`
	At        string           `json:"at"`
	Actor     domain.Actor     `json:"actor"`
	CommandID uuid.UUID        `json:"commandId"`
	Changes   domain.Changes   `json:"changes"`
}
