package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tokend/tokend/domain"
)

// MaxBodyBytes is the largest body a client may send (API.md: 65,536 bytes),
// an HTTP request body or a command published on NATS alike.
const MaxBodyBytes = 65536

// FieldKind is the type and rule of one body field.
type FieldKind uint8

// The kinds of field a body may hold.
const (
	KindName       FieldKind = iota + 1 // string, not null; domain.ParseName
	KindNote                            // string or null; domain.ParseNote
	KindExpiration                      // integer or string of digits, not null
	KindStatus                          // string, not null; domain.ParseStatus
	KindModelID                         // non-empty string, or null when nullable
	KindSecret                          // string, not null, not checked further
	KindString                          // any string; the caller checks it
	KindUUID                            // a UUID in its 36-character form, any case, not the nil UUID
	KindVersion                         // a non-negative JSON integer
	KindObject                          // a JSON object, kept raw for a second decoding
)

// FieldRule is what a body accepts for one field.
type FieldRule struct {
	Kind     FieldKind
	Required bool
	Nullable bool
}

// BodySpec lists the fields a body accepts and, so that the refusal can say
// why, the fields it knows but refuses (read-only ones).
type BodySpec struct {
	Fields   map[string]FieldRule
	ReadOnly map[string]string // field -> why it cannot be written
}

// Field is one decoded body field. Set is false when the field was absent;
// Null is true for an explicit null. Str holds strings (a status
// normalised to its constant, a UUID as sent), Num integers, Raw an object.
type Field struct {
	Set  bool
	Null bool
	Str  string
	Num  int64
	Raw  json.RawMessage
}

// Body holds the fields of a decoded body; absent fields are zero.
type Body map[string]Field

// Get returns the field named name, zero when absent.
func (d Body) Get(name string) Field { return d[name] }

// WellFormed reports whether body is one JSON object, syntactically: valid
// UTF-8, valid JSON, an object, nothing after it. Whether its fields are
// right is DecodeBody's business; the NATS intake uses WellFormed to tell a
// malformed message (dead-lettered) from an invalid command (refused).
func WellFormed(body []byte) bool {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{' && utf8.Valid(body) && json.Valid(body)
}

// DecodeBody decodes body, which must be exactly one JSON object, against
// spec. Every refusal is an invalid_argument whose message starts with the
// offending field, or with "body" when the body as a whole is wrong.
func DecodeBody(body []byte, spec BodySpec) (Body, error) {
	if !utf8.Valid(body) {
		// encoding/json would turn invalid bytes into U+FFFD silently.
		return nil, domain.Invalid("body", "must be valid UTF-8")
	}
	if json.Valid(body) {
		// Syntactically sound, as every body but a broken one is: its
		// fields are found by a plain scan (members), several times cheaper
		// than encoding/json's Decoder. A broken body takes the Decoder,
		// whose errors say where it breaks.
		return decodeWellFormed(body, spec)
	}
	if err := objectShape(body); err != nil {
		return nil, err
	}
	return decodeTokens(body, spec)
}

// decodeWellFormed is DecodeBody for a body already known to be valid UTF-8
// and valid JSON (the envelope of a WellFormed command, or a member of one).
func decodeWellFormed(body []byte, spec BodySpec) (Body, error) {
	if err := objectShape(body); err != nil {
		return nil, err
	}
	return decodeMembers(bytes.TrimLeft(body, " \t\r\n"), spec)
}

// objectShape refuses a body that cannot be a JSON object by its first byte.
func objectShape(body []byte) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return domain.Invalid("body", "must be a JSON object, got an empty body")
	}
	if trimmed[0] != '{' {
		return domain.Invalid("body", "must be a JSON object, got %s", JSONKindOf(trimmed[0]))
	}
	return nil
}

// decodeMembers is DecodeBody for a body known to be one valid JSON object
// (json.Valid), starting at its '{'.
func decodeMembers(obj []byte, spec BodySpec) (Body, error) {
	out := make(Body, len(spec.Fields))
	var m members
	m.rest = obj[1:]
	for {
		key, raw, ok := m.next()
		if !ok {
			break
		}
		if err := decodeMember(out, spec, key, raw); err != nil {
			return nil, err
		}
	}
	return checkRequired(out, spec)
}

// decodeTokens is DecodeBody with encoding/json's Decoder, for a body that
// may not be valid JSON.
func decodeTokens(body []byte, spec BodySpec) (Body, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the '{'
		return nil, malformed(err)
	}
	out := make(Body, len(spec.Fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		key, ok := tok.(string)
		if !ok { // cannot happen inside an object, but a panic would be worse
			return nil, domain.Invalid("body", "malformed JSON")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, malformed(err)
		}
		if err := decodeMember(out, spec, key, raw); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the '}'
		return nil, malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, domain.Invalid("body", "must hold exactly one JSON object: trailing data after it")
	}
	return checkRequired(out, spec)
}

// decodeMember checks one member of a body against spec and adds it to out.
func decodeMember(out Body, spec BodySpec, key string, raw json.RawMessage) error {
	rule, known := spec.Fields[key]
	if !known {
		if why, ro := spec.ReadOnly[key]; ro {
			return domain.Invalid(FieldLabel(key), "%s", why)
		}
		return domain.Invalid(FieldLabel(key), "unknown field")
	}
	if _, dup := out[key]; dup {
		// Which of two values would count is a guess; refuse to guess.
		return domain.Invalid(key, "given more than once")
	}
	f, err := decodeField(key, rule, raw)
	if err != nil {
		return err
	}
	out[key] = f
	return nil
}

// checkRequired refuses a body without one of spec's required fields. With
// several missing, it names the first in alphabetical order, so the same
// body always gets the same answer (not the map's order of the moment).
func checkRequired(out Body, spec BodySpec) (Body, error) {
	missing := ""
	for name, rule := range spec.Fields {
		if rule.Required && !out[name].Set && (missing == "" || name < missing) {
			missing = name
		}
	}
	if missing != "" {
		return nil, domain.Invalid(missing, "required")
	}
	return out, nil
}

// members walks the members of a JSON object that json.Valid accepted,
// from just after its '{': it finds where each key and value ends, and
// checks nothing, since the body is known to be well formed.
type members struct{ rest []byte }

// next returns the next member's key (unescaped) and raw value, or false at
// the object's end.
func (m *members) next() (key string, raw json.RawMessage, ok bool) {
	m.skipSpace()
	if len(m.rest) == 0 || m.rest[0] == '}' {
		return "", nil, false
	}
	if m.rest[0] == ',' {
		m.rest = m.rest[1:]
		m.skipSpace()
	}
	end := stringEnd(m.rest)
	quoted := m.rest[:end]
	if bytes.IndexByte(quoted, '\\') < 0 {
		key = string(quoted[1 : end-1])
	} else if err := json.Unmarshal(quoted, &key); err != nil {
		return "", nil, false // cannot happen after json.Valid
	}
	m.rest = m.rest[end:]
	m.skipSpace()
	m.rest = m.rest[1:] // the ':'
	m.skipSpace()
	end = valueEnd(m.rest)
	raw = json.RawMessage(m.rest[:end])
	m.rest = m.rest[end:]
	return key, raw, true
}

func (m *members) skipSpace() {
	for len(m.rest) > 0 && (m.rest[0] == ' ' || m.rest[0] == '\t' || m.rest[0] == '\n' || m.rest[0] == '\r') {
		m.rest = m.rest[1:]
	}
}

// stringEnd returns the length of the JSON string b starts with, quotes
// included.
func stringEnd(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped byte; \uXXXX's digits need no care
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// valueEnd returns the length of the JSON value b starts with.
func valueEnd(b []byte) int {
	switch b[0] {
	case '"':
		return stringEnd(b)
	case '{', '[':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '"':
				i += stringEnd(b[i:]) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	// A number or a literal: up to the next delimiter.
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return len(b)
}

func malformed(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return domain.Invalid("body", "malformed JSON at byte %d", se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return domain.Invalid("body", "malformed JSON: unexpected end")
	}
	return domain.Invalid("body", "malformed JSON")
}

// JSONKindOf names the JSON type a value starting with c has, for messages.
func JSONKindOf(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '[':
		return "an array"
	case c == 'n':
		return "null"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == '-' || ('0' <= c && c <= '9'):
		return "a number"
	case c == '{':
		return "an object"
	}
	return "something that is not JSON"
}

// FieldLabel returns a field name fit for a message: plain names as they are,
// anything else quoted and cut short, so that a hostile key cannot fill the
// answer or put control characters in it.
func FieldLabel(key string) string {
	plain := key != "" && len(key) <= 64
	for i := 0; plain && i < len(key); i++ {
		c := key[i]
		plain = c == '_' || c == '-' || c == '.' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	if plain {
		return key
	}
	if utf8.RuneCountInString(key) > 64 {
		r := []rune(key)
		key = string(r[:64]) + "…"
	}
	return strconv.QuoteToASCII(key)
}

// decodeField checks one field's raw JSON value against its rule.
func decodeField(name string, rule FieldRule, raw json.RawMessage) (Field, error) {
	if raw[0] == 'n' {
		if !rule.Nullable {
			return Field{}, domain.Invalid(name, "must not be null")
		}
		return Field{Set: true, Null: true}, nil
	}
	switch rule.Kind {
	case KindExpiration:
		n, err := parseExpiration(name, raw)
		if err != nil {
			return Field{}, err
		}
		return Field{Set: true, Num: n}, nil
	case KindVersion:
		n, err := parseVersion(name, raw)
		if err != nil {
			return Field{}, err
		}
		return Field{Set: true, Num: n}, nil
	case KindObject:
		if raw[0] != '{' {
			return Field{}, domain.Invalid(name, "must be a JSON object, got %s", JSONKindOf(raw[0]))
		}
		return Field{Set: true, Raw: raw}, nil
	}
	if raw[0] != '"' {
		return Field{}, domain.Invalid(name, "must be a string, got %s", JSONKindOf(raw[0]))
	}
	s, err := unquote(name, raw)
	if err != nil {
		return Field{}, err
	}
	switch rule.Kind {
	case KindName:
		if _, err := domain.ParseName(name, s); err != nil {
			return Field{}, err
		}
	case KindNote:
		if _, err := domain.ParseNote(s); err != nil {
			return Field{}, err
		}
	case KindStatus:
		st, err := domain.ParseStatus(s)
		if err != nil {
			return Field{}, domain.Invalid(name, "must be one of ACTIVE, SUSPENDED, CANCELED (any case), got %s", QuoteShort(s))
		}
		s = string(st)
	case KindModelID:
		if s == "" {
			if rule.Nullable {
				return Field{}, domain.Invalid(name, "must name a model of the account, or be null for none")
			}
			return Field{}, domain.Invalid(name, "must name a model of the account")
		}
	case KindUUID:
		id, err := uuid.Parse(s)
		if err != nil || len(s) != 36 {
			return Field{}, domain.Invalid(name, "must be a UUID such as 3b241101-e2bb-4255-8caf-4136c566a962")
		}
		if id == uuid.Nil {
			// The all-zero UUID is what a publisher that forgot to draw an
			// id sends: as a command id it would make unrelated commands
			// repeats of each other.
			return Field{}, domain.Invalid(name, "must not be the nil UUID 00000000-0000-0000-0000-000000000000")
		}
	}
	return Field{Set: true, Str: s}, nil
}

// QuoteShort quotes user input for a message, cut to 64 characters.
func QuoteShort(s string) string {
	if utf8.RuneCountInString(s) > 64 {
		s = string([]rune(s)[:64]) + "…"
	}
	return strconv.QuoteToASCII(s)
}

// unquote decodes a JSON string. It refuses escaped lone surrogates
// ("\ud800"), which encoding/json would silently turn into U+FFFD: the
// text would not be what the client sent, so it is not valid UTF-8 text.
func unquote(name string, raw json.RawMessage) (string, error) {
	if bytes.IndexByte(raw, '\\') >= 0 {
		if err := checkEscapes(raw); err != nil {
			return "", domain.Invalid(name, "must be valid UTF-8 (%v)", err)
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", domain.Invalid(name, "must be a string")
	}
	return s, nil
}

// checkEscapes walks the escapes of a JSON string literal (quotes included)
// and reports a \u escape of a surrogate that is not part of a pair.
func checkEscapes(raw []byte) error {
	for i := 1; i < len(raw)-1; i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if raw[i] != 'u' {
			continue
		}
		cp, ok := hex4(raw, i+1)
		if !ok {
			return errors.New("bad \\u escape")
		}
		i += 4
		switch {
		case 0xDC00 <= cp && cp <= 0xDFFF:
			return fmt.Errorf("lone surrogate \\u%04x", cp)
		case 0xD800 <= cp && cp <= 0xDBFF:
			if i+6 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return fmt.Errorf("lone surrogate \\u%04x", cp)
			}
			lo, ok := hex4(raw, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return fmt.Errorf("lone surrogate \\u%04x", cp)
			}
			i += 6
		}
	}
	return nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// parseExpiration reads an expirationDate: a JSON integer, or a JSON string
// of ASCII digits (BigInt-safe clients send those). Fractions, exponents,
// signs, and every other type are refused. Whether the date is in range is
// the domain's call, against its clock.
func parseExpiration(name string, raw json.RawMessage) (int64, error) {
	var digits string
	switch c := raw[0]; {
	case c == '"':
		s, err := unquote(name, raw)
		if err != nil {
			return 0, err
		}
		if s == "" || strings.HasPrefix(s, "-") {
			return 0, domain.Invalid(name, "must be a positive whole number of Unix seconds")
		}
		digits = s
	case c == '-':
		return 0, domain.Invalid(name, "must be a positive whole number of Unix seconds, not negative")
	case '0' <= c && c <= '9':
		if bytes.ContainsAny(raw, ".eE") {
			return 0, domain.Invalid(name, "must be a whole number of Unix seconds, without fraction or exponent")
		}
		digits = string(raw)
	default:
		return 0, domain.Invalid(name, "must be an integer or a string of digits, got %s", JSONKindOf(c))
	}
	n, err := ParseDigits(digits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, domain.Invalid(name, "is out of range")
		}
		return 0, domain.Invalid(name, "must be a whole number of Unix seconds: only the digits 0-9")
	}
	return n, nil
}

// parseVersion reads an expectedVersion: a JSON integer, zero or more.
func parseVersion(name string, raw json.RawMessage) (int64, error) {
	c := raw[0]
	if c < '0' || c > '9' || bytes.ContainsAny(raw, ".eE") {
		return 0, domain.Invalid(name, "must be a token version: a whole, non-negative number")
	}
	n, err := ParseDigits(string(raw))
	if err != nil {
		return 0, domain.Invalid(name, "is out of range")
	}
	return n, nil
}

// ParseDigits parses a non-empty string of ASCII digits that fits an int64;
// signs, spaces and every other character are refused. An overflow is an
// error wrapping strconv.ErrRange.
func ParseDigits(s string) (int64, error) {
	if s == "" {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
