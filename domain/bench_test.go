package domain_test

import (
	"testing"

	"github.com/tokend/tokend/domain"
)

// BenchmarkDecide decides representative commands against an issued token.
func BenchmarkDecide(b *testing.B) {
	r := rules(b)
	tok := issued(b)
	cases := []struct {
		name string
		body domain.CommandBody
		typ  domain.EventType
	}{
		{"rename", domain.RenameToken{Name: "  beta  "}, domain.TokenRenamed},
		{"update3", domain.UpdateToken{Name: domain.Some("beta"), Note: domain.Some("quota: 10k/day"), Status: domain.Some("suspended")}, domain.TokenUpdated},
		{"assign", domain.AssignModel{ModelID: model1}, domain.ModelAssigned},
		{"issue", domain.IssueToken{Name: "gamma", Note: "n", ExpirationDate: firstExp, ModelID: model2, SecretSha256: secretSha256, SecretHint: secretHint}, domain.TokenIssued},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			state := tok
			if bc.typ == domain.TokenIssued {
				state = domain.Token{}
			}
			cmd := tokenCmd(uid(7), bc.body)
			if evs, err := domain.Decide(state, cmd, r); err != nil || len(evs) != 1 || evs[0].Type != bc.typ {
				b.Fatalf("%v %v", evs, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := domain.Decide(state, cmd, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEvolve folds a 10-event history into a token.
func BenchmarkEvolve(b *testing.B) {
	r := rules(b)
	bodies := []domain.CommandBody{
		issueBody(),
		domain.RenameToken{Name: "beta"},
		domain.ChangeNote{Note: "n"},
		domain.ChangeExpiration{ExpirationDate: firstExp + 60},
		domain.SuspendToken{},
		domain.ReactivateToken{},
		domain.AssignModel{ModelID: model1},
		domain.UnassignModel{},
		domain.UpdateToken{Name: domain.Some("gamma"), Status: domain.Some("suspended")},
		domain.CancelToken{},
	}
	var (
		tok     domain.Token
		history []domain.Event
		seq     cmdSeq
	)
	for _, body := range bodies {
		evs, err := domain.Decide(tok, tokenCmd(seq.next(), body), r)
		if err != nil || len(evs) != 1 {
			b.Fatalf("%T: %v %v", body, evs, err)
		}
		tok = domain.Evolve(tok, evs[0])
		history = append(history, evs[0])
	}
	if len(history) != 10 {
		b.Fatalf("%d events", len(history))
	}
	b.ReportAllocs()
	for b.Loop() {
		var t domain.Token
		for _, e := range history {
			t = domain.Evolve(t, e)
		}
		if t.Version() != 10 {
			b.Fatal(t.Version())
		}
	}
}
