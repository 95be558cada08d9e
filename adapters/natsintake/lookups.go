package natsintake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// lookups asks the outcomes bucket about the commands the lanes are
// carrying out, many commands per request.
//
// Why: every command the intake takes is first looked up in the bucket (a
// repeat gets its first outcome, "Two memories" in outcomes.go), and nearly
// every look-up misses. One request and its reply per command cost about
// 22 µs of CPU, client and server, some 13% of a command in tokenbench
// (measured by skipping the look-up). JetStream's batched direct get (the
// "multi_last" request, nats-server 2.11+) answers the last message of many
// subjects in one request: the messages found, then an end-of-batch.
//
// Batches form by themselves, without a timer: a look-up that finds no
// request in flight sends one at once (so a lone command waits no longer
// than before); the look-ups that come while it is in flight wait, and
// the next request carries all of them, sent by one of them. One request
// is in flight at a time, so its replies are the only ones on the inbox.
//
// It reads what kv.Get reads — the subject's last message on the bucket's
// stream, from the stream's leader or, with direct gets on, a replica —
// so it answers as the bucket would. Connected to a server older than 2.11
// (which would take the request for an empty one), it asks kv.Get, one
// command at a time.
type lookups struct {
	kv      jetstream.KeyValue // for servers without batched gets
	batched bool
	nc      *nats.Conn
	api     string // the bucket stream's direct-get subject
	prefix  string // the bucket's subject prefix, before the key
	inbox   string // replies come on inbox.<round>
	sub     *nats.Subscription
	replies chan *nats.Msg
	timeout time.Duration

	mu      sync.Mutex
	waiting []*lookup
	busy    bool   // a round is in flight, led by one of its look-ups
	round   uint64 // the last round sent
	rounds  uint64 // how many were sent (for tests)
}

// maxBatch bounds the keys of one request, well under what the server
// answers in one batch (1,024 messages).
const maxBatch = 256

// lookupTimeout bounds one request, as nats.go's default for JetStream
// API calls.
const lookupTimeout = 5 * time.Second

// lookup is one command's question and, once done, its answer.
type lookup struct {
	key   string
	found []byte // the remembered outcome, when the bucket has one
	err   error
	wake  chan struct{} // answered, or lead the next round
	lead  bool
}

func newLookups(nc *nats.Conn, kv jetstream.KeyValue) (*lookups, error) {
	bucket := kv.Bucket()
	l := &lookups{
		kv:      kv,
		batched: serverAtLeast(nc.ConnectedServerVersion(), 2, 11),
		nc:      nc,
		api:     "$JS.API.DIRECT.GET.KV_" + bucket,
		prefix:  "$KV." + bucket + ".",
		inbox:   nc.NewInbox(),
		replies: make(chan *nats.Msg, 2*maxBatch),
		timeout: lookupTimeout,
	}
	sub, err := nc.ChanSubscribe(l.inbox+".*", l.replies)
	if err != nil {
		return nil, fmt.Errorf("command intake: subscribe for outcome look-ups: %w", err)
	}
	l.sub = sub
	return l, nil
}

// close ends the subscription; call it once no look-up can start.
func (l *lookups) close() error { return l.sub.Unsubscribe() }

// get returns the remembered outcome of command id (its bucket value), or
// nil when there is none.
func (l *lookups) get(id uuid.UUID) ([]byte, error) {
	if !l.batched {
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		defer cancel()
		e, err := l.kv.Get(ctx, id.String())
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up the outcome of %s: %w", id, err)
		}
		return e.Value(), nil
	}
	q := &lookup{key: id.String(), wake: make(chan struct{}, 1)}
	l.mu.Lock()
	l.waiting = append(l.waiting, q)
	lead := !l.busy
	l.busy = true
	l.mu.Unlock()
	if !lead {
		<-q.wake
		if !q.lead {
			return q.found, q.err
		}
	}
	l.lead(q)
	return q.found, q.err
}

// lead sends one round for the look-ups waiting (q among them), answers
// them, and hands the lead to a look-up that came meanwhile, if any.
func (l *lookups) lead(q *lookup) {
	l.mu.Lock()
	n := min(len(l.waiting), maxBatch)
	batch := l.waiting[:n:n]
	l.waiting = l.waiting[n:]
	l.round++
	l.rounds++
	round := l.round
	l.mu.Unlock()

	found, err := l.fetch(round, batch)
	for _, w := range batch {
		w.found, w.err = found[w.key], err
		if w != q {
			w.wake <- struct{}{}
		}
	}

	l.mu.Lock()
	if len(l.waiting) == 0 {
		l.busy = false
		l.waiting = nil // let the old array go
		l.mu.Unlock()
		return
	}
	next := l.waiting[0]
	next.lead = true
	l.mu.Unlock()
	next.wake <- struct{}{}
}

// Status codes of the direct-get replies nats.go puts in the Status header.
const (
	statusEndOfBatch = "204"
	statusNotFound   = "404"
)

// fetch sends one multi_last request for the batch's keys and returns the
// values found by key. Keys with no message, or whose last message is a
// delete or purge marker, are not in the map.
func (l *lookups) fetch(round uint64, batch []*lookup) (map[string][]byte, error) {
	subjects := make([]string, len(batch))
	for i, q := range batch {
		subjects[i] = l.prefix + q.key
	}
	req, err := json.Marshal(struct {
		MultiLast []string `json:"multi_last"`
	}{subjects})
	if err != nil {
		return nil, err
	}
	reply := l.inbox + "." + strconv.FormatUint(round, 10)
	if err := l.nc.PublishMsg(&nats.Msg{Subject: l.api, Reply: reply, Data: req}); err != nil {
		return nil, fmt.Errorf("look up %d outcomes: %w", len(batch), err)
	}
	timer := time.NewTimer(l.timeout)
	defer timer.Stop()
	found := make(map[string][]byte)
	for {
		var m *nats.Msg
		select {
		case m = <-l.replies:
		case <-timer.C:
			return nil, fmt.Errorf("look up %d outcomes: %w", len(batch), context.DeadlineExceeded)
		}
		if m.Subject != reply {
			continue // a late reply to a round that timed out
		}
		switch status := m.Header.Get("Status"); status {
		case "":
			subject := m.Header.Get(nats.JSSubject) // Nats-Subject
			if len(subject) <= len(l.prefix) || subject[:len(l.prefix)] != l.prefix {
				return nil, fmt.Errorf("look up outcomes: a reply for subject %q", subject)
			}
			if op := m.Header.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
				continue
			}
			found[subject[len(l.prefix):]] = m.Data
		case statusEndOfBatch:
			return found, nil
		case statusNotFound:
			if m.Header.Get("Description") == "No Results" {
				return found, nil // none of the keys has a message
			}
			fallthrough
		default:
			err := fmt.Errorf("%s %s", status, m.Header.Get("Description"))
			if status == "503" {
				err = errors.Join(err, nats.ErrNoResponders)
			}
			return nil, fmt.Errorf("look up %d outcomes: %w", len(batch), err)
		}
	}
}

// serverAtLeast reports whether a server version ("2.11.3", "2.12.0-beta")
// is at least major.minor.
func serverAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
