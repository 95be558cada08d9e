package httpapi

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
)

// Page sizes (API.md "List query").
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// sortOrders are the accepted values of the list's sort parameter.
var sortOrders = map[string]bool{
	"createdAt": true, "-createdAt": true,
	"name": true, "-name": true,
	"expirationDate": true, "-expirationDate": true,
}

// listParams is a parsed GET /v1/tokens query.
type listParams struct {
	Statuses      []domain.Status
	ModelID       string
	Assigned      *bool
	Q             string
	ExpiresBefore *int64
	ExpiresAfter  *int64
	Sort          string
	Limit         int
	Cursor        string
}

// auditParams is a parsed audit query (GET /v1/audit, or with only limit and
// cursor GET /v1/tokens/{id}/audit).
type auditParams struct {
	Since, Until *int64
	Type         domain.EventType
	Limit        int
	Cursor       string
}

// query is a parsed query string that remembers which parameters were read,
// so that the leftovers can be refused by name: a misspelt filter silently
// ignored would list everything.
type query struct {
	v    url.Values
	seen map[string]bool
}

func parseQuery(raw string) (*query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, domain.Invalid("query", "malformed query string")
	}
	return &query{v: v, seen: map[string]bool{}}, nil
}

// one returns the single value of name; ok is false when it is absent. A
// parameter given twice is refused.
func (q *query) one(name string) (string, bool, error) {
	q.seen[name] = true
	vs := q.v[name]
	switch len(vs) {
	case 0:
		return "", false, nil
	case 1:
		if !utf8.ValidString(vs[0]) {
			return "", false, domain.Invalid(name, "must be valid UTF-8")
		}
		return vs[0], true, nil
	}
	return "", false, domain.Invalid(name, "given more than once")
}

// all returns every value of a repeatable parameter.
func (q *query) all(name string) ([]string, error) {
	q.seen[name] = true
	for _, s := range q.v[name] {
		if !utf8.ValidString(s) {
			return nil, domain.Invalid(name, "must be valid UTF-8")
		}
	}
	return q.v[name], nil
}

// unix reads a Unix-seconds parameter: ASCII digits only.
func (q *query) unix(name string) (*int64, error) {
	s, ok, err := q.one(name)
	if err != nil || !ok {
		return nil, err
	}
	n, err := wire.ParseDigits(s)
	if err != nil {
		return nil, domain.Invalid(name, "must be a whole, non-negative number of Unix seconds")
	}
	return &n, nil
}

// limit reads the page size: 1 to 1000, default 50.
func (q *query) limit() (int, error) {
	s, ok, err := q.one("limit")
	if err != nil || !ok {
		return defaultLimit, err
	}
	n, err := wire.ParseDigits(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, domain.Invalid("limit", "must be a whole number from 1 to %d", maxLimit)
	}
	return int(n), nil
}

// cursor reads the opaque cursor; an empty one is the first page.
func (q *query) cursor() (string, error) {
	s, _, err := q.one("cursor")
	return s, err
}

// done refuses the parameters nobody asked for.
func (q *query) done() error {
	var unknown []string
	for k := range q.v {
		if !q.seen[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	// The smallest name, so that the answer does not depend on map order.
	first := unknown[0]
	for _, k := range unknown[1:] {
		if k < first {
			first = k
		}
	}
	return domain.Invalid(wire.FieldLabel(first), "unknown query parameter")
}

// parseListQuery parses GET /v1/tokens's query (API.md "List query").
func parseListQuery(raw string) (listParams, error) {
	var p listParams
	q, err := parseQuery(raw)
	if err != nil {
		return p, err
	}
	statuses, err := q.all("status")
	if err != nil {
		return p, err
	}
	for _, s := range statuses {
		st, err := domain.ParseStatus(s)
		if err != nil {
			return p, domain.Invalid("status", "must be one of ACTIVE, SUSPENDED, CANCELED (any case), got %s", wire.QuoteShort(s))
		}
		p.Statuses = append(p.Statuses, st)
	}
	if s, ok, err := q.one("modelId"); err != nil {
		return p, err
	} else if ok {
		if s == "" {
			return p, domain.Invalid("modelId", "must not be empty")
		}
		p.ModelID = s
	}
	if s, ok, err := q.one("assigned"); err != nil {
		return p, err
	} else if ok {
		switch s {
		case "true":
			p.Assigned = new(true)
		case "false":
			p.Assigned = new(false)
		default:
			return p, domain.Invalid("assigned", "must be true or false")
		}
	}
	if p.Q, _, err = q.one("q"); err != nil {
		return p, err
	}
	if p.ExpiresBefore, err = q.unix("expiresBefore"); err != nil {
		return p, err
	}
	if p.ExpiresAfter, err = q.unix("expiresAfter"); err != nil {
		return p, err
	}
	if s, ok, err := q.one("sort"); err != nil {
		return p, err
	} else if ok {
		if !sortOrders[s] {
			return p, domain.Invalid("sort", "must be one of createdAt, -createdAt, name, -name, expirationDate, -expirationDate")
		}
		p.Sort = s
	} else {
		p.Sort = "-createdAt"
	}
	if p.Limit, err = q.limit(); err != nil {
		return p, err
	}
	if p.Cursor, err = q.cursor(); err != nil {
		return p, err
	}
	return p, q.done()
}

// parseAuditQuery parses an audit query. A token's trail takes only limit
// and cursor (API.md); the account's also since, until and type.
func parseAuditQuery(raw string, account bool) (auditParams, error) {
	var p auditParams
	q, err := parseQuery(raw)
	if err != nil {
		return p, err
	}
	if account {
		if p.Since, err = q.unix("since"); err != nil {
			return p, err
		}
		if p.Until, err = q.unix("until"); err != nil {
			return p, err
		}
		if p.Since != nil && p.Until != nil && *p.Until < *p.Since {
			return p, domain.Invalid("until", "must not be before since")
		}
		if s, ok, err := q.one("type"); err != nil {
			return p, err
		} else if ok {
			t, found := eventType(s)
			if !found {
				return p, domain.Invalid("type", "must be an event type such as TokenIssued, got %s", wire.QuoteShort(s))
			}
			p.Type = t
		}
	}
	if p.Limit, err = q.limit(); err != nil {
		return p, err
	}
	if p.Cursor, err = q.cursor(); err != nil {
		return p, err
	}
	return p, q.done()
}

// eventType finds the event type named s, in any case.
func eventType(s string) (domain.EventType, bool) {
	for _, t := range domain.AllEventTypes {
		if strings.EqualFold(string(t), s) {
			return t, true
		}
	}
	return "", false
}
