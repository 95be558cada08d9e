package natsjs

import (
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
)

// waiterBuffer holds one direct-get batch (loadBatch messages and the
// end-of-batch marker) with room to spare: a waiter never has more than one
// batch outstanding, so the mux never has to drop an answer.
const waiterBuffer = loadBatch + 8

// inboxMux routes the answers of multi-message requests (batched direct
// gets) from one wildcard inbox subscription to their waiters, like
// nats.go's own request mux does for single answers. A subscription per
// request would cost a SUB and UNSUB on the wire and, for a synchronous
// subscription, a 64K-slot channel (512 KiB) per Load. The zero inboxMux is
// ready; it subscribes on first use and lives as long as the connection.
type inboxMux struct {
	once    sync.Once
	initErr error
	prefix  string // <inbox>.

	mu      sync.Mutex
	next    uint64
	waiters map[string]*waiter
	pool    sync.Pool // of chan *nats.Msg
}

// waiter is one in-flight request: its reply subject and its answers.
type waiter struct {
	token string
	inbox string
	ch    chan *nats.Msg
}

func (x *inboxMux) init(nc *nats.Conn) error {
	x.once.Do(func() {
		x.prefix = nc.NewInbox() + "."
		x.waiters = make(map[string]*waiter)
		_, x.initErr = nc.Subscribe(x.prefix+"*", x.dispatch)
	})
	return x.initErr
}

// dispatch runs on the subscription's goroutine. It sends under the lock so
// that release, once it has removed a waiter, knows nothing more arrives.
func (x *inboxMux) dispatch(m *nats.Msg) {
	token := m.Subject[len(x.prefix):]
	x.mu.Lock()
	defer x.mu.Unlock()
	w := x.waiters[token]
	if w == nil {
		return // late answer of a request that gave up
	}
	select {
	case w.ch <- m:
	default: // cannot happen with one batch in flight; the waiter times out
	}
}

// register returns a new waiter with its own reply subject.
func (x *inboxMux) register(nc *nats.Conn) (*waiter, error) {
	if err := x.init(nc); err != nil {
		return nil, err
	}
	ch, _ := x.pool.Get().(chan *nats.Msg)
	if ch == nil {
		ch = make(chan *nats.Msg, waiterBuffer)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.next++
	token := strconv.FormatUint(x.next, 36)
	w := &waiter{token: token, inbox: x.prefix + token, ch: ch}
	x.waiters[token] = w
	return w, nil
}

// release forgets w and recycles its channel, emptied.
func (x *inboxMux) release(w *waiter) {
	x.mu.Lock()
	delete(x.waiters, w.token)
	x.mu.Unlock()
drain:
	for {
		select {
		case <-w.ch:
		default:
			break drain
		}
	}
	x.pool.Put(w.ch)
}
