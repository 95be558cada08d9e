package natsintake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// every look-up misses. One request and its reply per command, and the
// handler's wait for it, cost about 20 µs of CPU per command in tokenbench
// (measured by skipping the look-up), more in the scheduler's wake-ups than
// in the request itself. JetStream's batched direct get (the "multi_last"
// request, nats-server 2.11+) answers the last message of many subjects in
// one request: the messages found, then an end-of-batch.
//
// One goroutine (run) sends the requests, one at a time: a look-up that
// finds it idle goes out at once, and those that come while a request is
// in flight go together in the next. The lanes start a command's look-up
// as soon as its message arrives (prefetch), so it is usually answered by
// the time a worker takes the command, which then does not wait at all.
//
// It reads what kv.Get reads — the subject's last message on the bucket's
// stream, from the stream's leader or, with direct gets on, a replica —
// so it answers as the bucket would. Connected to a server older than 2.11
// (which would take the request for an empty one), it asks kv.Get, one
// command at a time, when the command runs.
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
	closed  bool
	kick    chan struct{} // run has look-ups to send
	quit    chan struct{}
	stopped chan struct{} // run returned
	round   uint64        // the last round sent (run's own)
	rounds  atomic.Uint64 // how many were sent (for tests)
}

// maxBatch bounds the keys of one request, well under what the server
// answers in one batch (1,024 messages).
const maxBatch = 256

// lookupTimeout bounds one request, as nats.go's default for JetStream
// API calls.
const lookupTimeout = 5 * time.Second

// errLookupsClosed answers the look-ups still waiting when the intake closes.
var errLookupsClosed = errors.New("command intake: closing, the outcome was not looked up")

// lookup is one command's question and, once done is closed, its answer.
type lookup struct {
	id      uuid.UUID
	key     string // id as the bucket's key
	found   []byte // the remembered outcome, when the bucket has one
	err     error
	done    chan struct{}
	claimed atomic.Bool
}

// wait returns the answer: the bucket's value, or nil when there is none.
func (q *lookup) wait() ([]byte, error) {
	<-q.done
	return q.found, q.err
}

// claim reports whether the caller is the first to take this answer: a
// prefetched answer serves a command's first attempt only, and a retry
// asks again, since the attempt before it may have remembered an outcome.
func (q *lookup) claim() bool { return q.claimed.CompareAndSwap(false, true) }

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
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if !l.batched {
		close(l.stopped)
		return l, nil
	}
	sub, err := nc.ChanSubscribe(l.inbox+".*", l.replies)
	if err != nil {
		return nil, fmt.Errorf("command intake: subscribe for outcome look-ups: %w", err)
	}
	l.sub = sub
	go l.run()
	return l, nil
}

// close answers the look-ups still waiting with errLookupsClosed, stops
// run and ends the subscription.
func (l *lookups) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.stopped
	if l.sub == nil {
		return nil
	}
	return l.sub.Unsubscribe()
}

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
	return l.start(id).wait()
}

// start queues the look-up of command id and returns it at once; nil when
// look-ups are not batched (the command asks kv.Get when it runs).
func (l *lookups) start(id uuid.UUID) *lookup {
	if !l.batched {
		return nil
	}
	q := &lookup{id: id, key: id.String(), done: make(chan struct{})}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		q.err = errLookupsClosed
		close(q.done)
		return q
	}
	l.waiting = append(l.waiting, q)
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default: // run was kicked already and will find q
	}
	return q
}

// run sends the waiting look-ups, up to maxBatch a request, until close.
func (l *lookups) run() {
	defer close(l.stopped)
	for {
		select {
		case <-l.kick:
		case <-l.quit:
			l.mu.Lock()
			left := l.waiting
			l.waiting = nil
			l.mu.Unlock()
			answer(left, nil, errLookupsClosed)
			return
		}
		for {
			l.mu.Lock()
			n := min(len(l.waiting), maxBatch)
			batch := l.waiting[:n:n]
			l.waiting = l.waiting[n:]
			if len(l.waiting) == 0 {
				l.waiting = nil // let the old array go
			}
			l.mu.Unlock()
			if n == 0 {
				break
			}
			l.round++
			l.rounds.Add(1)
			found, err := l.fetch(l.round, batch)
			answer(batch, found, err)
		}
	}
}

func answer(batch []*lookup, found map[string][]byte, err error) {
	for _, q := range batch {
		q.found, q.err = found[q.key], err
		close(q.done)
	}
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
		case <-l.quit:
			return nil, errLookupsClosed
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
