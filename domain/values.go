package domain

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the token's fields (API.md "Domain").
const (
	MaxNameLength      = 200
	MaxNoteLength      = 2000
	DefaultMaxLifetime = 365 * 24 * time.Hour
)

// Name is a token's or model's name: trimmed, 1 to 200 code points, valid
// UTF-8, no control characters. The zero Name is invalid and only appears in
// the zero Token.
type Name struct{ v string }

// ParseName validates raw for the named field and returns it trimmed.
func ParseName(field, raw string) (Name, error) {
	if !utf8.ValidString(raw) {
		return Name{}, Invalid(field, "must be valid UTF-8")
	}
	// Trim white space as every language's trim does (spaces, tabs, line
	// breaks), but not U+0085 (NEL): API.md names it among the control
	// characters a name refuses, and JavaScript's trim keeps it too, so a
	// name that ends with it is refused rather than silently shortened.
	s := strings.TrimFunc(raw, func(r rune) bool { return unicode.IsSpace(r) && r != '\u0085' })
	if s == "" {
		return Name{}, Invalid(field, "must not be empty")
	}
	if n := utf8.RuneCountInString(s); n > MaxNameLength {
		return Name{}, Invalid(field, "must be at most %d characters, got %d", MaxNameLength, n)
	}
	for _, r := range s {
		if unicode.IsControl(r) { // Unicode category Cc: C0, DEL, C1 (U+0085 included)
			return Name{}, Invalid(field, "must not contain control characters (found U+%04X)", r)
		}
	}
	return Name{v: s}, nil
}

func (n Name) String() string { return n.v }

// Note is the provider's private note. The zero Note is "no note"; an empty
// string parses to it.
type Note struct{ v string }

// ParseNote validates raw: valid UTF-8 and at most 2,000 code points. "" is no note.
func ParseNote(raw string) (Note, error) {
	if !utf8.ValidString(raw) {
		return Note{}, Invalid("note", "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(raw); n > MaxNoteLength {
		return Note{}, Invalid("note", "must be at most %d characters, got %d", MaxNoteLength, n)
	}
	return Note{v: raw}, nil
}

func (n Note) String() string { return n.v }

// IsSet reports whether there is a note.
func (n Note) IsSet() bool { return n.v != "" }

// ValidateExpiration checks an expiration date in Unix seconds against the
// clock: strictly after now and at most maxLifetime after it.
//
// The comparisons are on whole seconds, so that no date overflows: a date d
// is after now exactly when d > now.Unix() (now.Unix() rounds down), and at
// most maxLifetime after it exactly when d <= now.Add(maxLifetime).Unix().
// (time.Unix(d, 0) wraps around for d near math.MaxInt64 and would call such
// a date "in the past".)
func ValidateExpiration(unix int64, now time.Time, maxLifetime time.Duration) error {
	if unix <= 0 || unix <= now.Unix() {
		return Invalid("expirationDate", "must be in the future (Unix seconds after %d)", now.Unix())
	}
	if limit := now.Add(maxLifetime).Unix(); unix > limit {
		return Invalid("expirationDate", "must be at most %s from now (at most %d)", lifetimeText(maxLifetime), limit)
	}
	return nil
}

func lifetimeText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		days := int64(d / (24 * time.Hour))
		if days == 1 {
			return "1 day"
		}
		return strconv.FormatInt(days, 10) + " days"
	}
	return d.String()
}

// Status is a token's lifecycle state.
type Status string

// The statuses. CANCELED is terminal.
const (
	StatusActive    Status = "ACTIVE"
	StatusSuspended Status = "SUSPENDED"
	StatusCanceled  Status = "CANCELED"
)

// ParseStatus accepts a status in any case, and CANCELLED for CANCELED.
// Case is folded in ASCII only: strings.ToUpper would also take "ſuspended"
// (U+017F) or "actıve" (U+0131) for a status.
func ParseStatus(raw string) (Status, error) {
	switch asciiUpper(raw) {
	case "ACTIVE":
		return StatusActive, nil
	case "SUSPENDED":
		return StatusSuspended, nil
	case "CANCELED", "CANCELLED":
		return StatusCanceled, nil
	}
	return "", Invalid("status", "must be one of ACTIVE, SUSPENDED, CANCELED")
}

// asciiUpper upper-cases the ASCII letters of s and leaves every other byte
// as it is.
func asciiUpper(s string) string {
	if len(s) > len("CANCELLED") {
		return s // no status is this long; spare the copy
	}
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// canMove reports whether the status may change from s to next (s != next).
func (s Status) canMove(next Status) bool {
	switch s {
	case StatusActive:
		return next == StatusSuspended || next == StatusCanceled
	case StatusSuspended:
		return next == StatusActive || next == StatusCanceled
	}
	return false
}
