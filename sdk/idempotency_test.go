package sdk

import (
	"context"
	"net/http"
	"regexp"
	"testing"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Every write carries an Idempotency-Key, the same on each retry of one call
// and different between calls; reads carry none.
func TestWritesCarryOneIdempotencyKeyPerCall(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 || n == 3 {
			writeError(w, 503, CodeProjectionBehind, "behind")
			return
		}
		writeJSON(w, 200, tokenJSON("t1"))
	})
	c := f.client()
	ctx := context.Background()
	if _, err := c.CancelToken(ctx, "t1"); err != nil { // attempts 1 and 2
		t.Fatal(err)
	}
	if _, err := c.AssignModel(ctx, "t1", "m1"); err != nil { // attempts 3 and 4
		t.Fatal(err)
	}
	if _, err := c.GetToken(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	r := f.requests()
	k := func(i int) string { return r[i].Header.Get("Idempotency-Key") }
	if !uuidV4.MatchString(k(0)) || k(0) != k(1) {
		t.Errorf("cancel keys %q, %q: want one UUIDv4 on both attempts", k(0), k(1))
	}
	if !uuidV4.MatchString(k(2)) || k(2) != k(3) || k(2) == k(0) {
		t.Errorf("assign keys %q, %q (cancel's %q)", k(2), k(3), k(0))
	}
	if k(4) != "" {
		t.Errorf("a read sent Idempotency-Key %q", k(4))
	}

	const mine = "3b241101-e2bb-4255-8caf-4136c566a962"
	if _, err := c.CreateToken(ctx, CreateTokenRequest{Name: "x", ExpirationDate: 1}, IdempotencyKey(mine)); err != nil {
		t.Fatal(err)
	}
	if got := f.last(t).Header.Get("Idempotency-Key"); got != mine {
		t.Errorf("Idempotency-Key = %q, want the caller's", got)
	}
}

// A repeated creation answers 200 without the secret: the SDK passes that on
// as an empty Secret.
func TestRepeatedCreateHasNoSecret(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 200, map[string]any{"token": tokenJSON("t1")})
	})
	got, err := f.client().CreateToken(context.Background(), CreateTokenRequest{Name: "x", ExpirationDate: 1}, IdempotencyKey("3b241101-e2bb-4255-8caf-4136c566a962"))
	if err != nil || got.Secret != "" || got.Token.ID != "t1" {
		t.Errorf("CreateToken = %+v, %v", got, err)
	}
}
