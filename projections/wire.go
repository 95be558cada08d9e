package projections

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tokend/tokend/domain"
)

// wireEvent is an event body as API.md writes it.
type wireEvent struct {
	ID            uuid.UUID        `json:"id"`
	Type          domain.EventType `json:"type"`
	SchemaVersion int              `json:"schemaVersion"`
	AccountID     string           `json:"accountId"`
	TokenID       string           `json:"tokenId"`
	CommandID     uuid.UUID        `json:"commandId"`
	Actor         domain.Actor     `json:"actor"`
	At            string           `json:"at"`
	Data          domain.EventData `json:"data"`
}

// unmarshalWire decodes an event body. Decoding was the largest part of a
// rebuild with encoding/json, so the bodies tokend writes take a fast path:
// a small jsonScanner for exactly this shape, that allocates only the strings
// it returns. Anything it is not sure to read as encoding/json would — an
// escape in a string, a number that is not a plain integer, a key that
// differs from a known one only in case, invalid UTF-8, trailing data — is
// handed to encoding/json, so both paths always agree (a test holds them to
// it).
func unmarshalWire(data []byte, w *wireEvent) error {
	var fw wireEvent
	s := jsonScanner{b: data}
	if s.event(&fw) && s.end() {
		*w = fw
		return nil
	}
	return json.Unmarshal(data, w)
}

// jsonScanner reads JSON from b at i. Every method returns false when the input
// is not something it handles; the caller then falls back.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jsonScanner) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

func (s *jsonScanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

func (s *jsonScanner) null() bool {
	if s.peek() == 'n' && bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// rawString returns the bytes of a string without escapes, valid UTF-8 and
// free of control characters.
func (s *jsonScanner) rawString() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(v) {
				return nil, false
			}
			return v, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
		s.i++
	}
	return nil, false
}

func (s *jsonScanner) str(dst *string) bool {
	if s.null() {
		return true // encoding/json leaves a string alone on null
	}
	v, ok := s.rawString()
	if ok {
		*dst = string(v)
	}
	return ok
}

func (s *jsonScanner) uuid(dst *uuid.UUID) bool {
	if s.null() {
		return true
	}
	v, ok := s.rawString()
	if !ok {
		return false
	}
	u, err := uuid.ParseBytes(v)
	if err != nil {
		return false
	}
	*dst = u
	return true
}

func (s *jsonScanner) int64(dst *int64) bool {
	s.ws()
	start, neg := s.i, false
	if s.i < len(s.b) && s.b[s.i] == '-' {
		neg = true
		s.i++
	}
	var v uint64
	digits := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		if digits == 18 {
			return false // may overflow: let encoding/json judge
		}
		v = v*10 + uint64(s.b[s.i]-'0')
		s.i++
		digits++
	}
	if digits == 0 || (digits > 1 && s.b[start+boolInt(neg)] == '0') {
		return false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return false
		}
	}
	if neg {
		*dst = -int64(v)
	} else {
		*dst = int64(v)
	}
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// object calls field for each key of an object (null is an empty one, as
// for encoding/json into a struct); field reports whether it read the value.
func (s *jsonScanner) object(field func(key []byte) bool) bool {
	if s.null() {
		return true
	}
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		key, ok := s.rawString()
		if !ok || !s.eat(':') || !field(key) {
			return false
		}
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// unknown skips the value of a key no field matched, unless the key
// matches one case-insensitively (encoding/json would take it).
func (s *jsonScanner) unknown(key []byte, known ...string) bool {
	for _, k := range known {
		if strings.EqualFold(string(key), k) {
			return false
		}
	}
	return s.skip(0)
}

// skip skips any JSON value.
func (s *jsonScanner) skip(depth int) bool {
	if depth > 32 {
		return false
	}
	switch c := s.peek(); {
	case c == '"':
		_, ok := s.rawString()
		return ok
	case c == '{':
		return s.object(func([]byte) bool { return s.skip(depth + 1) })
	case c == '[':
		s.i++
		if s.eat(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.eat(']') {
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	case c == 'n':
		return s.null()
	case c == 't' && bytes.HasPrefix(s.b[s.i:], []byte("true")):
		s.i += 4
		return true
	case c == 'f' && bytes.HasPrefix(s.b[s.i:], []byte("false")):
		s.i += 5
		return true
	default:
		var v int64
		return s.int64(&v)
	}
}

var eventKeys = []string{"id", "type", "schemaVersion", "accountId", "tokenId", "commandId", "actor", "at", "data"}

func (s *jsonScanner) event(w *wireEvent) bool {
	if s.peek() != '{' {
		return false // a top-level null is not an event
	}
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "id":
			return s.uuid(&w.ID)
		case "type":
			return s.str((*string)(&w.Type))
		case "schemaVersion":
			var v int64
			if s.null() {
				return true
			}
			if !s.int64(&v) || v != int64(int(v)) {
				return false
			}
			w.SchemaVersion = int(v)
			return true
		case "accountId":
			return s.str(&w.AccountID)
		case "tokenId":
			return s.str(&w.TokenID)
		case "commandId":
			return s.uuid(&w.CommandID)
		case "actor":
			return s.object(func(k []byte) bool {
				switch string(k) {
				case "kind":
					return s.str(&w.Actor.Kind)
				case "id":
					return s.str(&w.Actor.ID)
				}
				return s.unknown(k, "kind", "id")
			})
		case "at":
			return s.str(&w.At)
		case "data":
			return s.data(&w.Data)
		}
		return s.unknown(k, eventKeys...)
	})
}

var dataKeys = []string{"changes", "secretSha256", "secretHint", "licenseId", "licenseSha256", "modelId"}

var changeKeys = []string{"name", "note", "expirationDate", "status", "modelId", "licenseId", "modelName"}

func (s *jsonScanner) data(d *domain.EventData) bool {
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "changes":
			return s.object(func(k []byte) bool {
				c := &d.Changes
				switch string(k) {
				case "name":
					return s.strChange(&c.Name)
				case "note":
					return s.strChange(&c.Note)
				case "expirationDate":
					return s.intChange(&c.ExpirationDate)
				case "status":
					return s.statusChange(&c.Status)
				case "modelId":
					return s.strChange(&c.ModelID)
				case "licenseId":
					return s.strChange(&c.LicenseID)
				case "modelName":
					return s.strChange(&c.ModelName)
				}
				return s.unknown(k, changeKeys...)
			})
		case "secretSha256":
			return s.str(&d.SecretSha256)
		case "secretHint":
			return s.str(&d.SecretHint)
		case "licenseId":
			return s.str(&d.LicenseID)
		case "licenseSha256":
			return s.str(&d.LicenseSha256)
		case "modelId":
			return s.str(&d.ModelID)
		}
		return s.unknown(k, dataKeys...)
	})
}

// change reads {"from": …, "to": …} into a Change, nil for null, as
// encoding/json does for a pointer field.
func change[T any](s *jsonScanner, dst **domain.Change[T], val func(*T) bool) bool {
	if s.null() {
		*dst = nil
		return true
	}
	if *dst == nil {
		*dst = &domain.Change[T]{}
	}
	c := *dst
	side := func(p **T) bool {
		if s.null() {
			*p = nil
			return true
		}
		if *p == nil {
			*p = new(T)
		}
		return val(*p)
	}
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "from":
			return side(&c.From)
		case "to":
			return side(&c.To)
		}
		return s.unknown(k, "from", "to")
	})
}

func (s *jsonScanner) strChange(dst **domain.Change[string]) bool {
	return change(s, dst, func(p *string) bool {
		v, ok := s.rawString()
		if ok {
			*p = string(v)
		}
		return ok
	})
}

func (s *jsonScanner) intChange(dst **domain.Change[int64]) bool {
	return change(s, dst, s.int64)
}

func (s *jsonScanner) statusChange(dst **domain.Change[domain.Status]) bool {
	return change(s, dst, func(p *domain.Status) bool {
		v, ok := s.rawString()
		if ok {
			*p = statusBytes(v)
		}
		return ok
	})
}

// statusBytes is status for bytes: known statuses cost no allocation.
func statusBytes(b []byte) domain.Status {
	switch string(b) {
	case string(domain.StatusActive):
		return domain.StatusActive
	case string(domain.StatusSuspended):
		return domain.StatusSuspended
	case string(domain.StatusCanceled):
		return domain.StatusCanceled
	}
	return domain.Status(b)
}
