package wire

import (
	"maps"

	"github.com/tokend/tokend/domain"
)

// Why the fields of a TokenView cannot be written; refusing them by name
// tells a client that echoes a view back what to drop.
var tokenReadOnly = map[string]string{
	"id":         "is read-only",
	"expired":    "is read-only: it follows from expirationDate",
	"modelName":  "is read-only: set modelId",
	"secretHint": "is read-only",
	"secret":     "is read-only: the service draws the secret",
	"createdAt":  "is read-only",
	"updatedAt":  "is read-only",
	"version":    "is read-only: send it as If-Match",
}

// The body of each endpoint that takes one (API.md "HTTP API"), which is
// also the "data" of the NATS command of the same meaning.
var (
	// NameSpec is POST /v1/accounts and POST /v1/models.
	NameSpec = BodySpec{
		Fields:   map[string]FieldRule{"name": {Kind: KindName, Required: true}},
		ReadOnly: map[string]string{"id": "is read-only: the service assigns it"},
	}
	// IssueTokenSpec is POST /v1/tokens and IssueToken.
	IssueTokenSpec = BodySpec{
		Fields: map[string]FieldRule{
			"name":           {Kind: KindName, Required: true},
			"note":           {Kind: KindNote, Nullable: true},
			"expirationDate": {Kind: KindExpiration, Required: true},
			"modelId":        {Kind: KindModelID, Nullable: true},
		},
		ReadOnly: withReadOnly(tokenReadOnly, "status", "cannot be set when issuing: a new token is ACTIVE"),
	}
	// PatchTokenSpec is PATCH /v1/tokens/{id} and UpdateToken.
	PatchTokenSpec = BodySpec{
		Fields: map[string]FieldRule{
			"name":           {Kind: KindName},
			"note":           {Kind: KindNote, Nullable: true},
			"expirationDate": {Kind: KindExpiration},
			"status":         {Kind: KindStatus},
			"modelId":        {Kind: KindModelID, Nullable: true},
		},
		ReadOnly: tokenReadOnly,
	}
	// AssignModelSpec is PUT /v1/tokens/{id}/model and AssignModel.
	AssignModelSpec = BodySpec{
		Fields: map[string]FieldRule{"modelId": {Kind: KindModelID, Required: true}},
	}
	// IntrospectSpec is POST /v1/introspect, JSON form.
	IntrospectSpec = BodySpec{
		Fields: map[string]FieldRule{"token": {Kind: KindSecret, Required: true}},
	}
	// EmptySpec is every bodiless write (cancel, DELETE, POST /v1/licenses,
	// and the NATS commands without data): only {} passes.
	EmptySpec = BodySpec{}

	// The NATS commands that change one field, which HTTP does through PATCH:
	// the same field rules, the field required.
	renameTokenSpec = BodySpec{
		Fields:   map[string]FieldRule{"name": {Kind: KindName, Required: true}},
		ReadOnly: tokenReadOnly,
	}
	changeNoteSpec = BodySpec{
		Fields:   map[string]FieldRule{"note": {Kind: KindNote, Required: true, Nullable: true}},
		ReadOnly: tokenReadOnly,
	}
	changeExpirationSpec = BodySpec{
		Fields:   map[string]FieldRule{"expirationDate": {Kind: KindExpiration, Required: true}},
		ReadOnly: tokenReadOnly,
	}
)

func withReadOnly(base map[string]string, field, why string) map[string]string {
	m := maps.Clone(base)
	m[field] = why
	return m
}

// IssueTokenBody turns a decoded IssueTokenSpec body into the command body;
// the intake adds the secret's hash and hint. A null note or modelId is none.
func IssueTokenBody(d Body) domain.IssueToken {
	return domain.IssueToken{
		Name:           d.Get("name").Str,
		Note:           d.Get("note").Str,
		ExpirationDate: d.Get("expirationDate").Num,
		ModelID:        d.Get("modelId").Str,
	}
}

// PatchTokenBody turns a decoded PatchTokenSpec body into one UpdateToken,
// all or nothing. The domain names the event after what actually changed
// (the field's own event for one field, TokenUpdated for several), so a
// PATCH of one field emits the same event as the field's own command would.
func PatchTokenBody(d Body) domain.UpdateToken {
	var u domain.UpdateToken
	if f := d.Get("name"); f.Set {
		u.Name = domain.Some(f.Str)
	}
	if f := d.Get("note"); f.Set {
		u.Note = domain.Some(f.Str) // null decodes to "", which clears
	}
	if f := d.Get("expirationDate"); f.Set {
		u.ExpirationDate = domain.Some(f.Num)
	}
	if f := d.Get("status"); f.Set {
		u.Status = domain.Some(f.Str)
	}
	if f := d.Get("modelId"); f.Set {
		if f.Null {
			u.ModelID = domain.Some[*string](nil)
		} else {
			v := f.Str
			u.ModelID = domain.Some(&v)
		}
	}
	return u
}
