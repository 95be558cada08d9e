package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

// Row names of the raw baselines.
const (
	rowSync1     = "JetStream sync publish, 1 client"
	rowSyncN     = "JetStream sync publish, %d clients"
	rowAsync     = "JetStream async publish, expected-sequence headers"
	rowWB        = "Badger WriteBatch sets"
	rowGetToken  = "Badger Get, token key"
	rowGetSecret = "Badger Get, secret key"
	rowBareHTTP  = "bare net/http, fixed JSON, %d connections"
)

// jsServer is a JetStream server for one phase, with the service's
// streams: embedded in its own directory, or (emb nil) reached at a URL.
type jsServer struct {
	emb *natsjs.Embedded
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
}

// startJS starts an embedded JetStream server in dir. subjectCache keeps
// its subject-match cache, as tokend rebuild does and as nats-server does
// by default (the peer); tokend serve runs without it
// (natsjs.EmbeddedConfig.SubjectCache).
func (b *bench) startJS(ctx context.Context, dir string, subjectCache bool) (*jsServer, error) {
	emb, err := natsjs.StartEmbedded(natsjs.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: dir, Logger: b.quiet, SubjectCache: subjectCache})
	if err != nil {
		return nil, err
	}
	s, err := b.connectJS(ctx, emb.ClientURL())
	if err != nil {
		emb.Shutdown()
		return nil, err
	}
	s.emb = emb
	return s, nil
}

// connectJS connects to the server at url and ensures the streams.
func (b *bench) connectJS(ctx context.Context, url string) (*jsServer, error) {
	nc, _, err := natsjs.Connect(url, "tokenbench", b.quiet)
	if err != nil {
		return nil, err
	}
	// A larger async window than the default 4,000 for the bulk loads.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		nc.Close()
		return nil, err
	}
	if err := natsjs.EnsureStreams(ctx, js, 1); err != nil {
		nc.Close()
		return nil, err
	}
	return &jsServer{url: url, nc: nc, js: js}, nil
}

func (s *jsServer) close() {
	s.nc.Close()
	if s.emb != nil {
		s.emb.Shutdown()
	}
}

// renamed is the event a RenameToken command of the service emits, with
// the same field sizes: a token id and license id that are UUIDs, names
// like the service phase's.
func renamed(account, token, license string, from, to string, now time.Time) domain.Event {
	cmd := uuid.New()
	return domain.Event{
		ID: domain.EventID(cmd, 0), Type: domain.TokenRenamed, SchemaVersion: domain.SchemaVersion,
		AccountID: account, TokenID: token, CommandID: cmd,
		Actor: domain.Actor{Kind: domain.ActorLicense, ID: license}, At: now.UTC(),
		Data: domain.EventData{Changes: domain.Changes{Name: &domain.Change[string]{From: &from, To: &to}}},
	}
}

// eventMsg is the message EventStore.Append sends for ev, without the
// expected-sequence header (set per publish).
func eventMsg(ev domain.Event) (*nats.Msg, error) {
	body, err := natsjs.EncodeEvent(ev)
	if err != nil {
		return nil, err
	}
	return &nats.Msg{Subject: natsjs.EventSubject(ev.AccountID, ev.Subject()), Header: natsjs.EventHeaders(ev), Data: body}, nil
}

// rawTokens is a set of token subjects and the stream sequence of each
// one's last message, for publishes with a correct
// Nats-Expected-Last-Subject-Sequence.
type rawTokens struct {
	prefix string // of the subjects: "raw" gives raw.events.<account>.<token>
	ids    []string
	last   []atomic.Uint64
}

// msgs builds n rename messages, the i-th for token i % len(ids).
func (t *rawTokens) msgs(n, run int) ([]*nats.Msg, error) {
	license := uuid.NewString()
	now := time.Now()
	out := make([]*nats.Msg, n)
	for i := range out {
		k := i % len(t.ids)
		m, err := eventMsg(renamed(domain.DefaultAccountID, t.ids[k], license,
			fmt.Sprintf("token %d", k), fmt.Sprintf("token %d r%d.%d", k, run, i), now))
		if err != nil {
			return nil, err
		}
		m.Subject = t.prefix + "." + strings.TrimPrefix(m.Subject, "tokens.")
		out[i] = m
	}
	return out, nil
}

func (t *rawTokens) acked(i int, seq uint64) { t.last[i%len(t.ids)].Store(seq) }

func (t *rawTokens) expect(m *nats.Msg, i int) {
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(t.last[i%len(t.ids)].Load(), 10))
}

// asyncWindow is how many async publishes are in flight at once, as in
// natsjs' BenchmarkRawPublishAsync.
const asyncWindow = 256

// publishAsync publishes n messages, msg(i) building the i-th just before
// it is sent, with at most asyncWindow in flight, and hands each stream
// sequence to onAck (in order of sending) as its acknowledgement arrives.
// Expected-sequence headers set in msg from earlier acknowledgements are
// right as long as a subject's previous message is more than asyncWindow
// messages back.
func publishAsync(ctx context.Context, js jetstream.JetStream, n int, msg func(i int) (*nats.Msg, error), onAck func(i int, seq uint64)) error {
	window := make([]jetstream.PubAckFuture, asyncWindow)
	slotOf := make([]int, asyncWindow)
	wait := func(slot int) error {
		f := window[slot]
		if f == nil {
			return nil
		}
		select {
		case a := <-f.Ok():
			if onAck != nil {
				onAck(slotOf[slot], a.Sequence)
			}
		case err := <-f.Err():
			return fmt.Errorf("message %d: %w", slotOf[slot], err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
			return fmt.Errorf("message %d: %w", slotOf[slot], errTimeout)
		}
		window[slot] = nil
		return nil
	}
	for i := range n {
		slot := i % asyncWindow
		if err := wait(slot); err != nil {
			return err
		}
		m, err := msg(i)
		if err != nil {
			return err
		}
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			return err
		}
		window[slot], slotOf[slot] = f, i
	}
	for k := range asyncWindow {
		if err := wait((n + k) % asyncWindow); err != nil {
			return err
		}
	}
	return nil
}

// bareBody is the bare handler's answer: about the size of an active
// introspection.
var bareBody = []byte(`{"active":true,"id":"0b6f1e2a-6c1d-5b8e-9f3a-2d4c6e8a0b1c","name":"token 1234","expirationDate":1798761600,"status":"ACTIVE","expired":false,"modelId":"5d8c2a1e-3b4f-5a6c-8d7e-9f0a1b2c3d4e","modelName":"bench-model","createdAt":1764190000,"updatedAt":1764190000}` + "\n")

// rawStream is the raw JetStream baseline on the service's own server: a
// stream with TOKEN_EVENTS' settings (natsjs.EventsStreamConfig) under
// another name and subjects, holding as many token subjects as the service,
// one message each, and publishes of the very messages EventStore.Append
// sends (the same body, CloudEvents headers and a correct
// Nats-Expected-Last-Subject-Sequence).
type rawStream struct {
	name string
	js   jetstream.JetStream
	toks *rawTokens
}

func (b *bench) newRawStream(ctx context.Context, s *jsServer) (*rawStream, error) {
	return b.newEventStream(ctx, s, "RAW_EVENTS", "raw", "tokenbench: the raw publish baseline")
}

// newEventStream creates a stream with TOKEN_EVENTS' settings named name,
// on prefix.events.>, and seeds it with one message for each of as many
// tokens as the service has.
func (b *bench) newEventStream(ctx context.Context, s *jsServer, name, prefix, description string) (*rawStream, error) {
	cfg := natsjs.EventsStreamConfig(1)
	cfg.Name, cfg.Subjects, cfg.Description = name, []string{prefix + ".events.>"}, description
	if _, err := s.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return nil, err
	}
	r := &rawStream{name: name, js: s.js, toks: &rawTokens{prefix: prefix, ids: make([]string, b.tokens), last: make([]atomic.Uint64, b.tokens)}}
	for i := range r.toks.ids {
		r.toks.ids[i] = uuid.NewString()
	}
	seed, err := r.toks.msgs(b.tokens, -1)
	if err != nil {
		return nil, err
	}
	if err := publishAsync(ctx, s.js, len(seed), func(i int) (*nats.Msg, error) {
		r.toks.expect(seed[i], i)
		return seed[i], nil
	}, r.toks.acked); err != nil {
		return nil, err
	}
	return r, nil
}

// sync publishes n messages synchronously from clients goroutines.
func (r *rawStream) sync(ctx context.Context, b *bench, clients, n, run int) (measure, error) {
	msgs, err := r.toks.msgs(n, run)
	if err != nil {
		return measure{}, err
	}
	return b.load(fmt.Sprintf("raw sync publish x%d", clients), n, clients, func(_, i int) error {
		m := msgs[i]
		r.toks.expect(m, i)
		ack, err := r.js.PublishMsg(ctx, m)
		if err != nil {
			return err
		}
		r.toks.acked(i, ack.Sequence)
		return nil
	})
}

// async publishes n messages with asyncWindow in flight.
func (r *rawStream) async(ctx context.Context, b *bench, n, run int) (measure, error) {
	msgs, err := r.toks.msgs(n, 1000+run)
	if err != nil {
		return measure{}, err
	}
	bar := b.bar("raw async publish", n)
	defer bar.Close()
	start := time.Now()
	err = publishAsync(ctx, r.js, n, func(i int) (*nats.Msg, error) {
		r.toks.expect(msgs[i], i)
		if i%256 == 0 {
			_ = bar.Add(256)
		}
		return msgs[i], nil
	}, r.toks.acked)
	elapsed := time.Since(start)
	_ = bar.Finish()
	return measure{N: n, Elapsed: elapsed}, err
}

// bareHTTP is a bare net/http server answering every request with a fixed
// JSON body, the ceiling of any handler on this machine.
type bareHTTP struct {
	srv *http.Server
	url string
	c   *http.Client
}

func (b *bench) startBare() (*bareHTTP, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(bareBody)))
		_, _ = w.Write(bareBody)
	})}
	go srv.Serve(ln)
	return &bareHTTP{srv: srv, url: "http://" + ln.Addr().String() + "/v1/introspect", c: newHTTPClient(b.clients)}, nil
}

func (h *bareHTTP) run(b *bench, n int) (measure, error) {
	return b.load("bare net/http", n, b.clients, func(_, i int) error {
		return send(h.c, "POST", h.url, "", `{"token":"tkn_x"}`, 200, nil)
	})
}

func (h *bareHTTP) close() {
	h.c.CloseIdleConnections()
	_ = h.srv.Close()
}
