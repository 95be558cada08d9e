//go:build cluster

package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/sdk"
)

// eventLog is the test's copy of TOKEN_EVENTS: events[i] has sequence i+1
// (the stream denies deletes and purges, so its sequences have no gaps).
type eventLog struct {
	events []natsjs.StoredEvent
}

// catchUp reads the events after the ones already read, up to the stream's
// last sequence, and returns that sequence.
func (e *eventLog) catchUp(t *testing.T, c *cluster) uint64 {
	t.Helper()
	nc, js := c.connect()
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, natsjs.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := info.State.LastSeq
	if last < uint64(len(e.events)) {
		t.Fatalf("%s lost events: its last sequence is %d, the test read %d before", natsjs.EventsStream, last, len(e.events))
	}
	if last == uint64(len(e.events)) {
		return last
	}
	// Batched direct gets from the next sequence on: any replica that is
	// current answers, 256 messages at a time. A replica that lags ends its
	// batch early, and the next request asks again from there; a request
	// that finds no responders while the cluster settles is repeated.
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	subject := "$JS.API.DIRECT.GET." + natsjs.EventsStream
	failures := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if failures++; failures > 40 {
			t.Fatalf(format, args...)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for uint64(len(e.events)) < last {
		from := uint64(len(e.events)) + 1
		req, _ := json.Marshal(map[string]any{"seq": from, "batch": 256, "next_by_subj": natsjs.EventsSubjects})
		if err := nc.PublishRequest(subject, inbox, req); err != nil {
			fail("direct get from %d: %v", from, err)
			continue
		}
	batch:
		for {
			msg, err := sub.NextMsg(10 * time.Second)
			if err != nil {
				fail("direct get from %d: %v", from, err)
				break
			}
			switch status := msg.Header.Get("Status"); status {
			case "":
			case "204", "404": // end of the batch, or nothing from there on that replica
				if uint64(len(e.events)) < from {
					fail("direct get from %d: status %s, no message", from, status)
				}
				break batch
			default:
				fail("direct get from %d: status %s %s", from, status, msg.Header.Get("Description"))
				break batch
			}
			seq, err := strconv.ParseUint(msg.Header.Get("Nats-Sequence"), 10, 64)
			if err != nil {
				t.Fatalf("direct get: no sequence: %v", msg.Header)
			}
			if want := uint64(len(e.events)) + 1; seq != want {
				t.Fatalf("%s: sequence %d follows %d", natsjs.EventsStream, seq, want-1)
			}
			ev, err := natsjs.DecodeEvent(msg.Data)
			if err != nil {
				t.Fatalf("sequence %d: %v", seq, err)
			}
			if id := msg.Header.Get("Nats-Msg-Id"); id != ev.ID.String() {
				t.Errorf("sequence %d: Nats-Msg-Id %q, event id %s", seq, id, ev.ID)
			}
			e.events = append(e.events, natsjs.StoredEvent{Sequence: seq, Event: ev})
		}
	}
	return last
}

// tokenState is a token as the event log says it is.
type tokenState struct {
	id, name, model string
	status          domain.Status
	version         int64
	deleted         bool
	seqs            []uint64
}

// checkReport is what one round of checks found.
type checkReport struct {
	lastSeq      uint64
	acks         int
	tokens       int // not deleted
	auditEntries int
	took         time.Duration
}

// check runs every check against the log up to its last sequence: each
// acknowledged command's event is there once, with the content the command
// asked for; the invariants hold over the whole log; both replicas'
// read models converge to the log's content, lists and audit trails alike.
func check(t *testing.T, c *cluster, log *eventLog, acks []ack) checkReport {
	t.Helper()
	start := time.Now()
	last := log.catchUp(t, c)
	events := log.events

	// Exactly once: one event per event id and per command id.
	ids := map[uuid.UUID]uint64{}
	cmds := map[uuid.UUID]uint64{}
	for _, se := range events {
		if prev, dup := ids[se.Event.ID]; dup {
			t.Errorf("event %s at sequences %d and %d", se.Event.ID, prev, se.Sequence)
		}
		ids[se.Event.ID] = se.Sequence
		if prev, dup := cmds[se.Event.CommandID]; dup {
			t.Errorf("command %s has events at sequences %d and %d", se.Event.CommandID, prev, se.Sequence)
		}
		cmds[se.Event.CommandID] = se.Sequence
		if want := domain.EventID(se.Event.CommandID, 0); se.Event.ID != want {
			t.Errorf("sequence %d: event id %s, want %s (derived from command %s)", se.Sequence, se.Event.ID, want, se.Event.CommandID)
		}
	}

	// The invariants, replaying every token's events: each change starts
	// from the value the token had; no model is assigned to an assigned
	// token; nothing but deletion follows CANCELED; nothing follows deletion.
	toks := map[string]*tokenState{}
	for _, se := range events {
		ev := se.Event
		if ev.Type.IsAccountEvent() {
			continue
		}
		ts := toks[ev.TokenID]
		if ev.Type == domain.TokenIssued {
			if ts != nil {
				t.Errorf("sequence %d: token %s issued twice", se.Sequence, ev.TokenID)
				continue
			}
			ts = &tokenState{id: ev.TokenID}
			toks[ev.TokenID] = ts
		} else if ts == nil {
			t.Errorf("sequence %d: %s of token %s, which was never issued", se.Sequence, ev.Type, ev.TokenID)
			continue
		}
		where := fmt.Sprintf("sequence %d (%s of token %s)", se.Sequence, ev.Type, ev.TokenID)
		if ts.deleted {
			t.Errorf("%s: after its TokenDeleted", where)
		}
		if ts.status == domain.StatusCanceled && ev.Type != domain.TokenDeleted {
			t.Errorf("%s: a change after CANCELED", where)
		}
		ch := ev.Data.Changes
		if ch.Name != nil {
			if from := deref(ch.Name.From); from != ts.name {
				t.Errorf("%s: name from %q, but it was %q", where, from, ts.name)
			}
			ts.name = deref(ch.Name.To)
		}
		if ch.Status != nil {
			if from := deref(ch.Status.From); from != ts.status {
				t.Errorf("%s: status from %q, but it was %q", where, from, ts.status)
			}
			to := deref(ch.Status.To)
			if ev.Type != domain.TokenIssued && !legal(ts.status, to) {
				t.Errorf("%s: status %s -> %s is no transition", where, ts.status, to)
			}
			ts.status = to
		}
		if ch.ModelID != nil {
			from, to := deref(ch.ModelID.From), deref(ch.ModelID.To)
			if from != ts.model {
				t.Errorf("%s: model from %q, but it was %q", where, from, ts.model)
			}
			if ts.model != "" && to != "" {
				t.Errorf("%s: model %s assigned to a token assigned to %s: two models", where, to, ts.model)
			}
			ts.model = to
		}
		if ev.Type == domain.TokenDeleted {
			ts.deleted = true
		}
		ts.version++
		ts.seqs = append(ts.seqs, se.Sequence)
	}

	// Every acknowledged command: its event is at the sequence the ack
	// reported, says what the command asked, and is the only one of its
	// command (checked above); the ETag is the token's version after it.
	for _, a := range acks {
		if a.seq == 0 || a.seq > last {
			t.Errorf("acknowledged %s of token %s (%s): X-Sequence %d, the log ends at %d", a.kind, a.token, a.phase, a.seq, last)
			continue
		}
		ev := events[a.seq-1].Event
		where := fmt.Sprintf("acknowledged %s of token %s (%s, X-Sequence %d, %d attempts)", a.kind, a.token, a.phase, a.seq, a.attempts)
		if ev.TokenID != a.token {
			t.Errorf("%s: the event there is %s of token %s", where, ev.Type, ev.TokenID)
			continue
		}
		ch := ev.Data.Changes
		ok := true
		switch a.kind {
		case opCreate:
			ok = ev.Type == domain.TokenIssued && ch.Name != nil && deref(ch.Name.To) == a.name && (a.model == "" && ch.ModelID == nil || ch.ModelID != nil && deref(ch.ModelID.To) == a.model)
		case opRename:
			ok = ch.Name != nil && deref(ch.Name.To) == a.name && ch.Status == nil
		case opStatus:
			ok = ch.Status != nil && string(deref(ch.Status.To)) == string(a.status) && ch.Name == nil
		case opUpdate:
			ok = ev.Type == domain.TokenUpdated && ch.Name != nil && deref(ch.Name.To) == a.name && ch.Status != nil && string(deref(ch.Status.To)) == string(a.status)
		case opAssign:
			ok = ev.Type == domain.ModelAssigned && ch.ModelID != nil && deref(ch.ModelID.To) == a.model
		case opUnassign:
			ok = ev.Type == domain.ModelUnassigned && ch.ModelID != nil && ch.ModelID.To == nil
		case opCancel:
			ok = ev.Type == domain.TokenCanceled
		case opDelete:
			ok = ev.Type == domain.TokenDeleted
		}
		if !ok {
			b, _ := json.Marshal(ev)
			t.Errorf("%s: the event there does not say it: %s", where, b)
		}
		if a.kind != opDelete {
			ts := toks[a.token]
			var v int64
			for i, s := range ts.seqs {
				if s == a.seq {
					v = int64(i + 1)
				}
			}
			if v != a.version {
				t.Errorf("%s: ETag %d, but the event is the token's event number %d", where, a.version, v)
			}
		}
	}

	// Convergence: both replicas, once they have applied the whole log,
	// list the same tokens with the same content as the log says, and
	// hold the same audit trail, entry for entry the log's events.
	var lists [][]sdk.Token
	var audits [][]sdk.AuditEntry
	for _, r := range c.replicas {
		cl := sdk.New(r.url(), c.license)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		var list []sdk.Token
		for tok, err := range cl.AllTokens(ctx, sdk.ListOptions{Sort: sdk.SortCreatedAt, Limit: 1000}, sdk.MinSequence(last)) {
			if err != nil {
				t.Fatalf("list on %s: %v", r.name, err)
			}
			list = append(list, tok)
		}
		var trail []sdk.AuditEntry
		for e, err := range cl.AllAudit(ctx, sdk.AuditOptions{Limit: 1000}, sdk.MinSequence(last)) {
			if err != nil {
				t.Fatalf("audit on %s: %v", r.name, err)
			}
			trail = append(trail, e)
		}
		cancel()
		lists = append(lists, list)
		audits = append(audits, trail)
	}
	if a, b := mustJSON(t, lists[0]), mustJSON(t, lists[1]); !bytes.Equal(a, b) {
		t.Errorf("the replicas list different tokens: %d and %d tokens; first difference: %s", len(lists[0]), len(lists[1]), firstDiff(lists[0], lists[1]))
	}
	if a, b := mustJSON(t, audits[0]), mustJSON(t, audits[1]); !bytes.Equal(a, b) {
		t.Errorf("the replicas hold different audit trails: %d and %d entries", len(audits[0]), len(audits[1]))
	}
	live := 0
	for _, ts := range toks {
		if !ts.deleted {
			live++
		}
	}
	if len(lists[0]) != live {
		t.Errorf("%s lists %d tokens, the log has %d not deleted", c.replicas[0].name, len(lists[0]), live)
	}
	for _, tok := range lists[0] {
		ts := toks[tok.ID]
		switch {
		case ts == nil || ts.deleted:
			t.Errorf("%s lists token %s, which the log has not or deleted", c.replicas[0].name, tok.ID)
		case tok.Name != ts.name || string(tok.Status) != string(ts.status) || tok.ModelID != ts.model || tok.Version != ts.version:
			t.Errorf("%s lists token %s as %q %s model %q version %d; the log says %q %s model %q version %d",
				c.replicas[0].name, tok.ID, tok.Name, tok.Status, tok.ModelID, tok.Version, ts.name, ts.status, ts.model, ts.version)
		}
	}
	trail := audits[0]
	if uint64(len(trail)) != last {
		t.Errorf("the audit trail has %d entries, the log %d events (all of the account default)", len(trail), last)
	}
	for i := 0; i < len(trail) && i < len(events); i++ {
		e, ev := trail[i], events[i]
		if e.Sequence != ev.Sequence || e.EventID != ev.Event.ID.String() || e.Type != string(ev.Event.Type) || e.CommandID != ev.Event.CommandID.String() || e.TokenID != ev.Event.TokenID {
			t.Errorf("audit entry %d: %d %s %s, the log's: %d %s %s", i, e.Sequence, e.Type, e.EventID, ev.Sequence, ev.Event.Type, ev.Event.ID)
			break
		}
	}
	// A token's own trail, for a few tokens, deleted ones included.
	var sample []*tokenState
	for _, ts := range toks {
		sample = append(sample, ts)
	}
	sort.Slice(sample, func(i, j int) bool { return sample[i].seqs[0] < sample[j].seqs[0] })
	for i := 0; i < len(sample); i += max(1, len(sample)/12) {
		ts := sample[i]
		var got [][]uint64
		for _, r := range c.replicas {
			cl := sdk.New(r.url(), c.license)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			var seqs []uint64
			for e, err := range cl.AllTokenAudit(ctx, ts.id, sdk.PageOptions{Limit: 1000}, sdk.MinSequence(last)) {
				if err != nil {
					t.Fatalf("audit of token %s on %s: %v", ts.id, r.name, err)
				}
				seqs = append(seqs, e.Sequence)
			}
			cancel()
			got = append(got, seqs)
		}
		if fmt.Sprint(got[0]) != fmt.Sprint(ts.seqs) || fmt.Sprint(got[1]) != fmt.Sprint(ts.seqs) {
			t.Errorf("audit of token %s: %v and %v, the log's events are %v", ts.id, got[0], got[1], ts.seqs)
		}
	}
	return checkReport{lastSeq: last, acks: len(acks), tokens: live, auditEntries: len(trail), took: time.Since(start)}
}

func legal(from, to domain.Status) bool {
	switch {
	case from == domain.StatusActive && (to == domain.StatusSuspended || to == domain.StatusCanceled):
		return true
	case from == domain.StatusSuspended && (to == domain.StatusActive || to == domain.StatusCanceled):
		return true
	}
	return false
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstDiff(a, b []sdk.Token) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf("at %d: %+v vs %+v", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("one list is a prefix of the other (%d vs %d)", len(a), len(b))
}
