package httpapi

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/domain"
)

// fakeOutcomes remembers outcomes by account and command id, as
// natsintake.Outcomes does.
type fakeOutcomes map[string]map[uuid.UUID]wire.Outcome

func (f fakeOutcomes) CommandOutcome(_ context.Context, accountID string, id uuid.UUID) (wire.Outcome, bool, error) {
	o, ok := f[accountID][id]
	return o, ok, nil
}

func TestGetCommand(t *testing.T) {
	accepted, rejected, foreign := uuid.New(), uuid.New(), uuid.New()
	outcomes := fakeOutcomes{
		domain.DefaultAccountID: {
			accepted: {CommandID: accepted.String(), Status: wire.StatusAccepted, TokenID: "tok-1", Version: 3, Sequence: 42, Secret: "tkn_never_served"},
			rejected: wire.Rejected(rejected.String(), "", domain.ErrUnauthenticated),
		},
		"other": {foreign: {CommandID: foreign.String(), Status: wire.StatusAccepted, TokenID: "tok-2", Version: 1, Sequence: 7}},
	}
	s := newStack(t, func(c *Config) { c.Outcomes = outcomes })

	var o map[string]any
	s.must(200, req{method: "GET", path: "/v1/commands/" + accepted.String(), license: s.admin}).json(t, &o)
	if o["status"] != "accepted" || o["tokenId"] != "tok-1" || o["version"] != 3.0 || o["sequence"] != 42.0 || o["secret"] != nil {
		t.Fatalf("accepted outcome %v", o)
	}
	o = nil
	s.must(200, req{method: "GET", path: "/v1/commands/" + rejected.String(), license: s.admin}).json(t, &o)
	if o["status"] != "rejected" || o["tokenId"] != nil || o["error"].(map[string]any)["code"] != "unauthenticated" {
		t.Fatalf("rejected outcome %v", o)
	}
	for _, path := range []string{"/v1/commands/" + foreign.String(), "/v1/commands/" + uuid.NewString(), "/v1/commands/not-a-uuid", "/v1/commands/{" + accepted.String() + "}"} {
		if r := s.must(404, req{method: "GET", path: path, license: s.admin}); r.code() != "not_found" {
			t.Errorf("%s: %s", path, r.body)
		}
	}
	s.must(401, req{method: "GET", path: "/v1/commands/" + accepted.String()})

	// Without a store of outcomes every command is not found.
	bare := newStack(t)
	bare.must(404, req{method: "GET", path: "/v1/commands/" + accepted.String(), license: bare.admin})
}
