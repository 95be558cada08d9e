package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/domain"
)

// scenario writes a varied history for two accounts through out: every
// event type, several events per token, deletions, and returns the worlds.
func scenario(t testing.TB, out sink) (a, b *world) {
	t.Helper()
	a, b = newWorld(t, "acme", out), newWorld(t, "beta", out)
	a.createAccount("Acme AI")
	b.createAccount("Beta Labs")
	a.registerModel("m-gpt", "GPT Large")
	a.registerModel("m-small", "Small")
	b.registerModel("m-b", "Beta Model")
	a.do("", domain.IssueLicense{LicenseID: "lic-acme-2", LicenseSha256: domain.HashSecret("lic-acme-2")})
	a.do("", domain.RevokeLicense{LicenseID: "lic-acme-2"})
	for i := 0; i < 24; i++ {
		model := ""
		if i%3 == 0 {
			model = "m-gpt"
		}
		note := ""
		if i%4 == 0 {
			note = fmt.Sprintf("note %d", i)
		}
		a.issue(fmt.Sprintf("a%02d", i), fmt.Sprintf("Token %c%d", 'Z'-i%5, i), 10+i, model, note)
	}
	for i := 0; i < 6; i++ {
		b.issue(fmt.Sprintf("b%02d", i), fmt.Sprintf("beta %d", i), 20, "", "")
	}
	a.do("a01", domain.RenameToken{Name: "renamed one"})
	a.do("a02", domain.ChangeNote{Note: "a note"})
	a.do("a04", domain.ChangeNote{Note: ""})
	a.do("a05", domain.ChangeExpiration{ExpirationDate: a.now.Add(100 * 24 * time.Hour).Unix()})
	a.do("a06", domain.SuspendToken{})
	a.do("a07", domain.SuspendToken{})
	a.do("a07", domain.ReactivateToken{})
	a.do("a08", domain.CancelToken{})
	a.do("a09", domain.UnassignModel{})
	a.do("a10", domain.AssignModel{ModelID: "m-small"})
	a.do("a11", domain.UpdateToken{Name: domain.Some("updated eleven"), Status: domain.Some("SUSPENDED")})
	a.do("a12", domain.DeleteToken{})
	a.do("a13", domain.SuspendToken{})
	a.do("a13", domain.DeleteToken{})
	a.do("a14", domain.CancelToken{})
	b.do("b01", domain.AssignModel{ModelID: "m-b"})
	b.do("b02", domain.DeleteToken{})
	return a, b
}

// TestProjectorEndToEnd runs the projector on a real stream and checks the
// views, lookups and trails it builds against the domain's own fold.
func TestProjectorEndToEnd(t *testing.T) {
	_, js := startJS(t)
	s := openStore(t, filepath.Join(t.TempDir(), ReadModelDir), baseTime)
	runProjector(t, NewProjector(s, js, quiet))
	a, b := scenario(t, publishSink(t, js))
	waitFor(t, s, b.lastSeq)

	for _, w := range []*world{a, b} {
		for id, tok := range w.tokens {
			got, seq, err := s.TokenState(w.acct, id)
			if err != nil || got.Snapshot().Version != tok.Version() || got.Deleted() != tok.Deleted() || seq == 0 {
				t.Fatalf("TokenState(%s) = %+v seq %d, %v; want %+v", id, got.Snapshot(), seq, err, tok.Snapshot())
			}
			gs, ws := got.Snapshot(), tok.Snapshot()
			if !gs.CreatedAt.Equal(ws.CreatedAt) || !gs.UpdatedAt.Equal(ws.UpdatedAt) {
				t.Fatalf("times of %s: %v %v, want %v %v", id, gs.CreatedAt, gs.UpdatedAt, ws.CreatedAt, ws.UpdatedAt)
			}
			gs.CreatedAt, gs.UpdatedAt, ws.CreatedAt, ws.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if gs != ws {
				t.Fatalf("TokenState(%s) = %+v, want %+v", id, gs, ws)
			}
			v, err := s.Token(w.acct, id)
			if tok.Deleted() {
				if !isCode(err, domain.CodeNotFound) {
					t.Fatalf("deleted token %s: %v", id, err)
				}
				continue
			}
			name, _ := w.account.ModelName(tok.ModelID())
			if want := NewTokenView(tok, name, baseTime); err != nil || !reflect.DeepEqual(v, want) {
				t.Fatalf("Token(%s) = %+v, %v; want %+v", id, v, err, want)
			}
		}
	}
	if _, err := s.Token("beta", "a00"); !isCode(err, domain.CodeNotFound) {
		t.Errorf("another account's token: %v", err)
	}
	if st, seq, err := s.TokenState("beta", "a00"); err != nil || st.Exists() || seq != 0 {
		t.Errorf("TokenState of another account's token: %+v %d %v", st, seq, err)
	}

	models, err := s.Models("acme")
	if err != nil || fmt.Sprint(models) != "[{m-gpt GPT Large} {m-small Small}]" {
		t.Errorf("Models = %v, %v", models, err)
	}
	if m, err := s.Model("acme", "m-b"); !isCode(err, domain.CodeNotFound) {
		t.Errorf("another account's model: %v %v", m, err)
	}
	if acc, err := s.Account("beta"); err != nil || acc != (AccountView{ID: "beta", Name: "Beta Labs"}) {
		t.Errorf("Account = %v %v", acc, err)
	}
	if _, err := s.Account("nobody"); !isCode(err, domain.CodeNotFound) {
		t.Errorf("unknown account: %v", err)
	}
	if l, ok, err := s.License(domain.HashSecret("lic-acme")); !ok || err != nil || l != (LicenseRecord{AccountID: "acme", LicenseID: "lic-acme"}) {
		t.Errorf("License = %+v %v %v", l, ok, err)
	}
	if l, ok, _ := s.License(domain.HashSecret("lic-acme-2")); !ok || !l.Revoked {
		t.Errorf("revoked license = %+v %v", l, ok)
	}
	if _, ok, _ := s.License(domain.HashSecret("nope")); ok {
		t.Error("unknown license found")
	}

	// Outcomes: the last command of b was DeleteToken b02 at b.lastSeq.
	tr, err := s.TokenAudit("beta", "b02", AuditQuery{})
	if err != nil || len(tr.Entries) != 2 || tr.Entries[1].Type != domain.TokenDeleted {
		t.Fatalf("audit of deleted b02: %+v %v", tr, err)
	}
	o, ok, err := s.CommandOutcome(tr.Entries[1].CommandID)
	if !ok || err != nil || o != (Outcome{CommandID: tr.Entries[1].CommandID, AccountID: "beta", TokenID: "b02",
		EventType: domain.TokenDeleted, Sequence: b.lastSeq, Version: 2}) {
		t.Errorf("outcome = %+v %v %v", o, ok, err)
	}
	acAudit, _ := s.AccountAudit("acme", AuditQuery{Type: domain.ModelRegistered})
	if len(acAudit.Entries) != 2 || acAudit.Entries[0].TokenID != "" {
		t.Fatalf("model registrations: %+v", acAudit)
	}
	if o, ok, _ := s.CommandOutcome(acAudit.Entries[1].CommandID); !ok || o.Version != 3 || o.TokenID != "" {
		t.Errorf("account outcome = %+v", o)
	}
	if _, ok, _ := s.CommandOutcome(uuid.New()); ok {
		t.Error("unknown command has an outcome")
	}
	full, _ := s.AccountAudit("acme", AuditQuery{Limit: 1000})
	if len(full.Entries) != a.events || full.NextCursor != nil {
		t.Errorf("acme trail has %d entries, want %d", len(full.Entries), a.events)
	}
	if lag, _ := NewProjector(s, js, quiet).Lag(); lag != 0 {
		t.Errorf("lag %d", lag)
	}
}

// TestCrashAfterCommitAppliesNothingTwice stops the projector right after
// Badger commits a batch and before the next message is taken (as a crash
// there would), then restarts a new store and projector on the same
// directory: every token's version and every trail count is exact.
func TestCrashAfterCommitAppliesNothingTwice(t *testing.T) {
	_, js := startJS(t)
	dir := filepath.Join(t.TempDir(), ReadModelDir)
	a, b := scenario(t, publishSink(t, js))

	crashes := 0
	for _, crashAt := range []uint64{1, 7, a.lastSeq / 2, b.lastSeq - 5} {
		func() {
			s := openStore(t, dir, baseTime)
			defer s.Close()
			if s.Checkpoint() >= crashAt {
				return
			}
			p := NewProjector(s, js, quiet)
			p.batchLimit = 3
			crash := errors.New("crash after commit")
			p.afterCommit = func(seq uint64) error {
				if seq >= crashAt {
					return crash
				}
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := p.Run(ctx); !errors.Is(err, crash) {
				t.Fatalf("Run = %v, want the injected crash", err)
			}
			if cp := s.Checkpoint(); cp < crashAt || cp >= b.lastSeq {
				t.Fatalf("crashed at %d, want at %d and before the end (%d)", cp, crashAt, b.lastSeq)
			}
			crashes++
		}()
	}
	if crashes < 3 {
		t.Fatalf("only %d crashes injected", crashes)
	}
	s := openStore(t, dir, baseTime)
	runProjector(t, NewProjector(s, js, quiet))
	waitFor(t, s, b.lastSeq)
	checkExact(t, s, a, b)
	sameDump(t, "after crashes vs rebuild", dumpDB(t, s), rebuildDump(t, js))
}

// checkExact checks versions and trail counts against the worlds.
func checkExact(t *testing.T, s *Store, worlds ...*world) {
	t.Helper()
	for _, w := range worlds {
		for id, tok := range w.tokens {
			st, _, err := s.TokenState(w.acct, id)
			if err != nil || st.Version() != tok.Version() {
				t.Fatalf("%s/%s at version %d (%v), want %d", w.acct, id, st.Version(), err, tok.Version())
			}
			tr, err := s.TokenAudit(w.acct, id, AuditQuery{Limit: 1000})
			if err != nil || int64(len(tr.Entries)) != tok.Version() {
				t.Fatalf("%s/%s has %d audit entries (%v), want %d", w.acct, id, len(tr.Entries), err, tok.Version())
			}
		}
		tr, err := s.AccountAudit(w.acct, AuditQuery{Limit: 1000})
		if err != nil || len(tr.Entries) != w.events {
			t.Fatalf("%s has %d audit entries (%v), want %d", w.acct, len(tr.Entries), err, w.events)
		}
		if a, _, _ := s.accountVersion(w.acct); a != w.account.Version() {
			t.Fatalf("%s account version %d, want %d", w.acct, a, w.account.Version())
		}
	}
}

// TestRedeliveredEventsAreSkipped delivers the whole stream again to a
// caught-up read model: nothing changes.
func TestRedeliveredEventsAreSkipped(t *testing.T) {
	_, js := startJS(t)
	s := openStore(t, filepath.Join(t.TempDir(), ReadModelDir), baseTime)
	a, b := scenario(t, publishSink(t, js))
	stop := runProjector(t, NewProjector(s, js, quiet))
	waitFor(t, s, b.lastSeq)
	_ = stop()
	before := dumpDB(t, s)

	p := NewProjector(s, js, quiet)
	p.startSeq = 1
	delivered := make(chan uint64, 1024)
	p.afterCommit = func(seq uint64) error { delivered <- seq; return nil }
	stop = runProjector(t, p)
	// One more event proves the consumer went through the old ones.
	a.do("a00", domain.RenameToken{Name: "after redelivery"})
	waitFor(t, s, a.lastSeq)
	_ = stop()
	checkExact(t, s, a, b)
	after := dumpDB(t, s)
	if len(after) != len(before)+3 { // the rename's audit ×2 and outcome
		t.Errorf("keys before %d, after %d: want 3 more", len(before), len(after))
	}
	sameDump(t, "redelivered vs rebuild", after, rebuildDump(t, js))
}

// TestDeleteDirectoryAndRestart deletes the Badger directory of a
// caught-up read model and starts again: every view, index and audit entry
// comes back, byte for byte.
func TestDeleteDirectoryAndRestart(t *testing.T) {
	_, js := startJS(t)
	dir := filepath.Join(t.TempDir(), ReadModelDir)
	s := openStore(t, dir, baseTime)
	stop := runProjector(t, NewProjector(s, js, quiet))
	_, b := scenario(t, publishSink(t, js))
	waitFor(t, s, b.lastSeq)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	before := dumpDB(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, baseTime)
	if s.Checkpoint() != 0 {
		t.Fatalf("fresh store at %d", s.Checkpoint())
	}
	runProjector(t, NewProjector(s, js, quiet))
	waitFor(t, s, b.lastSeq)
	after := dumpDB(t, s)
	sameDump(t, "restarted vs before", after, before)
	for _, p := range []string{"t", "s", "x", "u", "v", "o", "c", "d", "l", "k", "!"} {
		if countPrefix(before, p) == 0 {
			t.Errorf("no %q keys in the dump: the scenario misses a key family", p)
		}
	}
}

// TestRebuildMatchesLive compares the live projector's store with a
// Rebuild of the same stream, key for key and byte for byte; and checks
// that Rebuild replaces an existing read model and refuses to run while a
// tokend holds the directory.
func TestRebuildMatchesLive(t *testing.T) {
	_, js := startJS(t)
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, ReadModelDir)
	s := openStore(t, dir, baseTime)
	stop := runProjector(t, NewProjector(s, js, quiet))
	_, b := scenario(t, publishSink(t, js))
	waitFor(t, s, b.lastSeq)
	live := dumpDB(t, s)
	sameDump(t, "rebuild vs live", rebuildDump(t, js), live)

	ctx := context.Background()
	if err := Rebuild(ctx, dataDir, js, quiet); err == nil || !strings.Contains(err.Error(), "in use by another tokend") {
		t.Fatalf("Rebuild while open = %v", err)
	}
	_ = stop()
	_ = s.Close()
	if err := Rebuild(ctx, dataDir, js, quiet); err != nil {
		t.Fatal(err)
	}
	sameDump(t, "rebuilt in place vs live", dumpDir(t, dir), live)
	for _, leftover := range []string{".new", ".ready", ".old"} {
		if exists(dir + leftover) {
			t.Errorf("%s left behind", dir+leftover)
		}
	}
}

// TestSpilledRebuildIsFlattened rebuilds with a sorted run too small for
// the stream, so that the rest goes through memtables, and checks that the
// directory it leaves matches the live read model and holds its tables in
// one level: no compaction is left for the process that serves it.
func TestSpilledRebuildIsFlattened(t *testing.T) {
	_, js := startJS(t)
	s := openStore(t, filepath.Join(t.TempDir(), ReadModelDir), baseTime)
	stop := runProjector(t, NewProjector(s, js, quiet))
	a, _ := scenario(t, publishSink(t, js))
	for i := range 200 { // past the first check of the run's size, at 1,024 keys
		a.issue(fmt.Sprintf("bulk-%03d", i), fmt.Sprintf("bulk %d", i), 30, "", "")
	}
	waitFor(t, s, a.lastSeq)
	live := dumpDB(t, s)
	_ = stop()

	dir := filepath.Join(t.TempDir(), ReadModelDir)
	opts := Options{Logger: quiet, RebuildMemory: 4 << 10}.withDefaults()
	if _, err := build(context.Background(), dir, js, opts); err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(opts.badgerOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	var levels []string
	for _, l := range db.Levels() {
		if l.NumTables > 0 {
			levels = append(levels, fmt.Sprintf("L%d: %d tables", l.Level, l.NumTables))
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(levels) != 1 {
		t.Errorf("tables of the rebuilt directory: %v, want all in one level", levels)
	}
	sameDump(t, "spilled rebuild vs live", dumpDir(t, dir), live)
}

// TestSecondOpenFails: one tokend per data directory.
func TestSecondOpenFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ReadModelDir)
	s := openStore(t, dir, baseTime)
	_, err := Open(dir, Options{Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "is in use by another tokend") {
		t.Fatalf("second Open = %v", err)
	}
	_ = s.Close()
	s2, err := Open(dir, Options{Logger: quiet})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	_ = s2.Close()
}

// TestSwapRecovery leaves the directories as a crash would at each step of
// the rebuild's rename dance and checks that Open ends with the right one.
func TestSwapRecovery(t *testing.T) {
	mark := func(t *testing.T, dir, name string) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "MARK"), []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name    string
		present []string // of "", ".new", ".ready", ".old"
		want    string   // whose MARK ends up in dir
	}{
		{"crash while building", []string{"", ".new"}, ""},
		{"crash after step 2", []string{"", ".ready"}, ".ready"},
		{"crash after step 3", []string{".old", ".ready"}, ".ready"},
		{"crash after step 4", []string{"", ".old"}, ""},
		{"first rebuild, crash after step 2", []string{".ready"}, ".ready"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), ReadModelDir)
			for _, p := range tc.present {
				mark(t, dir+p, p)
			}
			if err := recoverSwap(dir, quiet); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "MARK"))
			if err != nil || string(got) != tc.want {
				t.Fatalf("read model is %q (%v), want %q", got, err, tc.want)
			}
			for _, p := range []string{".new", ".ready", ".old"} {
				if exists(dir + p) {
					t.Errorf("%s left behind", p)
				}
			}
		})
	}
}

// TestLostTailRebuilds points a caught-up read model at a shorter copy of
// its log (as JetStream can be after an OS crash), and at a copy whose
// last events are other ones at the same sequences: the projector notices,
// rebuilds, and then applies the new events that reuse those sequences
// instead of skipping them.
func TestLostTailRebuilds(t *testing.T) {
	for _, tc := range []struct {
		name string
		// extra is how many other events the copy gets before the read
		// model is pointed at it.
		extra int
	}{
		{"shorter log", 0},
		{"other events at the same sequences", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, jsA := startJS(t)
			_, jsB := startJS(t)
			a, b := scenario(t, tee(publishSink(t, jsB), publishSink(t, jsA)))
			forkSeq := b.lastSeq
			// The original log goes on; the copy lost those events.
			a2, b2 := a.fork(publishSink(t, jsB), "copy"), b.fork(publishSink(t, jsB), "copy")
			a.out = publishSink(t, jsA)
			for i := 0; i < 5; i++ {
				a.do(fmt.Sprintf("a%02d", 15+i), domain.RenameToken{Name: fmt.Sprintf("lost %d", i)})
			}
			lost := a.lastSeq

			dir := filepath.Join(t.TempDir(), ReadModelDir)
			s := openStore(t, dir, baseTime)
			stop := runProjector(t, NewProjector(s, jsA, quiet))
			waitFor(t, s, lost)
			_ = stop()
			_ = s.Close()

			for i := 0; i < tc.extra; i++ {
				a2.do(fmt.Sprintf("a%02d", 15+i%5), domain.RenameToken{Name: fmt.Sprintf("copy %d", i)})
			}
			s = openStore(t, dir, baseTime)
			if s.Checkpoint() != lost {
				t.Fatalf("reopened at %d, want %d", s.Checkpoint(), lost)
			}
			var logs strings.Builder
			stop = runProjector(t, NewProjector(s, jsB, slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))))
			// New events on the copy, reusing the lost sequences.
			b2.issue("b10", "new on the copy", 30, "", "")
			for i := 0; i < 6; i++ {
				a2.do(fmt.Sprintf("a%02d", 15+i%5), domain.ChangeNote{Note: fmt.Sprintf("new %d", i)})
			}
			if forkSeq >= lost || a2.lastSeq <= lost {
				t.Fatalf("fork at %d, original at %d, copy at %d: the copy must reuse the lost sequences", forkSeq, lost, a2.lastSeq)
			}
			waitFor(t, s, a2.lastSeq)
			// The rebuild ran in the background: wait until the read model
			// holds the copy's last event, not merely its sequence.
			deadline := time.Now().Add(20 * time.Second)
			for s.checkpointID().EventID != lastEventID(t, jsB) && time.Now().Before(deadline) {
				waitFor(t, s, s.Checkpoint()+1)
			}
			checkExact(t, s, a2, b2)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), "rebuilding from the event stream") {
				t.Errorf("no rebuild logged:\n%s", logs.String())
			}
			sameDump(t, "after lost tail vs rebuild of the copy", dumpDB(t, s), rebuildDump(t, jsB))
		})
	}
}

func lastEventID(t testing.TB, js jetstream.JetStream) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	env, err := decodeEvent(info.State.LastSeq, msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	return env.Event.ID
}

// TestLag reports the sequences and the age of what the projector has not
// applied yet, and zero once it has caught up.
func TestLag(t *testing.T) {
	_, js := startJS(t)
	s := openStore(t, filepath.Join(t.TempDir(), ReadModelDir), baseTime)
	w := newWorld(t, "acme", publishSink(t, js))
	w.createAccount("Acme")
	for i := 0; i < 20; i++ {
		w.issue(fmt.Sprintf("t%02d", i), "x", 10, "", "")
	}
	p := NewProjector(s, js, quiet)
	p.batchLimit = 1
	hold, held := make(chan struct{}), make(chan struct{}, 1)
	p.afterCommit = func(seq uint64) error {
		if seq == 3 {
			held <- struct{}{}
			<-hold
		}
		return nil
	}
	runProjector(t, p)
	<-held
	time.Sleep(20 * time.Millisecond)
	seqs, age := p.Lag()
	if seqs != w.lastSeq-3 || age <= 0 {
		t.Errorf("Lag while held at 3 = %d, %v; want %d and an age", seqs, age, w.lastSeq-3)
	}
	close(hold)
	waitFor(t, s, w.lastSeq)
	if seqs, age := p.Lag(); seqs != 0 || age != 0 {
		t.Errorf("Lag when caught up = %d, %v", seqs, age)
	}
}

// TestLostTailWhileRunning replaces the NATS server under a running
// projector with one whose log lost its last events (as a cluster's
// server that crashed with unsynced messages would come back), then writes
// new events at the lost sequences: the projector notices and rebuilds.
func TestLostTailWhileRunning(t *testing.T) {
	storeDir, shortDir := t.TempDir(), t.TempDir()
	srv, js := startJSAt(t, storeDir)
	port := srv.Addr().(*net.TCPAddr).Port
	w := newWorld(t, "acme", publishSink(t, js))
	w.createAccount("Acme")
	for i := 0; i < 10; i++ {
		w.issue(fmt.Sprintf("t%02d", i), "kept", 10, "", "")
	}
	short := w.fork(nil, "after the crash")
	srv.Shutdown()
	srv.WaitForShutdown()
	copyDir(t, storeDir, shortDir)
	srv = restartJS(t, storeDir, port)
	waitJS(t, js)
	for i := 0; i < 5; i++ {
		w.do(fmt.Sprintf("t%02d", i), domain.RenameToken{Name: "lost"})
	}

	s := openStore(t, filepath.Join(t.TempDir(), ReadModelDir), baseTime)
	var logs strings.Builder
	stop := runProjector(t, NewProjector(s, js, slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))))
	waitFor(t, s, w.lastSeq)

	srv.Shutdown()
	srv.WaitForShutdown()
	restartJS(t, shortDir, port)
	waitJS(t, js)
	short.out = publishSink(t, js)
	for i := 0; i < 8; i++ {
		short.do(fmt.Sprintf("t%02d", 5+i%5), domain.ChangeNote{Note: fmt.Sprintf("new %d", i)})
	}
	catchUp := func() {
		deadline := time.Now().Add(30 * time.Second)
		for s.checkpointID().EventID != lastEventID(t, js) && time.Now().Before(deadline) {
			_ = s.WaitFor(context.Background(), s.Checkpoint()+1, time.Second)
		}
	}
	catchUp()
	// The projector kept t00's record as it wrote it, renamed "lost": after
	// the swap it must fold t00's next event onto the rebuilt record.
	short.do("t00", domain.ChangeNote{Note: "after the rebuild"})
	catchUp()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExact(t, s, short)
	if !strings.Contains(logs.String(), "rebuilding from the event stream") {
		t.Errorf("no rebuild logged:\n%s", logs.String())
	}
	sameDump(t, "after the lost tail vs rebuild", dumpDB(t, s), rebuildDump(t, js))
}

// restartJS starts a JetStream server on storeDir at a fixed port, so that
// the clients of the previous one reconnect to it.
func restartJS(t testing.TB, storeDir string, port int) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return srv
}

// waitJS waits until js's connection is back and its stream answers: a
// publish sent while the client reconnects can lose its acknowledgement.
func waitJS(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := js.Stream(ctx, EventsStream)
		if err == nil {
			_, err = st.Info(ctx)
		}
		cancel()
		if err == nil && js.Conn().IsConnected() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream not back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOtherLayoutRebuilds: a read model written with another key layout
// (or before layouts were recorded) is rebuilt, not misread.
func TestOtherLayoutRebuilds(t *testing.T) {
	for _, layout := range []string{"0", ""} {
		t.Run(fmt.Sprintf("layout %q", layout), func(t *testing.T) {
			_, js := startJS(t)
			dir := filepath.Join(t.TempDir(), ReadModelDir)
			s := openStore(t, dir, baseTime)
			stop := runProjector(t, NewProjector(s, js, quiet))
			_, b := scenario(t, publishSink(t, js))
			waitFor(t, s, b.lastSeq)
			_ = stop()
			err := s.db.Update(func(txn *badger.Txn) error {
				if err := txn.Set(tokenKey("acme", "a00"), []byte("garbage of another layout")); err != nil {
					return err
				}
				if layout == "" {
					return txn.Delete(keyLayout)
				}
				return txn.Set(keyLayout, []byte(layout))
			})
			if err != nil {
				t.Fatal(err)
			}
			_ = s.Close()

			s = openStore(t, dir, baseTime)
			if !s.stale.Load() {
				t.Fatal("not marked stale")
			}
			runProjector(t, NewProjector(s, js, quiet))
			deadline := time.Now().Add(20 * time.Second)
			for s.stale.Load() && time.Now().Before(deadline) {
				_ = s.WaitFor(context.Background(), s.Checkpoint()+1, 100*time.Millisecond)
			}
			if s.stale.Load() {
				t.Fatal("not rebuilt")
			}
			sameDump(t, "rebuilt from another layout", dumpDB(t, s), rebuildDump(t, js))
		})
	}
}
