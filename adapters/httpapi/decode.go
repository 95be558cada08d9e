package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tokend/tokend/domain"
)

// MaxBodyBytes is the largest request body read (API.md: 65,536 bytes; a
// longer one answers 413).
const MaxBodyBytes = 65536

// bodyKind says how a request body was encoded.
type bodyKind uint8

const (
	bodyEmpty bodyKind = iota // no body at all
	bodyJSON
	bodyURLEncoded // application/x-www-form-urlencoded (introspection only)
)

// bodyNeed says what an endpoint expects of its request body.
type bodyNeed uint8

const (
	needJSON       bodyNeed = iota + 1 // a JSON object
	needJSONOrForm                     // a JSON object or form encoding (introspection)
	needNothing                        // nothing; an empty JSON object is tolerated
)

// readBody reads the request body after checking its media type and size.
// A JSON body needs Content-Type application/json (a charset parameter is
// accepted if it says UTF-8). The media type is checked before the size: a
// client sending the wrong type learns that first, whatever the length.
//
// For needNothing an empty body is fine whatever the headers say, so that
// bodiless writes (cancel, DELETE) work from clients that always send a
// Content-Type; a non-empty one must still be JSON (and the caller then
// decodes it against an empty spec, so only {} passes).
func readBody(w http.ResponseWriter, r *http.Request, need bodyNeed) ([]byte, bodyKind, error) {
	empty := r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	if need == needNothing && empty {
		return nil, bodyEmpty, nil
	}
	kind := mediaForm(r.Header.Get("Content-Type"), need == needJSONOrForm)
	if kind == bodyEmpty && need != needNothing {
		return nil, 0, unsupportedMedia(need)
	}
	if r.ContentLength > MaxBodyBytes {
		if kind == bodyEmpty {
			return nil, 0, unsupportedMedia(need)
		}
		return nil, 0, domain.ErrPayloadTooLarge
	}
	var body []byte
	if !empty {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if !errors.As(err, &tooBig) {
				return nil, 0, domain.Invalid("body", "could not be read")
			}
			if kind == bodyEmpty {
				return nil, 0, unsupportedMedia(need)
			}
			return nil, 0, domain.ErrPayloadTooLarge
		}
	}
	if need == needNothing {
		if len(body) == 0 {
			return nil, bodyEmpty, nil
		}
		if kind == bodyEmpty {
			return nil, 0, unsupportedMedia(need)
		}
	}
	return body, kind, nil
}

func unsupportedMedia(need bodyNeed) error {
	if need == needJSONOrForm {
		return &domain.Error{Code: domain.CodeUnsupportedMediaType, Message: "the request body must be application/json or application/x-www-form-urlencoded"}
	}
	return domain.ErrUnsupportedMediaType
}

// mediaForm classifies a Content-Type header: bodyJSON, bodyURLEncoded (when
// allowed) or bodyEmpty for anything else.
func mediaForm(contentType string, allowForm bool) bodyKind {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return bodyEmpty
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return bodyEmpty // the body is read as UTF-8; another charset would be misread
	}
	switch {
	case mt == "application/json":
		return bodyJSON
	case allowForm && mt == "application/x-www-form-urlencoded":
		return bodyURLEncoded
	}
	return bodyEmpty
}

// fieldKind is the type and rule of one body field.
type fieldKind uint8

const (
	kindName       fieldKind = iota + 1 // string, not null; domain.ParseName
	kindNote                            // string or null; domain.ParseNote
	kindExpiration                      // integer or string of digits, not null
	kindStatus                          // string, not null; domain.ParseStatus
	kindModelID                         // non-empty string, or null when nullable
	kindSecret                          // string, not null, not checked further
)

// fieldRule is what a body accepts for one field.
type fieldRule struct {
	kind     fieldKind
	required bool
	nullable bool
}

// bodySpec lists the fields a body accepts and, so that the refusal can say
// why, the fields it knows but refuses (read-only ones).
type bodySpec struct {
	fields   map[string]fieldRule
	readOnly map[string]string // field -> why it cannot be written
}

// field is one decoded body field. Set is false when the field was absent;
// Null is true for an explicit null.
type field struct {
	Set  bool
	Null bool
	Str  string
	Num  int64
}

// decodedBody holds the fields of a decoded body; absent fields are zero.
type decodedBody map[string]field

// get returns the field named name, zero when absent.
func (d decodedBody) get(name string) field { return d[name] }

// decodeBody decodes body, which must be exactly one JSON object, against
// spec. Every refusal is an invalid_argument whose message starts with the
// offending field, or with "body" when the body as a whole is wrong.
func decodeBody(body []byte, spec bodySpec) (decodedBody, error) {
	if !utf8.Valid(body) {
		// encoding/json would turn invalid bytes into U+FFFD silently.
		return nil, domain.Invalid("body", "must be valid UTF-8")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, domain.Invalid("body", "must be a JSON object, got an empty body")
	}
	if trimmed[0] != '{' {
		return nil, domain.Invalid("body", "must be a JSON object, got %s", jsonKindOf(trimmed[0]))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the '{'
		return nil, malformed(err)
	}
	out := make(decodedBody, len(spec.fields))
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
		rule, known := spec.fields[key]
		if !known {
			if why, ro := spec.readOnly[key]; ro {
				return nil, domain.Invalid(fieldLabel(key), "%s", why)
			}
			return nil, domain.Invalid(fieldLabel(key), "unknown field")
		}
		if _, dup := out[key]; dup {
			// Which of two values would count is a guess; refuse to guess.
			return nil, domain.Invalid(key, "given more than once")
		}
		f, err := decodeField(key, rule, raw)
		if err != nil {
			return nil, err
		}
		out[key] = f
	}
	if _, err := dec.Token(); err != nil { // the '}'
		return nil, malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, domain.Invalid("body", "must hold exactly one JSON object: trailing data after it")
	}
	for name, rule := range spec.fields {
		if rule.required && !out[name].Set {
			return nil, domain.Invalid(name, "required")
		}
	}
	return out, nil
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

// jsonKindOf names the JSON type a value starting with c has, for messages.
func jsonKindOf(c byte) string {
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

// fieldLabel returns a field name fit for a message: plain names as they are,
// anything else quoted and cut short, so that a hostile key cannot fill the
// answer or put control characters in it.
func fieldLabel(key string) string {
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
func decodeField(name string, rule fieldRule, raw json.RawMessage) (field, error) {
	if raw[0] == 'n' {
		if !rule.nullable {
			return field{}, domain.Invalid(name, "must not be null")
		}
		return field{Set: true, Null: true}, nil
	}
	switch rule.kind {
	case kindExpiration:
		n, err := parseExpiration(name, raw)
		if err != nil {
			return field{}, err
		}
		return field{Set: true, Num: n}, nil
	}
	if raw[0] != '"' {
		return field{}, domain.Invalid(name, "must be a string, got %s", jsonKindOf(raw[0]))
	}
	s, err := unquote(name, raw)
	if err != nil {
		return field{}, err
	}
	switch rule.kind {
	case kindName:
		if _, err := domain.ParseName(name, s); err != nil {
			return field{}, err
		}
	case kindNote:
		if _, err := domain.ParseNote(s); err != nil {
			return field{}, err
		}
	case kindStatus:
		st, err := domain.ParseStatus(s)
		if err != nil {
			return field{}, domain.Invalid(name, "must be one of ACTIVE, SUSPENDED, CANCELED (any case), got %s", quoteShort(s))
		}
		s = string(st)
	case kindModelID:
		if s == "" {
			if rule.nullable {
				return field{}, domain.Invalid(name, "must name a model of the account, or be null for none")
			}
			return field{}, domain.Invalid(name, "must name a model of the account")
		}
	}
	return field{Set: true, Str: s}, nil
}

// quoteShort quotes user input for a message, cut to 64 characters.
func quoteShort(s string) string {
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
		return 0, domain.Invalid(name, "must be an integer or a string of digits, got %s", jsonKindOf(c))
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, domain.Invalid(name, "must be a whole number of Unix seconds: only the digits 0-9")
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, domain.Invalid(name, "is out of range")
	}
	return n, nil
}
