package sdk

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestCommandOutcome(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		switch r.URL.Path {
		case "/v1/commands/c1":
			writeJSON(w, 200, map[string]any{"commandId": "c1", "status": "accepted", "tokenId": "t1", "version": 2, "sequence": 9})
		case "/v1/commands/c2":
			writeJSON(w, 200, map[string]any{"commandId": "c2", "status": "rejected", "tokenId": nil, "version": 0, "sequence": 0,
				"error": map[string]string{"code": "already_assigned", "message": "unassign first"}})
		default:
			writeError(w, 404, "not_found", "not found")
		}
	})
	c := f.client()
	o, err := c.CommandOutcome(context.Background(), "c1")
	if err != nil || o.Err() != nil || o.TokenID != "t1" || o.Version != 2 || o.Sequence != 9 {
		t.Fatalf("accepted: %+v, %v", o, err)
	}
	o, err = c.CommandOutcome(context.Background(), "c2")
	if err != nil || o.TokenID != "" || !errors.Is(o.Err(), ErrAlreadyAssigned) {
		t.Fatalf("rejected: %+v, %v, %v", o, err, o.Err())
	}
	if _, err := c.CommandOutcome(context.Background(), "c3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := c.CommandOutcome(context.Background(), " "); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty id: %v", err)
	}
}
