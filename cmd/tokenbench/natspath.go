package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

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

func newOutcomeWaiter(nc *nats.Conn) (*outcomeWaiter, error) {
	w := &outcomeWaiter{waiting: map[string]chan wire.Outcome{}}
	sub, err := nc.Subscribe(natsintake.OutcomesPrefix+">", func(m *nats.Msg) {
		id := strings.TrimPrefix(m.Subject, natsintake.OutcomesPrefix)
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
	outcomes, err := natsintake.OpenOutcomes(ctx, s.js.js, 1)
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
	w, err := newOutcomeWaiter(nc)
	if err != nil {
		return err
	}
	return b.rounds(b.runs,
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
