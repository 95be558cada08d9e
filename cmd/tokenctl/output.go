package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/tokend/tokend/sdk"
)

// emitJSON writes v as indented JSON, the -o json output.
func emitJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns. Cells are cleaned: a note may hold tabs,
// newlines or terminal escape sequences, which would break the alignment or
// drive the terminal.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = clean(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// clean makes s safe to print: every rune that is not printable becomes a Go
// escape (\n, \t, \x1b, \u202e), so that what is shown is what is stored.
func clean(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strings.Trim(fmt.Sprintf("%+q", string(r)), `"`)
		b.WriteString(q)
	}
	return b.String()
}

// orDash shows "-" for an empty value, so that a column never looks shifted.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// unixTime formats Unix seconds as RFC 3339 in UTC.
func unixTime(sec int64) string {
	if sec == 0 {
		return "-"
	}
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}

func statusText(t sdk.Token) string {
	if t.Expired {
		return string(t.Status) + " (expired)"
	}
	return string(t.Status)
}

func modelText(name, id string) string {
	switch {
	case id == "":
		return "-"
	case name == "":
		return id
	default:
		return name + " (" + id + ")"
	}
}

func printTokens(w io.Writer, toks []sdk.Token) error {
	t := newTable(w, "ID", "NAME", "STATUS", "EXPIRES", "MODEL", "HINT", "VERSION")
	for _, tok := range toks {
		t.row(tok.ID, tok.Name, statusText(tok), unixTime(tok.ExpirationDate), orDash(tok.ModelName), tok.SecretHint, fmt.Sprint(tok.Version))
	}
	return t.flush()
}

func printToken(w io.Writer, tok sdk.Token) error {
	t := newTable(w)
	t.row("ID", tok.ID)
	t.row("Name", tok.Name)
	t.row("Note", orDash(tok.Note))
	t.row("Status", statusText(tok))
	t.row("Expires", unixTime(tok.ExpirationDate))
	t.row("Model", modelText(tok.ModelName, tok.ModelID))
	t.row("Secret hint", tok.SecretHint)
	t.row("Created", unixTime(tok.CreatedAt))
	t.row("Updated", unixTime(tok.UpdatedAt))
	t.row("Version", fmt.Sprint(tok.Version))
	return t.flush()
}

func printAudit(w io.Writer, entries []sdk.AuditEntry) error {
	t := newTable(w, "SEQ", "AT", "TYPE", "TOKEN", "ACTOR", "CHANGES")
	for _, e := range entries {
		actor := e.Actor.Kind
		if e.Actor.ID != "" {
			actor += ":" + e.Actor.ID
		}
		t.row(fmt.Sprint(e.Sequence), e.At.UTC().Format(time.RFC3339), e.Type, orDash(e.TokenID), actor, orDash(changesText(e.Changes)))
	}
	return t.flush()
}

// changesText shows changes as `field: from -> to`, fields in name order,
// values as the JSON the service sent (so null reads null and strings are
// quoted).
func changesText(changes map[string]sdk.Change) string {
	parts := make([]string, 0, len(changes))
	for _, f := range slices.Sorted(maps.Keys(changes)) {
		c := changes[f]
		parts = append(parts, fmt.Sprintf("%s: %s -> %s", f, rawText(c.From), rawText(c.To)))
	}
	return strings.Join(parts, "; ")
}

func rawText(m json.RawMessage) string {
	if len(m) == 0 {
		return "null"
	}
	return string(m)
}

func printModels(w io.Writer, models []sdk.Model) error {
	t := newTable(w, "ID", "NAME")
	for _, m := range models {
		t.row(m.ID, m.Name)
	}
	return t.flush()
}
