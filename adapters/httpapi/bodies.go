package httpapi

import (
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

// The body of each endpoint that takes one (API.md "HTTP API").
var (
	// POST /v1/accounts and POST /v1/models.
	nameSpec = bodySpec{
		fields:   map[string]fieldRule{"name": {kind: kindName, required: true}},
		readOnly: map[string]string{"id": "is read-only: the service assigns it"},
	}
	// POST /v1/tokens.
	issueTokenSpec = bodySpec{
		fields: map[string]fieldRule{
			"name":           {kind: kindName, required: true},
			"note":           {kind: kindNote, nullable: true},
			"expirationDate": {kind: kindExpiration, required: true},
			"modelId":        {kind: kindModelID, nullable: true},
		},
		readOnly: withReadOnly(tokenReadOnly, "status", "cannot be set when issuing: a new token is ACTIVE"),
	}
	// PATCH /v1/tokens/{id}.
	patchTokenSpec = bodySpec{
		fields: map[string]fieldRule{
			"name":           {kind: kindName},
			"note":           {kind: kindNote, nullable: true},
			"expirationDate": {kind: kindExpiration},
			"status":         {kind: kindStatus},
			"modelId":        {kind: kindModelID, nullable: true},
		},
		readOnly: tokenReadOnly,
	}
	// PUT /v1/tokens/{id}/model.
	assignModelSpec = bodySpec{
		fields: map[string]fieldRule{"modelId": {kind: kindModelID, required: true}},
	}
	// POST /v1/introspect, JSON form.
	introspectSpec = bodySpec{
		fields: map[string]fieldRule{"token": {kind: kindSecret, required: true}},
	}
	// Bodiless writes (cancel, DELETE, POST /v1/licenses): only {} passes.
	emptySpec = bodySpec{}
)

func withReadOnly(base map[string]string, field, why string) map[string]string {
	m := make(map[string]string, len(base)+1)
	for k, v := range base {
		m[k] = v
	}
	m[field] = why
	return m
}

// issueTokenBody turns a decoded POST /v1/tokens body into the command body
// (the secret is added by the handler). A null note or modelId is none.
func issueTokenBody(d decodedBody) domain.IssueToken {
	return domain.IssueToken{
		Name:           d.get("name").Str,
		Note:           d.get("note").Str,
		ExpirationDate: d.get("expirationDate").Num,
		ModelID:        d.get("modelId").Str,
	}
}

// patchTokenBody turns a decoded PATCH body into one UpdateToken, all or
// nothing. The domain names the event after what actually changed (the
// field's own event for one field, TokenUpdated for several), so a PATCH of
// one field emits the same event as the field's own command would.
func patchTokenBody(d decodedBody) domain.UpdateToken {
	var u domain.UpdateToken
	if f := d.get("name"); f.Set {
		u.Name = domain.Some(f.Str)
	}
	if f := d.get("note"); f.Set {
		u.Note = domain.Some(f.Str) // null decodes to "", which clears
	}
	if f := d.get("expirationDate"); f.Set {
		u.ExpirationDate = domain.Some(f.Num)
	}
	if f := d.get("status"); f.Set {
		u.Status = domain.Some(f.Str)
	}
	if f := d.get("modelId"); f.Set {
		if f.Null {
			u.ModelID = domain.Some[*string](nil)
		} else {
			v := f.Str
			u.ModelID = domain.Some(&v)
		}
	}
	return u
}
