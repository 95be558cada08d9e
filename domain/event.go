package domain

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// EventType names an event; it is the CloudEvents ce-type and the body's "type".
type EventType string

// The event types of API.md. Token events live on
// tokens.events.<accountId>.<tokenId>, account events on
// tokens.events.<accountId>.account.
const (
	TokenIssued            EventType = "TokenIssued"
	TokenRenamed           EventType = "TokenRenamed"
	TokenNoteChanged       EventType = "TokenNoteChanged"
	TokenExpirationChanged EventType = "TokenExpirationChanged"
	TokenSuspended         EventType = "TokenSuspended"
	TokenReactivated       EventType = "TokenReactivated"
	TokenCanceled          EventType = "TokenCanceled"
	ModelAssigned          EventType = "ModelAssigned"
	ModelUnassigned        EventType = "ModelUnassigned"
	TokenUpdated           EventType = "TokenUpdated"
	TokenDeleted           EventType = "TokenDeleted"

	AccountCreated  EventType = "AccountCreated"
	LicenseIssued   EventType = "LicenseIssued"
	LicenseRevoked  EventType = "LicenseRevoked"
	ModelRegistered EventType = "ModelRegistered"
)

// AllEventTypes lists every event type, token events first.
var AllEventTypes = []EventType{
	TokenIssued, TokenRenamed, TokenNoteChanged, TokenExpirationChanged,
	TokenSuspended, TokenReactivated, TokenCanceled, ModelAssigned,
	ModelUnassigned, TokenUpdated, TokenDeleted,
	AccountCreated, LicenseIssued, LicenseRevoked, ModelRegistered,
}

// IsAccountEvent reports whether events of type t live on the account subject.
func (t EventType) IsAccountEvent() bool {
	switch t {
	case AccountCreated, LicenseIssued, LicenseRevoked, ModelRegistered:
		return true
	}
	return false
}

// SchemaVersion is the version of the event bodies this code writes.
const SchemaVersion = 1

// AccountSubject is the ce-subject (and last subject token) of account events.
const AccountSubject = "account"

// Actor says who caused an event: a license (Kind "license", ID its license
// id) or the service itself (Kind "system", no ID).
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
}

// Actor kinds.
const (
	ActorLicense = "license"
	ActorSystem  = "system"
)

// SystemActor is the actor of what the service does by itself.
var SystemActor = Actor{Kind: ActorSystem}

// Change is one field's move. A nil From means the field had no value; a nil
// To means it has none now.
type Change[T any] struct {
	From *T `json:"from"`
	To   *T `json:"to"`
}

func change[T any](from, to *T) *Change[T] { return &Change[T]{From: from, To: to} }

func ptr[T any](v T) *T { return &v }

// Changes holds, for each field an event changed, its from and to. Field
// order here is the order of the JSON encoding, so encodings are stable.
type Changes struct {
	Name           *Change[string] `json:"name,omitempty"`
	Note           *Change[string] `json:"note,omitempty"`
	ExpirationDate *Change[int64]  `json:"expirationDate,omitempty"`
	Status         *Change[Status] `json:"status,omitempty"`
	ModelID        *Change[string] `json:"modelId,omitempty"`
	// Account-level fields.
	LicenseID *Change[string] `json:"licenseId,omitempty"`
	ModelName *Change[string] `json:"modelName,omitempty"`
}

// Count returns how many fields changed.
func (c Changes) Count() int {
	n := 0
	for _, set := range []bool{c.Name != nil, c.Note != nil, c.ExpirationDate != nil, c.Status != nil, c.ModelID != nil, c.LicenseID != nil, c.ModelName != nil} {
		if set {
			n++
		}
	}
	return n
}

// EventData is an event's "data". Changes is always present; the other
// fields appear only on the events API.md names them for.
type EventData struct {
	Changes Changes `json:"changes"`
	// TokenIssued: the secret's SHA-256 (lower-case hex) and its first 8
	// characters, the hint views show.
	SecretSha256 string `json:"secretSha256,omitempty"`
	SecretHint   string `json:"secretHint,omitempty"`
	// AccountCreated, LicenseIssued, LicenseRevoked.
	LicenseID     string `json:"licenseId,omitempty"`
	LicenseSha256 string `json:"licenseSha256,omitempty"`
	// ModelRegistered.
	ModelID string `json:"modelId,omitempty"`
}

// Event is one fact, the body of one JetStream message (API.md "Events").
type Event struct {
	ID            uuid.UUID `json:"id"`
	Type          EventType `json:"type"`
	SchemaVersion int       `json:"schemaVersion"`
	AccountID     string    `json:"accountId"`
	TokenID       string    `json:"tokenId,omitempty"`
	CommandID     uuid.UUID `json:"commandId"`
	Actor         Actor     `json:"actor"`
	At            time.Time `json:"at"`
	Data          EventData `json:"data"`
}

// Subject returns the last token of the event's subject: its token id, or
// "account" for account events. It is also the CloudEvents ce-subject.
func (e Event) Subject() string {
	if e.Type.IsAccountEvent() {
		return AccountSubject
	}
	return e.TokenID
}

// EventID derives the id of the index-th event of a command (API.md): the
// UUIDv5 of the command id and the index in decimal, so a retried command
// carries the same ids and JetStream drops the duplicate append.
func EventID(commandID uuid.UUID, index int) uuid.UUID {
	return uuid.NewSHA1(commandID, []byte(strconv.Itoa(index)))
}

// newEvent builds the single event a command emits.
func newEvent(c Command, typ EventType, now time.Time, data EventData) Event {
	return Event{
		ID:            EventID(c.ID, 0),
		Type:          typ,
		SchemaVersion: SchemaVersion,
		AccountID:     c.AccountID,
		TokenID:       c.TokenID,
		CommandID:     c.ID,
		Actor:         c.Actor,
		At:            now.UTC(),
		Data:          data,
	}
}

// TimeFormat is how times are written on the wire (event "at", ce-time,
// audit entries): RFC 3339 in UTC with all nine digits of nanoseconds, so
// that every timestamp has the same width and sorts as text.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime writes t in TimeFormat, in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// eventJSON is Event's wire shape: the same fields, with "at" in TimeFormat.
type eventJSON struct {
	ID            uuid.UUID `json:"id"`
	Type          EventType `json:"type"`
	SchemaVersion int       `json:"schemaVersion"`
	AccountID     string    `json:"accountId"`
	TokenID       string    `json:"tokenId,omitempty"`
	CommandID     uuid.UUID `json:"commandId"`
	Actor         Actor     `json:"actor"`
	At            string    `json:"at"`
	Data          EventData `json:"data"`
}

// MarshalJSON encodes the event with "at" in TimeFormat (Go's default
// drops trailing zeros of the nanoseconds): json.Marshal's bytes for
// eventJSON, written without reflection (eventjson.go).
func (e Event) MarshalJSON() ([]byte, error) {
	return appendEvent(make([]byte, 0, 512), &e), nil
}

// UnmarshalJSON decodes an event; "at" may be any RFC 3339 time.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w eventJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	at, err := time.Parse(time.RFC3339Nano, w.At)
	if err != nil {
		return fmt.Errorf("event at: %w", err)
	}
	*e = Event{w.ID, w.Type, w.SchemaVersion, w.AccountID, w.TokenID, w.CommandID, w.Actor, at.UTC(), w.Data}
	return nil
}
