package sdk

import (
	"encoding/json"
	"time"
)

// Status is a token's status. The service accepts it in any case and
// "CANCELLED" for CANCELED; it always answers with one of the constants.
type Status string

// Token statuses (API.md "Domain").
const (
	StatusActive    Status = "ACTIVE"
	StatusSuspended Status = "SUSPENDED"
	StatusCanceled  Status = "CANCELED"
)

// Account is a provider: the owner of tokens, models and licenses.
type Account struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// CreatedAccount is the answer to CreateAccount: the account and its first
// license, which the service shows this once (License is "" when the call
// repeated an earlier one's IdempotencyKey).
type CreatedAccount struct {
	Account Account `json:"account"`
	License string  `json:"license"`
}

// License is one of the caller's account's licenses, as listed. The key
// itself is never listed.
type License struct {
	ID      string `json:"id"`
	Revoked bool   `json:"revoked"`
}

// IssuedLicense is the answer to IssueLicense: the new license's id and key,
// which the service shows this once (License is "" when the call repeated an
// earlier one's IdempotencyKey).
type IssuedLicense struct {
	ID      string `json:"id"`
	License string `json:"license"`
}

// Model is one of the provider's models, to which tokens are assigned.
type Model struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Token is the provider's view of a token (API.md TokenView). Note, ModelID
// and ModelName are "" when the wire says null: the API gives "" and null the
// same meaning. Times are Unix seconds, as on the wire.
type Token struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Note           string `json:"note"`
	ExpirationDate int64  `json:"expirationDate"`
	Status         Status `json:"status"`
	// Expired is true once ExpirationDate has passed; Status is unchanged.
	Expired    bool   `json:"expired"`
	ModelID    string `json:"modelId"`
	ModelName  string `json:"modelName"`
	SecretHint string `json:"secretHint"`
	CreatedAt  int64  `json:"createdAt"`
	UpdatedAt  int64  `json:"updatedAt"`
	// Version is the number of events of the token: the value IfMatch takes.
	Version int64 `json:"version"`
}

// tokenWire is Token as the service writes it, with null for no value.
type tokenWire struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Note           *string `json:"note"`
	ExpirationDate int64   `json:"expirationDate"`
	Status         Status  `json:"status"`
	Expired        bool    `json:"expired"`
	ModelID        *string `json:"modelId"`
	ModelName      *string `json:"modelName"`
	SecretHint     string  `json:"secretHint"`
	CreatedAt      int64   `json:"createdAt"`
	UpdatedAt      int64   `json:"updatedAt"`
	Version        int64   `json:"version"`
}

// MarshalJSON writes the token in the service's own form (null for no note
// or model), so that a Token re-encoded by a client reads like the API.
func (t Token) MarshalJSON() ([]byte, error) {
	return json.Marshal(tokenWire{
		ID: t.ID, Name: t.Name, Note: nullIfEmpty(t.Note), ExpirationDate: t.ExpirationDate,
		Status: t.Status, Expired: t.Expired, ModelID: nullIfEmpty(t.ModelID),
		ModelName: nullIfEmpty(t.ModelName), SecretHint: t.SecretHint,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Version: t.Version,
	})
}

// Expires returns ExpirationDate as a time.
func (t Token) Expires() time.Time { return time.Unix(t.ExpirationDate, 0) }

// CreatedToken is the answer to CreateToken. Secret is shown this once: the
// service keeps only its hash, so a lost secret means a new token. Secret is
// "" when the call repeated an earlier one's IdempotencyKey: the token
// exists, and only the first answer had its secret.
type CreatedToken struct {
	Token  Token  `json:"token"`
	Secret string `json:"secret"`
}

// Introspection is the answer to Introspect: what an end user's token says
// about itself (API.md EndUserView). When Active is false every other field
// is zero: the service tells nothing about a token that does not work.
type Introspection struct {
	Active         bool   `json:"active"`
	ID             string `json:"id"`
	Name           string `json:"name"`
	ExpirationDate int64  `json:"expirationDate"`
	Status         Status `json:"status"`
	Expired        bool   `json:"expired"`
	ModelID        string `json:"modelId"`
	ModelName      string `json:"modelName"`
	CreatedAt      int64  `json:"createdAt"`
	UpdatedAt      int64  `json:"updatedAt"`
}

// MarshalJSON writes the service's form: {"active":false} alone for an
// inactive token, every field (null for no model) for an active one.
func (in Introspection) MarshalJSON() ([]byte, error) {
	if !in.Active {
		return []byte(`{"active":false}`), nil
	}
	return json.Marshal(struct {
		Active         bool    `json:"active"`
		ID             string  `json:"id"`
		Name           string  `json:"name"`
		ExpirationDate int64   `json:"expirationDate"`
		Status         Status  `json:"status"`
		Expired        bool    `json:"expired"`
		ModelID        *string `json:"modelId"`
		ModelName      *string `json:"modelName"`
		CreatedAt      int64   `json:"createdAt"`
		UpdatedAt      int64   `json:"updatedAt"`
	}{in.Active, in.ID, in.Name, in.ExpirationDate, in.Status, in.Expired,
		nullIfEmpty(in.ModelID), nullIfEmpty(in.ModelName), in.CreatedAt, in.UpdatedAt})
}

// Actor is who caused an event: {"kind":"license","id":"<license id>"} for a
// call, {"kind":"system"} for what the service did by itself.
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
}

// Change is one field's change in an audit entry. From and To are the raw
// JSON values (a string, a number, or null when the field had or has no
// value), because the field decides their type; decode them with
// json.Unmarshal or print them as they are.
type Change struct {
	From json.RawMessage `json:"from"`
	To   json.RawMessage `json:"to"`
}

// AuditEntry is one event of an account's trail (API.md AuditEntry).
type AuditEntry struct {
	// Sequence is the event's stream sequence: it orders every event of the
	// service, and MinSequence takes it.
	Sequence uint64 `json:"sequence"`
	EventID  string `json:"eventId"`
	Type     string `json:"type"`
	// TokenID is "" for account-level events (accounts, licenses, models).
	TokenID   string            `json:"tokenId,omitempty"`
	At        time.Time         `json:"at"`
	Actor     Actor             `json:"actor"`
	CommandID string            `json:"commandId"`
	Changes   map[string]Change `json:"changes"`
}

// Page is one page of a token list. NextCursor is "" on the last page.
type Page struct {
	Tokens     []Token `json:"tokens"`
	NextCursor string  `json:"nextCursor"`
}

// AuditPage is one page of an audit trail, oldest first. NextCursor is "" on
// the last page.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"nextCursor"`
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// MarshalJSON writes the page in the service's form, with a null nextCursor
// on the last page.
func (p Page) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Tokens     []Token `json:"tokens"`
		NextCursor *string `json:"nextCursor"`
	}{nonNil(p.Tokens), nullIfEmpty(p.NextCursor)})
}

// MarshalJSON writes the page in the service's form, with a null nextCursor
// on the last page.
func (p AuditPage) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Entries    []AuditEntry `json:"entries"`
		NextCursor *string      `json:"nextCursor"`
	}{nonNil(p.Entries), nullIfEmpty(p.NextCursor)})
}

// nonNil makes an empty list marshal as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
