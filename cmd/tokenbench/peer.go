package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
//   - Projection: a router handler on the event stream (one follows the
//     events live while the commands are measured, as tokend's projector
//     does; another, new each run, catches up for the events/s) writes one Badger
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

	pubConn      *nats.Conn
	stopCommands func()
	liveDB       *badger.DB
	stopLive     func()

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

// startPeer starts the peer on its own embedded JetStream server (with the
// service's stream settings) and its command router.
func (b *bench) startPeer(ctx context.Context) (*peer, error) {
	js, err := b.startJS(ctx, filepath.Join(b.root, "peer-js"), true)
	if err != nil {
		return nil, err
	}
	p := &peer{b: b, js: js, log: watermill.NopLogger{}, tokens: map[string]domain.Token{}}
	cfg := natsjs.CommandsStreamConfig(1)
	cfg.Name, cfg.Subjects, cfg.Description = peerCommandsStream, []string{peerCommandsSubject}, "tokenbench peer commands"
	if _, err := js.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		p.close()
		return nil, err
	}
	if p.pubConn, err = nats.Connect(js.url, nats.Name("peer-publisher")); err != nil {
		p.close()
		return nil, err
	}
	p.pub, err = wmnats.NewPublisherWithNatsConn(p.pubConn, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         wmnats.JetStreamConfig{TrackMsgId: true},
	}, p.log)
	if err != nil {
		p.close()
		return nil, err
	}
	if p.stopCommands, err = p.router(ctx, "peer-commands", peerCommandsSubject, "peer-commands", p.handleCommand); err != nil {
		p.close()
		return nil, err
	}
	// Its read model follows the events as they come, as tokend's projector
	// does while tokend's commands are measured.
	if p.liveDB, err = badger.Open(badgerOptions(filepath.Join(b.root, "peer-readmodel-live"))); err != nil {
		p.close()
		return nil, err
	}
	if p.stopLive, err = p.router(ctx, "peer-projector-live", natsjs.EventsSubjects, "peer-projector-live", p.projection(p.liveDB, nil)); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *peer) close() {
	if p.stopCommands != nil {
		p.stopCommands()
	}
	if p.stopLive != nil {
		p.stopLive()
	}
	if p.liveDB != nil {
		p.liveDB.Close()
	}
	if p.pubConn != nil {
		p.pubConn.Close()
	}
	p.js.close()
}

// subscriber returns a watermill-nats JetStream subscriber with a durable
// push consumer and the defaults (one subscriber, AckSync).
// The subscriber gets a connection of its own: closing it closes its
// connection.
func (p *peer) subscriber(durable string) (*wmnats.Subscriber, error) {
	nc, err := nats.Connect(p.js.url, nats.Name("peer-"+durable))
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

// issue issues the tokens through the pipeline.
func (p *peer) issue(ctx context.Context) (measure, error) {
	b := p.b
	n := b.tokens
	p.ids, p.secret = make([]string, n), make([]string, n)
	exp := time.Now().Add(90 * 24 * time.Hour).Unix()
	return b.load("peer: issue tokens", n, b.clients, func(_, i int) error {
		secret, err := domain.NewSecret(domain.TokenSecretPrefix)
		if err != nil {
			return err
		}
		id := uuid.NewString()
		p.ids[i], p.secret[i] = id, secret
		return p.send(ctx, peerCommand{CommandID: uuid.New(), TokenID: id, Type: "IssueToken",
			Name: fmt.Sprintf("token %d", i), Expires: exp, Sha: domain.HashSecret(secret), Hint: domain.Hint(secret)})
	})
}

// commandRun renames tokens from 64 concurrent clients.
func (p *peer) commandRun(ctx context.Context, run int) (measure, error) {
	b := p.b
	return b.load("peer: commands", b.commands, b.clients, func(_, i int) error {
		k := i % len(p.ids)
		return p.send(ctx, peerCommand{CommandID: uuid.New(), TokenID: p.ids[k], Type: "RenameToken",
			Name: fmt.Sprintf("token %d r%d.%d", k, run, i)})
	})
}

// peerView is what the peer's projection keeps of a token.
type peerView struct {
	Snapshot domain.TokenSnapshot `json:"snapshot"`
}

// projectRun runs the peer's projection handler over the peer's event
// stream from its start, with a new durable consumer and a new Badger
// directory, until it has applied limit events.
func (p *peer) projectRun(ctx context.Context, run, limit int) (measure, error) {
	b := p.b
	dir := filepath.Join(b.root, fmt.Sprintf("peer-readmodel-%d", run))
	db, err := badger.Open(badgerOptions(dir))
	if err != nil {
		return measure{}, err
	}
	defer os.RemoveAll(dir)
	defer db.Close()
	var applied atomic.Int64
	reached := make(chan struct{})
	bar := b.bar("peer: projection", limit)
	defer bar.Close()
	handler := p.projection(db, func() {
		if n := applied.Add(1); n == int64(limit) {
			close(reached)
		} else if n%64 == 0 {
			_ = bar.Add(64)
		}
	})
	start := time.Now()
	durable := fmt.Sprintf("peer-projector-%d", run)
	stop, err := p.router(ctx, durable, natsjs.EventsSubjects, durable, handler)
	if err != nil {
		return measure{}, err
	}
	defer stop()
	select {
	case <-reached:
	case <-ctx.Done():
		return measure{}, ctx.Err()
	case <-time.After(10 * time.Minute):
		return measure{}, fmt.Errorf("applied %d of %d events in 10 minutes", applied.Load(), limit)
	}
	elapsed := time.Since(start)
	_ = bar.Finish()
	return measure{N: limit, Elapsed: elapsed}, nil
}

// events returns how many events the peer's stream holds.
func (p *peer) events(ctx context.Context) (int, error) {
	st, err := p.js.js.Stream(ctx, natsjs.EventsStream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return int(info.State.Msgs), nil
}

// projection returns the peer's projection handler: one Badger transaction
// per event (read the token, fold the event, write the token, its secret's
// end-user view, an audit entry and the command's outcome), then applied.
func (p *peer) projection(db *badger.DB, applied func()) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
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
		if applied != nil {
			applied()
		}
		return nil
	}
}
