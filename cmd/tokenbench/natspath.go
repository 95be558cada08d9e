package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsintake"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/wire"
	"github.com/tokend/tokend/projections"
)

// outcomeWaiter is a NATS command client as API.md describes one: one
// subscription on tokens.outcomes.> that hands each outcome to the caller
// waiting for its command id, and a JetStream publish of each command with
// Nats-Msg-Id and Authorization.
type outcomeWaiter struct {
	mu      sync.Mutex
	waiting map[string]chan wire.Outcome
	sub     *nats.Subscription
}

func newOutcomeWaiter(nc *nats.Conn, prefix string) (*outcomeWaiter, error) {
	w := &outcomeWaiter{waiting: map[string]chan wire.Outcome{}}
	sub, err := nc.Subscribe(prefix+">", func(m *nats.Msg) {
		id := strings.TrimPrefix(m.Subject, prefix)
		w.mu.Lock()
		ch := w.waiting[id]
		delete(w.waiting, id)
		w.mu.Unlock()
		if ch == nil {
			return
		}
		var o wire.Outcome
		if err := json.Unmarshal(m.Data, &o); err != nil {
			o = wire.Outcome{CommandID: id, Status: "undecodable: " + err.Error()}
		}
		ch <- o
	})
	if err != nil {
		return nil, err
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, err
	}
	w.sub = sub
	return w, nil
}

func (w *outcomeWaiter) expect(id string) chan wire.Outcome {
	ch := make(chan wire.Outcome, 1)
	w.mu.Lock()
	w.waiting[id] = ch
	w.mu.Unlock()
	return ch
}

// commandsNATS starts the NATS command intake on the service (as `tokend
// serve` does) and sends RenameToken commands on tokens.commands.RenameToken
// from 64 concurrent clients, each waiting for its outcome.
func (b *bench) commandsNATS(ctx context.Context, s *service) error {
	outcomes, err := natsintake.OpenOutcomes(ctx, s.js.js, 1,
		natsintake.Log{ReadModel: s.store, LastSequence: natsjs.NewEventStore(s.js.js).LastSequence})
	if err != nil {
		return err
	}
	in, err := natsintake.Start(ctx, natsintake.Config{
		URL: s.js.url, JS: s.js.js, Commands: s.svc, Licenses: s.store,
		Outcomes: outcomes, Metrics: s.api.Metrics(), Logger: b.quiet,
	})
	if err != nil {
		return err
	}
	defer in.Close()
	// The clients' own connection, as a separate process would have.
	nc, js, err := natsjs.Connect(s.js.url, "tokenbench-client", b.quiet)
	if err != nil {
		return err
	}
	defer nc.Close()
	w, err := newOutcomeWaiter(nc, natsintake.OutcomesPrefix)
	if err != nil {
		return err
	}
	floor, err := b.startIntakeFloor(ctx, s, "raw", s.raw, 0)
	if err != nil {
		return fmt.Errorf("raw intake protocol: %w", err)
	}
	defer floor.close()
	keys, err := b.keysPerRename(ctx, s)
	if err != nil {
		return err
	}
	events, err := b.newEventStream(ctx, s.js, "RAWP_EVENTS", "rawp", "tokenbench: the raw intake protocol with a raw projection")
	if err != nil {
		return err
	}
	projected, err := b.startIntakeFloor(ctx, s, "rawp", events, keys)
	if err != nil {
		return fmt.Errorf("raw intake protocol with a raw projection: %w", err)
	}
	defer projected.close()
	return b.rounds(b.runs,
		meas{group: "raw", name: rowFloor, unit: "commands/s", note: fmt.Sprintf("%d workers", natsintake.DefaultLanes),
			fn: func(run int) (measure, error) { return floor.run(ctx, run) }},
		meas{group: "raw", name: rowFloorProj, unit: "commands/s",
			note: fmt.Sprintf("%d workers; %.1f keys per event, tokend's for a rename", natsintake.DefaultLanes, keys),
			fn:   func(run int) (measure, error) { return projected.run(ctx, run) }},
		meas{group: "raw", name: rowAsync, unit: "msgs/s", note: fmt.Sprintf("window %d", asyncWindow),
			fn: func(run int) (measure, error) { return s.raw.async(ctx, b, 2*b.commands, run) }},
		meas{group: "service", name: rowCmdNATS, unit: "commands/s",
			note: fmt.Sprintf("publish to TOKEN_COMMANDS, outcome on tokens.outcomes.<id>; %d lanes", natsintake.DefaultLanes),
			fn: func(run int) (measure, error) {
				m, err := b.load("commands NATS", b.commands, b.clients, func(_, i int) error {
					k := i % len(s.tokens)
					id := uuid.NewString()
					body := `{"commandId":"` + id + `","tokenId":"` + s.tokens[k].id + `","data":{"name":"token ` +
						strconv.Itoa(k) + " n" + strconv.Itoa(run) + "." + strconv.Itoa(i) + `"}}`
					ch := w.expect(id)
					msg := &nats.Msg{Subject: natsjs.CommandSubject("RenameToken"), Data: []byte(body), Header: nats.Header{
						nats.MsgIdHdr:   {id},
						"Authorization": {"Bearer " + s.admin},
					}}
					if _, err := js.PublishMsg(ctx, msg); err != nil {
						return err
					}
					select {
					case o := <-ch:
						if o.Status != wire.StatusAccepted {
							return fmt.Errorf("command %s: %s %+v", id, o.Status, o.Error)
						}
						return nil
					case <-time.After(30 * time.Second):
						return fmt.Errorf("command %s: no outcome after 30 s", id)
					case <-ctx.Done():
						return ctx.Err()
					}
				})
				if err != nil {
					return m, err
				}
				return m, s.settle(ctx)
			}},
		b.peerCommands(ctx, s))
}

// keysWritten is the projector's count of keys committed.
func keysWritten(s *projections.Store) uint64 { return s.KeysWritten() }

// rowFloor is the intake's protocol done with raw JetStream calls, and
// rowFloorProj the same with a raw projection of its events into Badger.
const (
	rowFloor     = "raw intake protocol: command publish, consume, outcome lookup, append, outcome publish, ack"
	rowFloorProj = "raw intake protocol and raw projection: the same, and each event's keys written to Badger"
)

// keysPerRename measures how many keys tokend's projector writes for a
// RenameToken of the service's tokens: 512 in-process renames.
func (b *bench) keysPerRename(ctx context.Context, s *service) (float64, error) {
	const n = 512
	if err := s.settle(ctx); err != nil {
		return 0, err
	}
	before := s.store.KeysWritten()
	for i := range n {
		if _, err := s.svc.Execute(ctx, s.renameCmd(i, 900)); err != nil {
			return 0, err
		}
	}
	if err := s.settle(ctx); err != nil {
		return 0, err
	}
	return float64(s.store.KeysWritten()-before) / n, nil
}

// intakeFloor measures what the NATS command path's protocol costs with
// nothing of tokend in it: clients publish a command to a stream with
// TOKEN_COMMANDS' settings and wait for its outcome on a core subject; 32
// workers behind one pull consumer look the command up in a key-value
// bucket like TOKEN_OUTCOMES (a new command: a miss), append one event per
// command (the service's message, with its expected subject sequence) to
// a raw event stream, publish the outcome, and acknowledge the command.
// An accepted command's outcome is remembered by its event, not in the
// bucket (docs/api.md "Once"). No decoding, no authentication, no domain.
// Without a projection (keys 0) there is no read model either: its ratio to
// the raw async publish is the most the intake could reach on this
// machine. With one, a rawProjection follows the events into Badger as the
// projector does, and its rate is the most any service of this protocol
// with a read model could reach.
type intakeFloor struct {
	b      *bench
	s      *service
	prefix string     // of its subjects and names: raw.commands.>, RAW_COMMANDS...
	events *rawStream // where it appends
	proj   *rawProjection
	kv     jetstream.KeyValue
	waiter *outcomeWaiter
	client *nats.Conn
	cjs    jetstream.JetStream
	cc     jetstream.ConsumeContext
	work   chan jetstream.Msg
	wg     sync.WaitGroup
	msgs   map[string]floorCmd // command id -> the event it appends
	mu     sync.Mutex
}

// startIntakeFloor starts a floor whose subjects and names start with
// prefix, appending to events, with a raw projection of keysPerEvent keys
// per event unless it is 0.
func (b *bench) startIntakeFloor(ctx context.Context, s *service, prefix string, events *rawStream, keysPerEvent float64) (*intakeFloor, error) {
	f := &intakeFloor{b: b, s: s, prefix: prefix, events: events, work: make(chan jetstream.Msg, 64), msgs: map[string]floorCmd{}}
	name := strings.ToUpper(prefix)
	cfg := natsjs.CommandsStreamConfig(1)
	cfg.Name, cfg.Subjects, cfg.Description = name+"_COMMANDS", []string{prefix + ".commands.>"}, "tokenbench: the intake protocol's floor"
	js := s.js.js
	if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name + "_OUTCOMES", History: 1,
		TTL: natsjs.CommandsMaxAge, Storage: jetstream.FileStorage, Replicas: 1})
	if err != nil {
		return nil, err
	}
	f.kv = kv
	cons, err := js.CreateOrUpdateConsumer(ctx, name+"_COMMANDS", jetstream.ConsumerConfig{
		Durable: prefix + "-intake", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 64, AckWait: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	if keysPerEvent > 0 {
		if f.proj, err = b.startRawProjection(ctx, s.js, events, filepath.Join(b.root, prefix+"-readmodel"), keysPerEvent); err != nil {
			return nil, err
		}
	}
	for range natsintake.DefaultLanes {
		f.wg.Go(func() {
			for m := range f.work {
				if err := f.handle(ctx, m); err != nil {
					b.log.Error("raw intake", "err", err)
				}
			}
		})
	}
	f.cc, err = cons.Consume(func(m jetstream.Msg) { f.work <- m }, jetstream.PullMaxMessages(64))
	if err != nil {
		return nil, err
	}
	if f.client, f.cjs, err = natsjs.Connect(s.js.url, "tokenbench-"+prefix+"-client", b.quiet); err != nil {
		return nil, err
	}
	f.waiter, err = newOutcomeWaiter(f.client, prefix+".outcomes.")
	return f, err
}

func (f *intakeFloor) handle(ctx context.Context, m jetstream.Msg) error {
	id := m.Headers().Get(nats.MsgIdHdr)
	f.mu.Lock()
	c, ok := f.msgs[id]
	delete(f.msgs, id)
	f.mu.Unlock()
	if !ok {
		return m.Ack()
	}
	if _, err := f.kv.Get(ctx, id); !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("outcome lookup of a new command: %v", err)
	}
	ack, err := f.s.js.js.PublishMsg(ctx, c.ev)
	if err != nil {
		return err
	}
	f.events.toks.acked(c.i, ack.Sequence)
	out := []byte(`{"commandId":"` + id + `","status":"accepted","tokenId":"x","version":2,"sequence":` + strconv.FormatUint(ack.Sequence, 10) + `}`)
	if err := f.s.js.nc.Publish(f.prefix+".outcomes."+id, out); err != nil {
		return err
	}
	return m.Ack()
}

type floorCmd struct {
	ev *nats.Msg
	i  int
}

func (f *intakeFloor) run(ctx context.Context, run int) (measure, error) {
	b := f.b
	toks := f.events.toks
	evs, err := toks.msgs(b.commands, 2000+run)
	if err != nil {
		return measure{}, err
	}
	m, err := b.load("raw intake protocol ("+f.prefix+")", b.commands, b.clients, func(_, i int) error {
		id := uuid.NewString()
		ev := evs[i]
		toks.expect(ev, i)
		f.mu.Lock()
		f.msgs[id] = floorCmd{ev, i}
		f.mu.Unlock()
		ch := f.waiter.expect(id)
		body := `{"commandId":"` + id + `","tokenId":"` + toks.ids[i%len(toks.ids)] + `","data":{"name":"token ` + strconv.Itoa(i) + `"}}`
		msg := &nats.Msg{Subject: f.prefix + ".commands.RenameToken", Data: []byte(body), Header: nats.Header{
			nats.MsgIdHdr: {id}, "Authorization": {"Bearer " + f.s.admin}}}
		if _, err := f.cjs.PublishMsg(ctx, msg); err != nil {
			return err
		}
		select {
		case <-ch:
			return nil
		case <-time.After(30 * time.Second):
			return fmt.Errorf("raw command %s: no outcome after 30 s", id)
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil || f.proj == nil {
		return m, err
	}
	// Like the service's runs, which wait for the projector after the
	// measurement: the next run starts on a read model that has caught up.
	return m, f.proj.catchUp(ctx)
}

func (f *intakeFloor) close() {
	if f.cc != nil {
		f.cc.Stop()
	}
	close(f.work)
	f.wg.Wait()
	if f.client != nil {
		f.client.Close()
	}
	if f.proj != nil {
		f.proj.close()
	}
}
