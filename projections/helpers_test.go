package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/domain"
)

// The tests run their own embedded server rather than natstest's: the
// natsjs adapter may import projections, and an internal test of
// projections importing it would be an import cycle.

var quiet = slog.New(slog.DiscardHandler)

// baseTime is the clock of the generated events: a fixed instant, so that
// runs are reproducible.
var baseTime = time.Date(2026, 11, 26, 21, 0, 0, 123456789, time.UTC)

// startJS starts an embedded JetStream server (random port, store in
// t.TempDir()) with TOKEN_EVENTS, and stops it when the test ends.
func startJS(t testing.TB) (*server.Server, jetstream.JetStream) {
	t.Helper()
	return startJSAt(t, t.TempDir())
}

func startJSAt(t testing.TB, storeDir string) (*server.Server, jetstream.JetStream) {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: storeDir,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       EventsStream,
		Subjects:   []string{"tokens.events.>"},
		Storage:    jetstream.FileStorage,
		Duplicates: 2 * time.Minute,
	}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	return srv, js
}

// openStore opens a Store in dir with a clock fixed at now.
func openStore(t testing.TB, dir string, now time.Time) *Store {
	t.Helper()
	s, err := Open(dir, Options{Clock: func() time.Time { return now }, Logger: quiet})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// sink receives generated events: publishing them to JetStream or applying
// them to a store directly. It returns the event's stream sequence.
type sink func(e domain.Event) uint64

func publishSink(t testing.TB, js jetstream.JetStream) sink {
	return func(e domain.Event) uint64 {
		t.Helper()
		body, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ack, err := js.Publish(ctx, "tokens.events."+e.AccountID+"."+e.Subject(), body, jetstream.WithMsgID(e.ID.String()))
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		return ack.Sequence
	}
}

// directSink applies each event to s through the projector's apply path
// (applyBatch), numbering sequences itself.
func directSink(t testing.TB, s *Store) sink {
	seq := s.Checkpoint()
	return func(e domain.Event) uint64 {
		t.Helper()
		seq++
		if _, err := s.applyBatch([]envelope{{Seq: seq, Event: e}}); err != nil {
			t.Fatalf("apply: %v", err)
		}
		return seq
	}
}

// world makes events the way the command service does: by deciding
// commands against the folded state. Each command moves the clock one
// second on.
type world struct {
	t       testing.TB
	acct    string
	now     time.Time
	account domain.Account
	tokens  map[string]domain.Token
	secrets map[string]string // token id -> secret
	out     sink
	n       int
	lastSeq uint64
	events  int
	salt    string // makes a fork's command ids differ from its parent's
}

// fork returns a copy of w that emits to out from now on.
func (w *world) fork(out sink, salt string) *world {
	c := *w
	c.tokens = make(map[string]domain.Token, len(w.tokens))
	for k, v := range w.tokens {
		c.tokens[k] = v
	}
	c.secrets = make(map[string]string, len(w.secrets))
	for k, v := range w.secrets {
		c.secrets[k] = v
	}
	c.out, c.salt = out, salt
	return &c
}

// tee emits to both sinks and returns the second one's sequence.
func tee(a, b sink) sink {
	return func(e domain.Event) uint64 { a(e); return b(e) }
}

func newWorld(t testing.TB, acct string, out sink) *world {
	return &world{t: t, acct: acct, now: baseTime, tokens: map[string]domain.Token{}, secrets: map[string]string{}, out: out}
}

func (w *world) command(tokenID string, body domain.CommandBody) domain.Command {
	w.n++
	return domain.Command{
		ID:        uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprintf("%s/%d/%d/%s", w.acct, w.n, w.now.UnixNano(), w.salt))),
		AccountID: w.acct,
		TokenID:   tokenID,
		Actor:     domain.Actor{Kind: domain.ActorLicense, ID: "lic-" + w.acct},
		Body:      body,
	}
}

// do decides body for tokenID ("" for an account command), folds and
// emits the event, and returns it (nil for a no-op).
func (w *world) do(tokenID string, body domain.CommandBody) *domain.Event {
	w.t.Helper()
	w.now = w.now.Add(time.Second)
	c := w.command(tokenID, body)
	var evs []domain.Event
	var err error
	if tokenID == "" {
		evs, err = domain.DecideAccount(w.account, c, w.now)
	} else {
		evs, err = domain.Decide(w.tokens[tokenID], c, domain.Rules{Now: w.now, Models: w.account})
	}
	if err != nil {
		w.t.Fatalf("decide %s %s: %v", c.Type(), tokenID, err)
	}
	if len(evs) == 0 {
		return nil
	}
	e := evs[0]
	if tokenID == "" {
		w.account = domain.EvolveAccount(w.account, e)
	} else {
		w.tokens[tokenID] = domain.Evolve(w.tokens[tokenID], e)
	}
	w.lastSeq = w.out(e)
	w.events++
	return &e
}

func (w *world) createAccount(name string) {
	w.do("", domain.CreateAccount{Name: name, LicenseID: "lic-" + w.acct, LicenseSha256: domain.HashSecret("lic-" + w.acct)})
}

func (w *world) registerModel(id, name string) {
	w.do("", domain.RegisterModel{ModelID: id, Name: name})
}

// issue issues a token expiring `days` days after now, with an optional
// model and note.
func (w *world) issue(id, name string, days int, model, note string) {
	w.t.Helper()
	secret, err := domain.NewSecret(domain.TokenSecretPrefix)
	if err != nil {
		w.t.Fatal(err)
	}
	w.secrets[id] = secret
	w.do(id, domain.IssueToken{
		Name: name, Note: note, ExpirationDate: w.now.Add(time.Duration(days) * 24 * time.Hour).Unix(),
		ModelID: model, SecretSha256: domain.HashSecret(secret), SecretHint: domain.Hint(secret),
	})
}

// kv is one key and value of a dump.
type kv struct{ k, v []byte }

// dumpDB returns every key and value of the store, in key order.
func dumpDB(t testing.TB, s *Store) []kv {
	t.Helper()
	var out []kv
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, kv{it.Item().KeyCopy(nil), v})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	return out
}

// dumpDir dumps a closed read-model directory.
func dumpDir(t testing.TB, dir string) []kv {
	t.Helper()
	s := openStore(t, dir, baseTime)
	defer s.Close()
	return dumpDB(t, s)
}

// sameDump fails the test at the first difference between two dumps.
func sameDump(t testing.TB, what string, got, want []kv) {
	t.Helper()
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(got):
			t.Fatalf("%s: missing key %q (and %d more) of %d", what, want[i].k, len(want)-i-1, len(want))
		case i >= len(want):
			t.Fatalf("%s: extra key %q (and %d more); want %d keys", what, got[i].k, len(got)-i-1, len(want))
		case !bytes.Equal(got[i].k, want[i].k):
			t.Fatalf("%s: key %d is %q, want %q", what, i, got[i].k, want[i].k)
		case !bytes.Equal(got[i].v, want[i].v):
			t.Fatalf("%s: value of %q is %q, want %q", what, got[i].k, got[i].v, want[i].v)
		}
	}
}

// countPrefix counts the dump's keys that start with prefix.
func countPrefix(d []kv, prefix string) int {
	n := 0
	for _, e := range d {
		if strings.HasPrefix(string(e.k), prefix) {
			n++
		}
	}
	return n
}

// runProjector runs p until the test ends (or stop is called) and returns
// a stop function that waits for Run to return and reports its error.
func runProjector(t testing.TB, p *Projector) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	var result error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitFor waits until s has applied seq, failing the test after 20 s.
func waitFor(t testing.TB, s *Store, seq uint64) {
	t.Helper()
	if err := s.WaitFor(context.Background(), seq, 20*time.Second); err != nil {
		t.Fatalf("wait for sequence %d (at %d): %v", seq, s.Checkpoint(), err)
	}
}

// rebuildDump runs Rebuild into a fresh data directory and dumps it.
func rebuildDump(t testing.TB, js jetstream.JetStream) []kv {
	t.Helper()
	dataDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := Rebuild(ctx, dataDir, js, quiet); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	return dumpDir(t, filepath.Join(dataDir, ReadModelDir))
}

func ids(views []TokenView) []string {
	out := make([]string, len(views))
	for i, v := range views {
		out[i] = v.ID
	}
	return out
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

func isCode(err error, code domain.Code) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Code == code
}

// syncWriter serialises writes to w (a log shared by goroutines).
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// liveAcme is a read model with its projector running on a fresh JetStream
// server, and a world publishing to it whose account "acme" exists.
func liveAcme(t *testing.T) (*Store, *world) {
	t.Helper()
	_, js := startJS(t)
	s := openStore(t, filepath.Join(t.TempDir(), ReadModelDir), baseTime)
	runProjector(t, NewProjector(s, js, quiet))
	w := newWorld(t, "acme", publishSink(t, js))
	w.createAccount("Acme")
	return s, w
}
