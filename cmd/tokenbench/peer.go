package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

// The peer is what a user would build with Watermill's defaults instead of
// tokend: it is a baseline, written here, not product code.
//
//   - Commands: clients publish each command with the watermill-nats
//     publisher to a JetStream stream; a router handler (SubscribersCount 1,
//     the default: more would run one token's commands concurrently, and
//     nothing would stop two of them deciding on the same state, since the
//     watermill publisher sends no expected sequence and drops the PubAck)
//     decides with tokend's own domain package on state it keeps in a map,
//     publishes the event with the watermill-nats publisher (one synchronous
//     JetStream publish per event, the same body and CloudEvents headers as
//     tokend's) and returns, which acknowledges the command (AckSync, the
//     default). The client learns that its command is done through an
//     in-process channel: cheaper than any outcome message, to the peer's
//     advantage.
//   - Projection: a router handler on the event stream writes one Badger
//     transaction per event (read the token, fold the event, write the
//     token, its secret's end-user view, an audit entry and the command's
//     outcome: four keys against tokend's ten, again to the peer's
//     advantage) and acknowledges it.
type peer struct {
	b    *bench
	js   *jsServer
	pub  *wmnats.Publisher
	log  watermill.LoggerAdapter
	done sync.Map // command id -> chan struct{}

	mu     sync.Mutex
	tokens map[string]domain.Token
	ids    []string
	secret []string
}

const (
	peerCommandsStream  = "PEER_COMMANDS"
	peerCommandsSubject = "peer.commands"
)

// rows of the peer.
const (
	rowPeerIssue = "Watermill pipeline: IssueToken"
	rowPeerCmd   = "Watermill pipeline: commands"
	rowPeerProj  = "Watermill pipeline: projection events"
)

// peerCommand is the peer's command message.
type peerCommand struct {
	CommandID uuid.UUID `json:"commandId"`
	TokenID   string    `json:"tokenId"`
	Type      string    `json:"type"`
	Name      string    `json:"name"`
	Expires   int64     `json:"expirationDate,omitempty"`
	Sha       string    `json:"secretSha256,omitempty"`
	Hint      string    `json:"secretHint,omitempty"`
}

func (b *bench) peerPhase(ctx context.Context) error {
	js, err := b.startJS(ctx, filepath.Join(b.root, "peer-js"))
	if err != nil {
		return err
	}
	defer js.close()
	cfg := natsjs.CommandsStreamConfig(1)
	cfg.Name, cfg.Subjects, cfg.Description = peerCommandsStream, []string{peerCommandsSubject}, "tokenbench peer commands"
	if _, err := js.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return err
	}
	p := &peer{b: b, js: js, log: watermill.NopLogger{}, tokens: map[string]domain.Token{}}
	pubConn, err := nats.Connect(js.emb.ClientURL(), nats.Name("peer-publisher"))
	if err != nil {
		return err
	}
	defer pubConn.Close()
	p.pub, err = wmnats.NewPublisherWithNatsConn(pubConn, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         wmnats.JetStreamConfig{TrackMsgId: true},
	}, p.log)
	if err != nil {
		return err
	}
	if err := p.commands(ctx); err != nil {
		return fmt.Errorf("commands: %w", err)
	}
	if err := p.project(ctx); err != nil {
		return fmt.Errorf("projection: %w", err)
	}
	return nil
}

// subscriber returns a watermill-nats JetStream subscriber with a durable
// push consumer and the defaults (one subscriber, AckSync).
// The subscriber gets a connection of its own: closing it closes its
// connection.
func (p *peer) subscriber(durable string) (*wmnats.Subscriber, error) {
	nc, err := nats.Connect(p.js.emb.ClientURL(), nats.Name("peer-"+durable))
	if err != nil {
		return nil, err
	}
	return wmnats.NewSubscriberWithNatsConn(nc, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler:      &wmnats.NATSMarshaler{},
		SubscribersCount: 1,
		AckWaitTimeout:   30 * time.Second,
		CloseTimeout:     5 * time.Second,
		JetStream: wmnats.JetStreamConfig{
			DurablePrefix:    durable,
			SubscribeOptions: []nats.SubOpt{nats.DeliverAll(), nats.AckExplicit()},
		},
	}, p.log)
}

func (p *peer) router(ctx context.Context, name, topic, durable string, h message.NoPublishHandlerFunc) (func(), error) {
	sub, err := p.subscriber(durable)
	if err != nil {
		return nil, err
	}
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 5 * time.Second}, p.log)
	if err != nil {
		return nil, err
	}
	r.AddNoPublisherHandler(name, topic, sub, h)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	select {
	case <-r.Running():
	case err := <-done:
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return func() {
		_ = r.Close()
		<-done
		_ = sub.Close()
	}, nil
}

// handleCommand is the peer's command handler.
func (p *peer) handleCommand(msg *message.Message) error {
	var c peerCommand
	if err := json.Unmarshal(msg.Payload, &c); err != nil {
		return nil // a poison message: dropped
	}
	p.mu.Lock()
	t := p.tokens[c.TokenID]
	p.mu.Unlock()
	cmd := domain.Command{ID: c.CommandID, AccountID: domain.DefaultAccountID, TokenID: c.TokenID,
		Actor: domain.Actor{Kind: domain.ActorLicense, ID: "peer-license"}}
	switch c.Type {
	case "IssueToken":
		cmd.Body = domain.IssueToken{Name: c.Name, ExpirationDate: c.Expires, SecretSha256: c.Sha, SecretHint: c.Hint}
	default:
		cmd.Body = domain.RenameToken{Name: c.Name}
	}
	events, err := domain.Decide(t, cmd, domain.Rules{Now: time.Now(), MaxLifetime: domain.DefaultMaxLifetime})
	if err == nil && len(events) == 1 {
		ev := events[0]
		body, err := natsjs.EncodeEvent(ev)
		if err != nil {
			return err
		}
		wm := message.NewMessage(ev.ID.String(), body)
		for k, v := range natsjs.EventHeaders(ev) {
			if k != natsjs.HeaderMsgID {
				wm.Metadata.Set(k, v[0])
			}
		}
		if err := p.pub.Publish(natsjs.EventSubject(ev.AccountID, ev.Subject()), wm); err != nil {
			return err
		}
		p.mu.Lock()
		p.tokens[c.TokenID] = domain.Evolve(t, ev)
		p.mu.Unlock()
	}
	if ch, ok := p.done.LoadAndDelete(c.CommandID); ok {
		close(ch.(chan struct{}))
	}
	return nil
}

// send publishes a command with the watermill publisher and waits until
// the handler is done with it.
func (p *peer) send(ctx context.Context, c peerCommand) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	ch := make(chan struct{})
	p.done.Store(c.CommandID, ch)
	if err := p.pub.Publish(peerCommandsSubject, message.NewMessage(c.CommandID.String(), body)); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("peer command %s: not done after 30 s", c.CommandID)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *peer) commands(ctx context.Context) error {
	stop, err := p.router(ctx, "peer-commands", peerCommandsSubject, "peer-commands", p.handleCommand)
	if err != nil {
		return err
	}
	defer stop()
	b := p.b
	n := b.tokens
	p.ids, p.secret = make([]string, n), make([]string, n)
	exp := time.Now().Add(90 * 24 * time.Hour).Unix()
	m, err := b.load("peer: issue tokens", n, b.clients, func(_, i int) error {
		secret, err := domain.NewSecret(domain.TokenSecretPrefix)
		if err != nil {
			return err
		}
		id := uuid.NewString()
		p.ids[i], p.secret[i] = id, secret
		return p.send(ctx, peerCommand{CommandID: uuid.New(), TokenID: id, Type: "IssueToken",
			Name: fmt.Sprintf("token %d", i), Expires: exp, Sha: domain.HashSecret(secret), Hint: domain.Hint(secret)})
	})
	if err != nil {
		return err
	}
	b.rate("peer", rowPeerIssue, "commands/s", m, nil)
	m, runs, err := repeat(b.runs, func(run int) (measure, error) {
		return b.load("peer: commands", b.commands, b.clients, func(_, i int) error {
			k := i % n
			return p.send(ctx, peerCommand{CommandID: uuid.New(), TokenID: p.ids[k], Type: "RenameToken",
				Name: fmt.Sprintf("token %d r%d.%d", k, run, i)})
		})
	})
	if err != nil {
		return err
	}
	r := b.rate("peer", rowPeerCmd, "commands/s", m, runs)
	r.Note = "watermill-nats publisher and router, 1 subscriber"
	return nil
}

// peerView is what the peer's projection keeps of a token.
type peerView struct {
	Snapshot domain.TokenSnapshot `json:"snapshot"`
}

// project runs the peer's projection handler over the peer's event stream
// from its start, until it has applied limit events, and measures events/s.
func (p *peer) project(ctx context.Context) error {
	b := p.b
	st, err := p.js.js.Stream(ctx, natsjs.EventsStream)
	if err != nil {
		return err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	total := int(info.State.Msgs)
	limit := min(total, max(2*b.commands, 2000))
	db, err := badger.Open(badgerOptions(filepath.Join(b.root, "peer-readmodel")))
	if err != nil {
		return err
	}
	defer db.Close()
	var applied atomic.Int64
	reached := make(chan struct{})
	bar := b.bar("peer: projection", limit)
	defer bar.Close()
	handler := func(msg *message.Message) error {
		ev, err := natsjs.DecodeEvent(msg.Payload)
		if err != nil {
			return nil
		}
		err = db.Update(func(txn *badger.Txn) error {
			key := []byte("t/" + ev.AccountID + "/" + ev.TokenID)
			var view peerView
			item, err := txn.Get(key)
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
			case err != nil:
				return err
			default:
				if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &view) }); err != nil {
					return err
				}
			}
			t := domain.Evolve(domain.RestoreToken(view.Snapshot), ev)
			view.Snapshot = t.Snapshot()
			v, err := json.Marshal(view)
			if err != nil {
				return err
			}
			if err := txn.Set(key, v); err != nil {
				return err
			}
			if sha := t.SecretSha256(); sha != "" {
				eu, _ := json.Marshal(map[string]any{"id": t.ID(), "name": t.Name(), "status": t.Status(), "expirationDate": t.ExpirationDate()})
				if err := txn.Set([]byte("s/"+sha), eu); err != nil {
					return err
				}
			}
			if err := txn.Set([]byte("u/"+ev.AccountID+"/"+ev.ID.String()), msg.Payload); err != nil {
				return err
			}
			return txn.Set([]byte("o/"+ev.CommandID.String()), []byte(ev.ID.String()))
		})
		if err != nil {
			return err
		}
		if n := applied.Add(1); n == int64(limit) {
			close(reached)
		} else if n%64 == 0 {
			_ = bar.Add(64)
		}
		return nil
	}
	start := time.Now()
	stop, err := p.router(ctx, "peer-projector", natsjs.EventsSubjects, "peer-projector", handler)
	if err != nil {
		return err
	}
	select {
	case <-reached:
	case <-ctx.Done():
		stop()
		return ctx.Err()
	case <-time.After(10 * time.Minute):
		stop()
		return fmt.Errorf("applied %d of %d events in 10 minutes", applied.Load(), limit)
	}
	elapsed := time.Since(start)
	_ = bar.Finish()
	stop()
	r := b.rate("peer", rowPeerProj, "events/s", measure{N: limit, Elapsed: elapsed}, nil)
	r.Note = fmt.Sprintf("first %d of %d events, one Badger transaction and AckSync each", limit, total)
	return nil
}
