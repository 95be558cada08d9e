package projections

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tokend/tokend/domain"
)

// AuditQuery selects audit entries. The zero AuditQuery is the first 50
// entries, oldest first.
type AuditQuery struct {
	// Since and Until keep entries whose time (Unix s) is within them,
	// both inclusive.
	Since, Until *int64
	// Type keeps entries of one event type ("" all).
	Type domain.EventType
	// Limit is the page size, 1 to 1000; 0 is 50.
	Limit int
	// Cursor is the previous page's NextCursor.
	Cursor string
}

// AuditPage is one page of an audit trail, oldest first. NextCursor is nil
// on the last page.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor *string      `json:"nextCursor"`
}

type auditPlan struct {
	q          AuditQuery
	limit      int
	after      uint64 // resume after this sequence
	sinceNanos int64
	untilNanos int64 // exclusive
}

func planAudit(q AuditQuery) (*auditPlan, error) {
	p := &auditPlan{q: q, sinceNanos: math.MinInt64, untilNanos: math.MaxInt64}
	switch {
	case q.Limit == 0:
		p.limit = DefaultLimit
	case q.Limit < 1 || q.Limit > MaxLimit:
		return nil, domain.Invalid("limit", "must be between 1 and %d", MaxLimit)
	default:
		p.limit = q.Limit
	}
	// Times beyond year 2262 cannot be held in Unix nanoseconds; no event
	// is that late, so such bounds clamp.
	const maxSeconds = int64(math.MaxInt64/1_000_000_000 - 1)
	if q.Since != nil {
		if *q.Since < 0 {
			return nil, domain.Invalid("since", "must be a non-negative Unix time in seconds")
		}
		p.sinceNanos = min(*q.Since, maxSeconds) * 1e9
	}
	if q.Until != nil {
		if *q.Until < 0 {
			return nil, domain.Invalid("until", "must be a non-negative Unix time in seconds")
		}
		if *q.Until < maxSeconds {
			p.untilNanos = (*q.Until + 1) * 1e9
		}
	}
	if q.Type != "" && !knownType(q.Type) {
		return nil, domain.Invalid("type", "must be an event type, such as TokenIssued or TokenRenamed")
	}
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(b) != 9 || b[0] != cursorV1 {
			return nil, domain.Invalid("cursor", "is not a cursor this service issued")
		}
		p.after = binary.BigEndian.Uint64(b[1:])
	}
	return p, nil
}

func (p *auditPlan) keep(v []byte) bool {
	at, typ, ok := auditHead(v)
	if !ok {
		return false
	}
	if at < p.sinceNanos || at >= p.untilNanos {
		return false
	}
	return p.q.Type == "" || string(p.q.Type) == typ
}

func auditCursor(seq uint64) string {
	b := binary.BigEndian.AppendUint64([]byte{cursorV1}, seq)
	return base64.RawURLEncoding.EncodeToString(b)
}

// addEntry adds the audit entry (seq, v) to page if the query keeps it. A
// kept entry past the page's limit is not added: it ends the page with a
// cursor (full), so that nextCursor is null exactly when nothing further
// matches, also when type, since or until skip entries.
func addEntry(page *AuditPage, p *auditPlan, seq uint64, v []byte) (full bool, err error) {
	if !p.keep(v) {
		return false, nil
	}
	if len(page.Entries) == p.limit {
		c := auditCursor(page.Entries[len(page.Entries)-1].Sequence)
		page.NextCursor = &c
		return true, nil
	}
	e, err := decodeAudit(seq, v)
	if err == nil {
		page.Entries = append(page.Entries, e)
	}
	return false, err
}

// AccountAudit returns a page of an account's whole trail, its tokens'
// events and its account-level events, oldest first (by stream sequence).
// since/until and type are checked on each entry. An unknown account has
// an empty trail.
func (s *Store) AccountAudit(accountID string, q AuditQuery) (AuditPage, error) {
	p, err := planAudit(q)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Entries: []AuditEntry{}}
	if !validID(accountID) {
		return page, nil
	}
	prefix := accountAuditPrefix(accountID)
	reads := 0
	err = s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		for it.Seek(appendSeq(append([]byte(nil), prefix...), p.after+1)); it.ValidForPrefix(prefix); it.Next() {
			reads++
			item := it.Item()
			seq := seqOf(item.Key())
			full := false
			err := item.Value(func(v []byte) (err error) {
				full, err = addEntry(&page, p, seq, v)
				return err
			})
			if err != nil || full {
				return err
			}
		}
		return nil
	})
	s.keysRead.Add(uint64(reads))
	if err != nil {
		return AuditPage{}, fmt.Errorf("account audit: %w", err)
	}
	return page, nil
}

// TokenAudit returns a page of one token's trail, oldest first; deleted
// tokens keep theirs. A token that never existed in accountID (another
// account's included) is not_found.
func (s *Store) TokenAudit(accountID, tokenID string, q AuditQuery) (AuditPage, error) {
	p, err := planAudit(q)
	if err != nil {
		return AuditPage{}, err
	}
	if !validID(accountID) || !validID(tokenID) {
		return AuditPage{}, notFound("token %s not found", tokenID)
	}
	page := AuditPage{Entries: []AuditEntry{}}
	prefix := tokenAuditPrefix(accountID, tokenID)
	reads := 0
	found := false
	err = s.view(func(txn *badger.Txn) error {
		reads++
		if _, err := txn.Get(tokenKey(accountID, tokenID)); err == nil {
			found = true
		} else if err != badger.ErrKeyNotFound {
			return err
		} else {
			return nil
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		for it.Seek(appendSeq(append([]byte(nil), prefix...), p.after+1)); it.ValidForPrefix(prefix); it.Next() {
			reads += 2
			seq := seqOf(it.Item().Key())
			full := false
			_, err := s.getValue(txn, accountAuditKey(accountID, seq), func(v []byte) (err error) {
				full, err = addEntry(&page, p, seq, v)
				return err
			})
			if err != nil || full {
				return err
			}
		}
		return nil
	})
	s.keysRead.Add(uint64(reads))
	if err != nil {
		return AuditPage{}, fmt.Errorf("token audit: %w", err)
	}
	if !found {
		return AuditPage{}, notFound("token %s not found", tokenID)
	}
	return page, nil
}
