package projections

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/tokend/tokend/domain"
)

// FuzzCursor feeds any string as the cursor of a token list (in every sort
// order), of an account's audit trail and of a token's. A cursor is opaque
// input from the client: each query answers a page or invalid_argument,
// never another error or a panic; and what decodeListCursor accepts it
// reads back from its own encoding.
func FuzzCursor(f *testing.F) {
	now := baseTime.Add(time.Hour)
	s := openStore(f, f.TempDir(), now)
	w := newWorld(f, "acct", directSink(f, s))
	w.createAccount("acct")
	w.registerModel("m1", "model one")
	for i := range 5 {
		model := ""
		if i%2 == 0 {
			model = "m1"
		}
		w.issue(fmt.Sprintf("t%d", i), fmt.Sprintf("Token %d", 5-i), 10+i, model, "")
	}
	w.do("t1", domain.RenameToken{Name: "renamed"})

	// Seeds: the cursors the service itself issues, and a few near misses.
	for _, o := range sortOrders {
		page, err := s.ListTokens("acct", ListQuery{Sort: o.name, Limit: 2})
		if err != nil {
			f.Fatal(err)
		}
		if page.NextCursor != nil {
			f.Add(*page.NextCursor)
		}
	}
	if page, err := s.AccountAudit("acct", AuditQuery{Limit: 2}); err == nil && page.NextCursor != nil {
		f.Add(*page.NextCursor)
	}
	for _, c := range []string{"", "AQ", "AQE", "AQAAAAAAAAAAAQ", "AQAAAAAAAAAAAQ==", "!!!", "AQ\x00", "AP____________", "AQH_____________________________"} {
		f.Add(c)
	}

	f.Fuzz(func(t *testing.T, cursor string) {
		check := func(what string, err error) {
			t.Helper()
			if err != nil && !isCode(err, domain.CodeInvalidArgument) {
				t.Fatalf("%s with cursor %q: %v, want a page or invalid_argument", what, cursor, err)
			}
		}
		for _, o := range sortOrders {
			_, err := s.ListTokens("acct", ListQuery{Sort: o.name, Limit: 2, Cursor: cursor})
			check("list sorted by "+o.name, err)
		}
		assigned := true
		_, err := s.ListTokens("acct", ListQuery{Limit: 3, Cursor: cursor, Q: "token", Assigned: &assigned})
		check("filtered list", err)
		_, err = s.AccountAudit("acct", AuditQuery{Limit: 2, Cursor: cursor})
		check("account audit", err)
		_, err = s.TokenAudit("acct", "t1", AuditQuery{Limit: 1, Cursor: cursor})
		check("token audit", err)

		for i, o := range sortOrders {
			suffix, err := decodeListCursor(cursor, byte(i))
			if err != nil {
				continue
			}
			again, err := decodeListCursor(encodeListCursor(byte(i), suffix), byte(i))
			if err != nil || !bytes.Equal(again, suffix) {
				t.Fatalf("cursor %q (%s): suffix %x re-encoded reads back as %x, %v", cursor, o.name, suffix, again, err)
			}
		}
	})
}
