package projections

import (
	"bytes"
	"encoding/base64"
	"math"
	"strings"
	"unicode/utf8"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tokend/tokend/domain"
)

// ListQuery is GET /v1/tokens's query (API.md "List query"). The zero
// ListQuery lists every live token, newest first, 50 a page.
type ListQuery struct {
	// Statuses keeps tokens in any of these statuses (none: all).
	Statuses []domain.Status
	// ModelID keeps tokens assigned to this model.
	ModelID string
	// Assigned, when set, keeps assigned (true) or unassigned (false) tokens.
	Assigned *bool
	// Q keeps tokens whose lower-cased name contains the lower-cased Q.
	Q string
	// ExpiresBefore and ExpiresAfter keep tokens whose expirationDate is
	// strictly before / strictly after them (Unix s).
	ExpiresBefore, ExpiresAfter *int64
	// Sort is createdAt, -createdAt, name, -name, expirationDate or
	// -expirationDate; "" is -createdAt. Ties break by id, in the same
	// direction.
	Sort string
	// Limit is the page size, 1 to 1000; 0 is 50.
	Limit int
	// Cursor is the previous page's NextCursor ("" for the first page).
	Cursor string
}

// TokenPage is one page of a list. NextCursor is nil on the last page; it
// may, rarely, lead to an empty page when a filter that is not served by an
// index removes every remaining token.
type TokenPage struct {
	Tokens     []TokenView `json:"tokens"`
	NextCursor *string     `json:"nextCursor"`
}

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

type sortOrder struct {
	name string
	key  byte
	desc bool
}

var sortOrders = []sortOrder{
	{"createdAt", sortCreated, false}, {"-createdAt", sortCreated, true},
	{"name", sortName, false}, {"-name", sortName, true},
	{"expirationDate", sortExpiration, false}, {"-expirationDate", sortExpiration, true},
}

// listPlan is a validated query: the index prefixes to merge, the bounds
// on the sort-key suffix and the filters to check on each token.
type listPlan struct {
	q        ListQuery
	order    int // index into sortOrders
	statuses [3]bool
	anyStat  bool
	qLower   string
	prefixes [][]byte
	lower    []byte // inclusive, nil: none
	upper    []byte // exclusive, nil: none
	limit    int
	empty    bool
}

// planList validates q and picks the indexes that serve it. Which family
// is scanned, in order of preference:
//
//   - modelId: the model's family (only its tokens are read);
//   - status: the families of the wanted statuses, merged in sort order;
//   - assigned: the assigned or the unassigned family;
//   - nothing: the assigned and unassigned families, merged.
//
// Each family is kept in all three sort orders, so a filter that is the
// family is served in sort order and a page reads O(page) keys. Other
// filters (q, and a second family filter) are checked on the token's record.
// expiresBefore/After bound the scan when the sort is by expirationDate and
// are checked on the record otherwise.
func planList(acct string, q ListQuery) (*listPlan, error) {
	p := &listPlan{q: q, order: -1}
	sortName := q.Sort
	if sortName == "" {
		sortName = "-createdAt"
	}
	for i, o := range sortOrders {
		if o.name == sortName {
			p.order = i
		}
	}
	if p.order < 0 {
		return nil, domain.Invalid("sort", "must be one of createdAt, -createdAt, name, -name, expirationDate, -expirationDate")
	}
	switch {
	case q.Limit == 0:
		p.limit = DefaultLimit
	case q.Limit < 1 || q.Limit > MaxLimit:
		return nil, domain.Invalid("limit", "must be between 1 and %d", MaxLimit)
	default:
		p.limit = q.Limit
	}
	for _, st := range q.Statuses {
		parsed, err := domain.ParseStatus(string(st))
		if err != nil {
			return nil, err
		}
		switch parsed {
		case domain.StatusActive:
			p.statuses[0] = true
		case domain.StatusSuspended:
			p.statuses[1] = true
		case domain.StatusCanceled:
			p.statuses[2] = true
		}
		p.anyStat = true
	}
	if q.ModelID != "" && !validID(q.ModelID) {
		return nil, domain.Invalid("modelId", "must not contain NUL characters")
	}
	if !utf8.ValidString(q.Q) {
		return nil, domain.Invalid("q", "must be valid UTF-8")
	}
	p.qLower = strings.ToLower(q.Q)
	if q.ExpiresBefore != nil && *q.ExpiresBefore < 0 {
		return nil, domain.Invalid("expiresBefore", "must be a non-negative Unix time in seconds")
	}
	if q.ExpiresAfter != nil && *q.ExpiresAfter < 0 {
		return nil, domain.Invalid("expiresAfter", "must be a non-negative Unix time in seconds")
	}
	order := sortOrders[p.order]
	if q.Cursor != "" {
		suffix, err := decodeListCursor(q.Cursor, byte(p.order))
		if err != nil {
			return nil, err
		}
		if order.desc {
			p.upper = suffix
		} else {
			p.lower = append(suffix, 0) // the smallest suffix after it
		}
	}
	if order.key == sortExpiration {
		if a := q.ExpiresAfter; a != nil {
			if *a == math.MaxInt64 {
				p.empty = true
			} else if lo := appendInt64(nil, *a+1); p.lower == nil || bytes.Compare(lo, p.lower) > 0 {
				p.lower = lo
			}
		}
		if b := q.ExpiresBefore; b != nil {
			if hi := appendInt64(nil, *b); p.upper == nil || bytes.Compare(hi, p.upper) < 0 {
				p.upper = hi
			}
		}
	}
	if !validID(acct) || (q.Assigned != nil && !*q.Assigned && q.ModelID != "") {
		p.empty = true
	}
	switch {
	case q.ModelID != "":
		p.prefixes = [][]byte{familyPrefix(acct, famModel, q.ModelID, order.key)}
	case p.anyStat:
		for i, st := range []domain.Status{domain.StatusActive, domain.StatusSuspended, domain.StatusCanceled} {
			if p.statuses[i] {
				p.prefixes = append(p.prefixes, familyPrefix(acct, famStatus, string(statusByte(st)), order.key))
			}
		}
	case q.Assigned != nil:
		arg := "0"
		if *q.Assigned {
			arg = "1"
		}
		p.prefixes = [][]byte{familyPrefix(acct, famAssigned, arg, order.key)}
	default:
		p.prefixes = [][]byte{
			familyPrefix(acct, famAssigned, "0", order.key),
			familyPrefix(acct, famAssigned, "1", order.key),
		}
	}
	return p, nil
}

// matches checks every filter on a token's record.
func (p *listPlan) matches(r *tokenRecord) bool {
	if r.Deleted {
		return false
	}
	if p.anyStat {
		switch r.Status {
		case domain.StatusActive:
			if !p.statuses[0] {
				return false
			}
		case domain.StatusSuspended:
			if !p.statuses[1] {
				return false
			}
		case domain.StatusCanceled:
			if !p.statuses[2] {
				return false
			}
		default:
			return false
		}
	}
	if p.q.ModelID != "" && r.ModelID != p.q.ModelID {
		return false
	}
	if a := p.q.Assigned; a != nil && *a != (r.ModelID != "") {
		return false
	}
	if b := p.q.ExpiresBefore; b != nil && r.ExpirationDate >= *b {
		return false
	}
	if a := p.q.ExpiresAfter; a != nil && r.ExpirationDate <= *a {
		return false
	}
	if p.qLower != "" && !strings.Contains(strings.ToLower(r.Name), p.qLower) {
		return false
	}
	return true
}

// Cursors: base64url of a format byte, the sort order, and the last token's
// index suffix (sort key and id). Paging resumes strictly after that
// position in a fixed key order, so a token that stays put throughout is
// met exactly once, whatever else changes between pages.
const cursorV1 = 1

func encodeListCursor(order byte, suffix []byte) string {
	b := make([]byte, 0, 2+len(suffix))
	b = append(append(b, cursorV1, order), suffix...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeListCursor(c string, order byte) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 3 || b[0] != cursorV1 {
		return nil, domain.Invalid("cursor", "is not a cursor this service issued")
	}
	if b[1] != order {
		return nil, domain.Invalid("cursor", "was issued for another sort order")
	}
	return b[2:], nil
}

// scanner walks one index family in sort order within the plan's bounds.
type scanner struct {
	it     *badger.Iterator
	prefix []byte
	suffix []byte // current suffix, nil when exhausted
}

func (sc *scanner) load(p *listPlan, desc bool, reads *int) {
	sc.suffix = nil
	for ; sc.it.ValidForPrefix(sc.prefix); sc.it.Next() {
		*reads++
		suffix := sc.it.Item().Key()[len(sc.prefix):]
		if desc {
			if p.upper != nil && bytes.Compare(suffix, p.upper) >= 0 {
				continue // the exclusive upper bound itself
			}
			if p.lower != nil && bytes.Compare(suffix, p.lower) < 0 {
				return
			}
		} else if p.upper != nil && bytes.Compare(suffix, p.upper) >= 0 {
			return
		}
		sc.suffix = append([]byte(nil), suffix...)
		return
	}
}

// ListTokens returns one page of an account's live tokens (API.md "List
// query"). Invalid query values and cursors are invalid_argument errors
// that name the parameter. The page is read from one snapshot of the read
// model.
func (s *Store) ListTokens(accountID string, q ListQuery) (TokenPage, error) {
	p, err := planList(accountID, q)
	if err != nil {
		return TokenPage{}, err
	}
	page := TokenPage{Tokens: []TokenView{}}
	if p.empty {
		return page, nil
	}
	order := sortOrders[p.order]
	now := s.now()
	reads := 0
	err = s.view(func(txn *badger.Txn) error {
		scans := make([]*scanner, len(p.prefixes))
		for i, prefix := range p.prefixes {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: order.desc})
			defer it.Close()
			sc := &scanner{it: it, prefix: prefix}
			switch {
			case order.desc && p.upper != nil:
				it.Seek(append(append([]byte(nil), prefix...), p.upper...))
			case order.desc:
				it.Seek(append(append([]byte(nil), prefix...), 0xff, 0xff))
			case p.lower != nil:
				it.Seek(append(append([]byte(nil), prefix...), p.lower...))
			default:
				it.Seek(prefix)
			}
			sc.load(p, order.desc, &reads)
			scans[i] = sc
		}
		// The page ends at the first match past limit, so that nextCursor is
		// null exactly when nothing further matches, also when a filter is
		// checked on each token rather than served by the index scanned.
		var last []byte
		for {
			var best *scanner
			for _, sc := range scans {
				if sc.suffix == nil {
					continue
				}
				if best == nil {
					best = sc
					continue
				}
				c := bytes.Compare(sc.suffix, best.suffix)
				if (!order.desc && c < 0) || (order.desc && c > 0) {
					best = sc
				}
			}
			if best == nil {
				return nil
			}
			suffix := best.suffix
			best.it.Next()
			best.load(p, order.desc, &reads)
			id := suffixTokenID(order.key, suffix)
			var rec tokenRecord
			reads++
			found, err := s.getValue(txn, tokenKey(accountID, id), func(v []byte) error {
				var err error
				rec, err = decodeToken(v)
				return err
			})
			if err != nil {
				return err
			}
			if !found || !p.matches(&rec) {
				continue
			}
			if len(page.Tokens) == p.limit {
				c := encodeListCursor(byte(p.order), last)
				page.NextCursor = &c
				return nil
			}
			page.Tokens = append(page.Tokens, viewOf(&rec, now))
			last = suffix
		}
	})
	s.keysRead.Add(uint64(reads))
	if err != nil {
		return TokenPage{}, err
	}
	return page, nil
}
