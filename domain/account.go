package domain

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// DefaultAccountID is the id (and name) of the account the service creates
// on its first start.
const DefaultAccountID = "default"

// License is a management credential of an account. Only its hash is kept.
type License struct {
	ID      string `json:"id"`
	Sha256  string `json:"sha256"`
	Revoked bool   `json:"revoked,omitempty"`
}

// Account is the state of one account aggregate: its name, licenses and
// models, folded from the events on its account subject. The zero Account
// does not exist. An Account is a value: EvolveAccount copies what it changes.
type Account struct {
	id        string
	name      string
	createdBy uuid.UUID
	licenses  map[string]License
	models    map[string]string // model id -> name
	version   int64
}

func (a Account) ID() string     { return a.id }
func (a Account) Name() string   { return a.name }
func (a Account) Version() int64 { return a.version }

// Exists reports whether the account was created.
func (a Account) Exists() bool { return a.version > 0 }

// HasModel reports whether the account has the model: Account is the ModelSet
// that Decide checks assignments against.
func (a Account) HasModel(modelID string) bool {
	_, ok := a.models[modelID]
	return ok
}

// ModelName returns the name of one of the account's models.
func (a Account) ModelName(modelID string) (string, bool) {
	n, ok := a.models[modelID]
	return n, ok
}

// License returns one of the account's licenses.
func (a Account) License(id string) (License, bool) {
	l, ok := a.licenses[id]
	return l, ok
}

// EvolveAccount applies one account event and returns the new state.
func EvolveAccount(a Account, e Event) Account {
	switch e.Type {
	case AccountCreated:
		a = Account{id: e.AccountID, createdBy: e.CommandID}
		if c := e.Data.Changes.Name; c != nil {
			a.name = deref(c.To)
		}
		a.licenses = map[string]License{e.Data.LicenseID: {ID: e.Data.LicenseID, Sha256: e.Data.LicenseSha256}}
	case LicenseIssued:
		a.licenses = maps.Clone(a.licenses)
		if a.licenses == nil {
			a.licenses = map[string]License{}
		}
		a.licenses[e.Data.LicenseID] = License{ID: e.Data.LicenseID, Sha256: e.Data.LicenseSha256}
	case LicenseRevoked:
		a.licenses = maps.Clone(a.licenses)
		if a.licenses == nil {
			a.licenses = map[string]License{}
		}
		l := a.licenses[e.Data.LicenseID]
		l.ID = e.Data.LicenseID
		l.Revoked = true
		a.licenses[e.Data.LicenseID] = l
	case ModelRegistered:
		a.models = maps.Clone(a.models)
		if a.models == nil {
			a.models = map[string]string{}
		}
		var name string
		if c := e.Data.Changes.ModelName; c != nil {
			name = deref(c.To)
		}
		a.models[e.Data.ModelID] = name
	}
	a.version++
	return a
}

// DecideAccount decides an account command (CreateAccount, IssueLicense,
// RevokeLicense, RegisterModel) against the account's state. Repeating a
// command that already happened emits nothing.
func DecideAccount(a Account, c Command, now time.Time) ([]Event, error) {
	if c.TokenID != "" {
		return nil, fmt.Errorf("decide %s: an account command has no token id", c.Type())
	}
	if b, ok := c.Body.(CreateAccount); ok {
		if a.Exists() {
			if a.createdBy == c.ID {
				return nil, nil
			}
			return nil, &Error{Code: CodeVersionConflict, Message: "account " + c.AccountID + " already exists"}
		}
		name, err := ParseName("name", b.Name)
		if err != nil {
			return nil, err
		}
		if b.LicenseID == "" || b.LicenseSha256 == "" {
			return nil, fmt.Errorf("decide CreateAccount: no license")
		}
		return []Event{newEvent(c, AccountCreated, now, EventData{
			Changes: Changes{
				Name:      change(nil, ptr(name.String())),
				LicenseID: change(nil, ptr(b.LicenseID)),
			},
			LicenseID:     b.LicenseID,
			LicenseSha256: b.LicenseSha256,
		})}, nil
	}
	if !a.Exists() {
		return nil, &Error{Code: CodeNotFound, Message: "account " + c.AccountID + " not found"}
	}
	switch b := c.Body.(type) {
	case IssueLicense:
		if b.LicenseID == "" || b.LicenseSha256 == "" {
			return nil, fmt.Errorf("decide IssueLicense: no license")
		}
		if _, ok := a.licenses[b.LicenseID]; ok {
			return nil, nil
		}
		return []Event{newEvent(c, LicenseIssued, now, EventData{
			Changes:       Changes{LicenseID: change(nil, ptr(b.LicenseID))},
			LicenseID:     b.LicenseID,
			LicenseSha256: b.LicenseSha256,
		})}, nil
	case RevokeLicense:
		l, ok := a.licenses[b.LicenseID]
		if !ok {
			return nil, &Error{Code: CodeNotFound, Message: "license " + b.LicenseID + " not found"}
		}
		if l.Revoked {
			return nil, nil
		}
		return []Event{newEvent(c, LicenseRevoked, now, EventData{
			Changes:   Changes{LicenseID: change(ptr(b.LicenseID), nil)},
			LicenseID: b.LicenseID,
		})}, nil
	case RegisterModel:
		name, err := ParseName("name", b.Name)
		if err != nil {
			return nil, err
		}
		if b.ModelID == "" {
			return nil, fmt.Errorf("decide RegisterModel: no model id")
		}
		if _, ok := a.models[b.ModelID]; ok {
			return nil, nil
		}
		return []Event{newEvent(c, ModelRegistered, now, EventData{
			Changes: Changes{
				ModelID:   change(nil, ptr(b.ModelID)),
				ModelName: change(nil, ptr(name.String())),
			},
			ModelID: b.ModelID,
		})}, nil
	}
	return nil, fmt.Errorf("decide: %T is not an account command", c.Body)
}

// Licenses returns the account's licenses, revoked ones included, ordered by id.
func (a Account) Licenses() []License {
	out := make([]License, 0, len(a.licenses))
	for _, l := range a.licenses {
		out = append(out, l)
	}
	slices.SortFunc(out, func(x, y License) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// Models returns the account's models, ordered by id.
func (a Account) Models() []Model {
	out := make([]Model, 0, len(a.models))
	for id, name := range a.models {
		out = append(out, Model{ID: id, Name: name})
	}
	slices.SortFunc(out, func(x, y Model) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// Model is a model of an account: what tokens are assigned to.
type Model struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}
