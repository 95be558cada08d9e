package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

// history generates a well-formed event log: the default account (with a
// given admin license) and a model, then tokens tokens with perTok events
// each, interleaved round by round as real traffic would spread them. Every
// event is decided by the domain package on the state before it, so each
// one is exactly what the service would have written.
type history struct {
	tokens, perTok int
	now            time.Time
	license        string // admin license id
	actor          domain.Actor
	model          string
	account        domain.Account
	state          []domain.Token // nil when perTok == 1: nothing to remember
	secretEvery    int            // every secretEvery-th token gets a real secret
	secrets        map[int]string // token index -> secret
	ids            func(i int) string
	head           []domain.Event // the account's events, first
}

func newHistory(tokens, perTok int, adminLicense string) (*history, error) {
	h := &history{tokens: tokens, perTok: max(perTok, 1), now: time.Now(), secretEvery: 50, secrets: map[int]string{}}
	cmd := uuid.NewSHA1(uuid.NameSpaceURL, []byte("tokend:bootstrap:account:default"))
	h.license = commands.LicenseIDFor(cmd)
	h.actor = domain.Actor{Kind: domain.ActorLicense, ID: h.license}
	evs, err := domain.DecideAccount(domain.Account{}, domain.Command{ID: cmd, AccountID: domain.DefaultAccountID, Actor: domain.SystemActor,
		Body: domain.CreateAccount{Name: domain.DefaultAccountID, LicenseID: h.license, LicenseSha256: domain.HashSecret(adminLicense)}}, h.now)
	if err != nil {
		return nil, err
	}
	h.head = append(h.head, evs...)
	for _, e := range evs {
		h.account = domain.EvolveAccount(h.account, e)
	}
	mcmd := uuid.New()
	h.model = commands.ModelIDFor(mcmd)
	evs, err = domain.DecideAccount(h.account, domain.Command{ID: mcmd, AccountID: domain.DefaultAccountID, Actor: h.actor,
		Body: domain.RegisterModel{ModelID: h.model, Name: "bench-model"}}, h.now)
	if err != nil {
		return nil, err
	}
	h.head = append(h.head, evs...)
	for _, e := range evs {
		h.account = domain.EvolveAccount(h.account, e)
	}
	if h.perTok > 1 {
		h.state = make([]domain.Token, tokens)
	}
	base := uuid.New()
	h.ids = func(i int) string { return uuid.NewSHA1(base, []byte(strconv.Itoa(i))).String() }
	return h, nil
}

// len is the number of events.
func (h *history) len() int { return len(h.head) + h.tokens*h.perTok }

// event returns the i-th event; calls must come in order.
func (h *history) event(i int) (domain.Event, error) {
	if i < len(h.head) {
		return h.head[i], nil
	}
	i -= len(h.head)
	round, k := i/h.tokens, i%h.tokens
	var t domain.Token
	if h.state != nil {
		t = h.state[k]
	}
	cmd := domain.Command{ID: uuid.New(), AccountID: domain.DefaultAccountID, TokenID: h.ids(k), Actor: h.actor}
	switch {
	case round == 0:
		var sha, hint string
		if k%h.secretEvery == 0 {
			secret, err := domain.NewSecret(domain.TokenSecretPrefix)
			if err != nil {
				return domain.Event{}, err
			}
			h.secrets[k] = secret
			sha, hint = domain.HashSecret(secret), domain.Hint(secret)
		} else {
			// Not a secret anyone holds, but a hash of the same shape.
			sha, hint = domain.HashSecret("tokenbench/"+cmd.ID.String()), "tkn_xxxx"
		}
		body := domain.IssueToken{Name: "token " + strconv.Itoa(k), ExpirationDate: h.now.Add(180 * 24 * time.Hour).Unix(),
			SecretSha256: sha, SecretHint: hint}
		if k%2 == 0 {
			body.ModelID = h.model
		}
		cmd.Body = body
	case round%5 == 1:
		cmd.Body = domain.RenameToken{Name: fmt.Sprintf("token %d r%d", k, round)}
	case round%5 == 2:
		cmd.Body = domain.ChangeNote{Note: fmt.Sprintf("note %d of token %d", round, k)}
	case round%5 == 3 && t.Status() == domain.StatusActive:
		cmd.Body = domain.SuspendToken{}
	case round%5 == 3:
		cmd.Body = domain.ReactivateToken{}
	case round%5 == 4 && t.ModelID() == "":
		cmd.Body = domain.AssignModel{ModelID: h.model}
	case round%5 == 4:
		cmd.Body = domain.UnassignModel{}
	default:
		cmd.Body = domain.ChangeExpiration{ExpirationDate: h.now.Add(time.Duration(90+round%200) * 24 * time.Hour).Unix()}
	}
	evs, err := domain.Decide(t, cmd, domain.Rules{Now: h.now, MaxLifetime: domain.DefaultMaxLifetime, Models: h.account})
	if err != nil {
		return domain.Event{}, fmt.Errorf("event %d (token %d, round %d, %s): %w", i, k, round, cmd.Type(), err)
	}
	if len(evs) != 1 {
		return domain.Event{}, fmt.Errorf("event %d (token %d, round %d, %s): %d events", i, k, round, cmd.Type(), len(evs))
	}
	if h.state != nil {
		h.state[k] = domain.Evolve(t, evs[0])
	}
	return evs[0], nil
}

// publish writes the whole history to js's TOKEN_EVENTS with windowed async
// publishes of the service's own messages (no expected sequence: a bulk
// load, not a command).
//
// With noMsgID the messages carry no Nats-Msg-Id: JetStream then keeps no
// duplicate-window entry for them, as for the events of a log older than
// its two-minute window, whose ids it has long forgotten. A service with a
// million tokens did not issue them in the last two minutes; with the ids,
// the server would hold a million of them in memory for the first two
// minutes after a restart (nats-server rebuilds the window from the tail).
func (b *bench) publishHistory(ctx context.Context, s *jsServer, h *history, desc string, noMsgID bool) (time.Duration, error) {
	n := h.len()
	bar := b.bar(desc, n)
	defer bar.Close()
	start := time.Now()
	err := publishAsync(ctx, s.js, n, func(i int) (*nats.Msg, error) {
		ev, err := h.event(i)
		if err != nil {
			return nil, err
		}
		if i%1024 == 0 {
			_ = bar.Add(1024)
		}
		m, err := eventMsg(ev)
		if err == nil && noMsgID {
			m.Header.Del(natsjs.HeaderMsgID)
		}
		return m, err
	}, nil)
	_ = bar.Finish()
	return time.Since(start), err
}
