package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/nats-io/nats.go/jetstream"
)

// ReadModelDir is the read model's directory inside the data directory.
const ReadModelDir = "readmodel"

// Rebuild recreates <dataDir>/readmodel from TOKEN_EVENTS, for `tokend
// rebuild` (with the service stopped: it takes the read model's lock and
// fails at once if a tokend holds it).
//
// It replays the stream from its first message into <dataDir>/readmodel.new,
// folding each token's state in memory and writing its view and index keys
// once at the end (audit entries and outcomes are written as they come), and
// then swaps the new directory in with the rename dance below. The result
// holds exactly the keys and values the live projector writes for the same
// messages.
//
// The swap survives a crash at any point (Open and Rebuild finish or undo it
// first, see recoverSwap):
//
//  1. build readmodel.new (a crash leaves it incomplete: it is deleted);
//  2. rename readmodel.new to readmodel.ready (now it is complete), fsync;
//  3. rename readmodel to readmodel.old, fsync;
//  4. rename readmodel.ready to readmodel, fsync;
//  5. delete readmodel.old.
//
// Every rename is atomic, so after a crash exactly one of these holds:
// readmodel.ready exists (steps 3 and 4 are redone), or readmodel exists
// (leftovers of 1 and 5 are deleted).
func Rebuild(ctx context.Context, dataDir string, js jetstream.JetStream, log *slog.Logger) error {
	return RebuildWith(ctx, dataDir, js, Options{Logger: log})
}

// RebuildWith is Rebuild with the Badger sizing of opts (its Clock is not
// used).
func RebuildWith(ctx context.Context, dataDir string, js jetstream.JetStream, opts Options) error {
	opts = opts.withDefaults()
	dir := filepath.Join(dataDir, ReadModelDir)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer lock.release()
	if err := recoverSwap(dir, opts.Logger); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	// The rebuild allocates a lot of short-lived garbage beside a large,
	// growing heap; with the service stopped, some memory for less GC work
	// is the right trade (GOGC 200: about a sixth less CPU, a third more
	// peak heap; docs/readmodel.md has the figures).
	defer debug.SetGCPercent(debug.SetGCPercent(200))
	start := time.Now()
	stats, err := build(ctx, dir+".new", js, opts)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	if err := swapIn(dir); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	opts.Logger.Info("read model rebuilt", "dir", dir, "events", stats.events, "tokens", stats.tokens,
		"keys", stats.keys, "checkpoint", stats.checkpoint.Seq, "took", time.Since(start),
		"replay", stats.replay, "write", stats.write)
	return nil
}

// rebuildInPlace rebuilds the open store's directory while it keeps serving
// its current contents, then swaps the new one in under the exclusive lock.
// The projector calls it when the log lost its tail.
func (s *Store) rebuildInPlace(ctx context.Context, js jetstream.JetStream) error {
	if _, err := build(ctx, s.dir+".new", js, s.opts); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.records.clear()
	s.licenses.clear()
	s.endUsers.clear()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close the old read model: %w", err)
	}
	swapErr := swapIn(s.dir)
	db, err := openBadger(s.dir, s.opts)
	if err != nil {
		s.closed = true // nothing to serve from: fail every query
		return errors.Join(swapErr, err)
	}
	s.db = db
	if swapErr != nil {
		return swapErr
	}
	return s.loadCheckpoint()
}

// recoverSwap finishes or undoes a swap a crash interrupted (see Rebuild).
func recoverSwap(dir string, log *slog.Logger) error {
	newDir, ready, old := dir+".new", dir+".ready", dir+".old"
	if exists(newDir) {
		log.Warn("read model: deleting an unfinished rebuild", "dir", newDir)
		if err := os.RemoveAll(newDir); err != nil {
			return err
		}
	}
	if exists(ready) {
		log.Warn("read model: finishing an interrupted rebuild swap", "dir", dir)
		return swapReady(dir)
	}
	if exists(old) {
		if !exists(dir) {
			// Not a state the dance leaves; put the old one back rather
			// than start empty.
			return renameSync(old, dir)
		}
		return os.RemoveAll(old)
	}
	return nil
}

// swapIn moves a finished <dir>.new into place: steps 2 to 5 of the dance.
func swapIn(dir string) error {
	if err := os.RemoveAll(dir + ".ready"); err != nil {
		return err
	}
	if err := renameSync(dir+".new", dir+".ready"); err != nil {
		return err
	}
	return swapReady(dir)
}

// swapReady does steps 3 to 5 for a complete <dir>.ready.
func swapReady(dir string) error {
	old := dir + ".old"
	if exists(dir) {
		if err := os.RemoveAll(old); err != nil {
			return err
		}
		if err := renameSync(dir, old); err != nil {
			return err
		}
	}
	if err := renameSync(dir+".ready", dir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

func renameSync(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	return syncDir(filepath.Dir(to))
}

// syncDir makes a rename durable: the rename is an entry of the parent
// directory, so the directory itself must be fsynced.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

type buildStats struct {
	events, tokens, keys int
	checkpoint           checkpoint
	replay, write        time.Duration
}

// build replays the whole stream, up to its last sequence when it started,
// into a fresh Badger directory and closes it.
func build(ctx context.Context, dir string, js jetstream.JetStream, opts Options) (buildStats, error) {
	var stats buildStats
	if err := os.RemoveAll(dir); err != nil {
		return stats, err
	}
	st, err := js.Stream(ctx, EventsStream)
	if err != nil {
		return stats, fmt.Errorf("stream %s: %w", EventsStream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return stats, fmt.Errorf("stream info: %w", err)
	}
	db, err := openRebuildDB(dir, opts)
	if err != nil {
		return stats, err
	}
	rw := &runWriter{db: db, run: newSortedRun(info.State.Msgs), limit: opts.RebuildMemory}
	ms := newMemState(rw)
	start := time.Now()
	err = replay(ctx, st, info.State.LastSeq, opts.Logger, func(env *envelope) error {
		stats.events++
		return ms.apply(env)
	})
	if err == nil {
		stats.tokens = len(ms.tokens)
		stats.checkpoint = ms.last
		err = ms.flush()
	}
	stats.keys = ms.w.n
	stats.replay = time.Since(start)
	if err == nil {
		err = rw.finish()
	}
	stats.write = time.Since(start) - stats.replay
	if rw.spilled {
		opts.Logger.Info("read model rebuild: the sorted run outgrew its memory bound; the rest was written in batches",
			"bound", opts.RebuildMemory)
	}
	if err := closeRebuildDB(dir, db, err); err != nil || !rw.spilled {
		return stats, err
	}
	flattenStart := time.Now()
	if err := flatten(dir, opts); err != nil {
		_ = os.RemoveAll(dir)
		return stats, err
	}
	stats.write += time.Since(flattenStart)
	return stats, nil
}

// flatten compacts a rebuilt directory into one level. A rebuild whose
// sorted run spilled wrote the rest through memtables: level-zero tables
// over the whole key range of the bottom level, whose compaction would
// otherwise fall to the first process that serves the directory — in a
// million-token read model, about 0.8 GiB of Badger's table builders in
// that process during its first minute (docs/performance.md, "Memory with
// 1,000,000 tokens"). Done here, before the directory serves anything, it
// costs the rebuild the same work and leaves a settled tree.
func flatten(dir string, opts Options) error {
	db, err := badger.Open(opts.rebuildBadgerOptions(dir))
	if err != nil {
		return fmt.Errorf("reopen %s: %w", dir, err)
	}
	err = db.Flatten(opts.NumCompactors)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("flatten %s: %w", dir, err)
	}
	return syncDir(dir)
}

// runWriter writes a rebuild into one sorted run, streamed into the new
// directory at the end — or, when the run outgrows limit bytes, streams
// what it holds at once and writes the rest with a WriteBatch: slower, but
// memory stays bounded however long the log.
type runWriter struct {
	db      *badger.DB
	run     *sortedRun
	limit   int64
	wb      *badger.WriteBatch
	spilled bool
}

func (w *runWriter) Set(k, v []byte) error {
	if w.wb != nil {
		return w.wb.Set(k, v)
	}
	if err := w.run.Set(k, v); err != nil {
		return err
	}
	if w.run.n%1024 == 0 && w.run.size() > w.limit {
		if err := w.run.writeTo(w.db); err != nil {
			return err
		}
		w.run, w.spilled = nil, true
		w.wb = w.db.NewWriteBatch()
	}
	return nil
}

func (w *runWriter) Delete(k []byte) error { return fmt.Errorf("rebuild: unexpected delete of %q", k) }

func (w *runWriter) finish() error {
	if w.wb != nil {
		return w.wb.Flush()
	}
	return w.run.writeTo(w.db)
}

// rebuildBadgerOptions are Badger's options for building a directory.
//
// StreamWriter builds bottom-level tables of BaseTableSize ×
// 2^(MaxLevels-2), each in a buffer twice that size, up to 16 at once:
// 2 MiB would mean 128 MiB buffers. 512 KiB gives 16 MiB tables and bounds
// the buffers to a few hundred MiB. (Tables written later by the running
// store use the store's own sizes.)
func (o Options) rebuildBadgerOptions(dir string) badger.Options {
	return o.badgerOptions(dir).WithBaseTableSize(o.rebuildTableSize)
}

// openRebuildDB opens a new directory for a rebuild.
func openRebuildDB(dir string, opts Options) (*badger.DB, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	db, err := badger.Open(opts.rebuildBadgerOptions(dir))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return db, nil
}

// closeRebuildDB closes a rebuilt directory and makes it durable, or
// deletes it when err (or closing) failed.
func closeRebuildDB(dir string, db *badger.DB, err error) error {
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return err
	}
	return syncDir(dir)
}

// writeRun writes a whole run into a new directory (tests build large
// read models with it).
func writeRun(dir string, opts Options, run *sortedRun) error {
	db, err := openRebuildDB(dir, opts)
	if err != nil {
		return err
	}
	return closeRebuildDB(dir, db, run.writeTo(db))
}

// replay delivers every message of st up to sequence last, decoded and in
// order, to fn. Decoding runs on its own goroutine, overlapped with fn.
func replay(ctx context.Context, st jetstream.Stream, last uint64, log *slog.Logger, fn func(*envelope) error) error {
	if last == 0 {
		return nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("ordered consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(4 * pullBuffer))
	if err != nil {
		return err
	}
	defer it.Stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		envs []envelope
		err  error
	}
	ch := make(chan result, 8)
	send := func(r result) bool {
		select {
		case ch <- r:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		defer close(ch)
		const chunk = 512
		envs := make([]envelope, 0, chunk)
		for {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				send(result{envs: envs, err: fmt.Errorf("next event: %w", err)})
				return
			}
			meta, err := msg.Metadata()
			if err != nil {
				send(result{envs: envs, err: err})
				return
			}
			env, err := decodeEvent(meta.Sequence.Stream, msg.Data())
			if err != nil {
				send(result{envs: envs, err: err})
				return
			}
			if env.Skip != "" {
				log.Error("read model: skipping an event it cannot apply", "sequence", env.Seq, "reason", env.Skip)
			}
			done := env.Seq >= last || meta.NumPending == 0
			envs = append(envs, env)
			if done || len(envs) == chunk {
				if !send(result{envs: envs}) || done {
					return
				}
				envs = make([]envelope, 0, chunk)
			}
		}
	}()
	for r := range ch {
		for i := range r.envs {
			if r.envs[i].Seq > last {
				return nil
			}
			if err := fn(&r.envs[i]); err != nil {
				return err
			}
		}
		if r.err != nil {
			return r.err
		}
	}
	return ctx.Err()
}

// memState is foldState in memory, for a rebuild: tokens, accounts, models
// and licenses are folded in maps and written once by flush; audit entries
// and outcomes go straight to the writer.
type memState struct {
	w        countingWriter
	last     checkpoint
	tokens   map[string]*tokenRecord
	accounts map[string]*accountRecord
	models   map[string]string
	licenses map[string]*LicenseRecord
	licIDs   map[string]string
}

func newMemState(w kvWriter) *memState {
	return &memState{
		w:        countingWriter{w: w},
		tokens:   make(map[string]*tokenRecord),
		accounts: make(map[string]*accountRecord),
		models:   make(map[string]string),
		licenses: make(map[string]*LicenseRecord),
		licIDs:   make(map[string]string),
	}
}

// apply folds one envelope and moves the checkpoint.
func (m *memState) apply(env *envelope) error {
	if err := applyEvent(m, env); err != nil {
		return fmt.Errorf("apply sequence %d: %w", env.Seq, err)
	}
	m.last = checkpoint{Seq: env.Seq, EventID: env.Event.ID}
	return nil
}

func (m *memState) token(acct, id string) (tokenRecord, bool, error) {
	r, ok := m.tokens[string(tokenKey(acct, id))]
	if !ok {
		return tokenRecord{}, false, nil
	}
	return *r, true, nil
}

func (m *memState) putToken(_, rec *tokenRecord) error {
	r := *rec
	m.tokens[string(tokenKey(rec.AccountID, rec.ID))] = &r
	return nil
}

func (m *memState) account(acct string) (accountRecord, bool, error) {
	a, ok := m.accounts[acct]
	if !ok {
		return accountRecord{}, false, nil
	}
	return *a, true, nil
}

func (m *memState) putAccount(acct string, rec *accountRecord) error {
	a := *rec
	m.accounts[acct] = &a
	return nil
}

func (m *memState) modelName(acct, model string) (string, bool, error) {
	n, ok := m.models[string(modelKey(acct, model))]
	return n, ok, nil
}

func (m *memState) putModel(acct, model, name string) error {
	m.models[string(modelKey(acct, model))] = name
	return nil
}

func (m *memState) licenseSha(acct, id string) (string, bool, error) {
	sha, ok := m.licIDs[string(licenseIDKey(acct, id))]
	return sha, ok, nil
}

func (m *memState) putLicense(sha string, rec *LicenseRecord) error {
	if licenseKey(sha) == nil || !validID(rec.LicenseID) {
		return nil
	}
	l := *rec
	m.licenses[sha] = &l
	m.licIDs[string(licenseIDKey(rec.AccountID, rec.LicenseID))] = sha
	return nil
}

func (m *memState) put(k, v []byte) error { return m.w.Set(k, v) }

// flush writes the folded state, each token's record, secret entry and
// index keys once, and the checkpoint. It lets go of the tokens as it
// writes them: the run that now holds their keys is written next, and
// the records (a few hundred bytes a token, GiBs for millions) would
// otherwise stay alive beside it until the rebuild ends.
func (m *memState) flush() error {
	cp := m.last
	for k, r := range m.tokens {
		if err := writeToken(&m.w, nil, r); err != nil {
			return err
		}
		delete(m.tokens, k)
	}
	m.tokens = nil
	for acct, a := range m.accounts {
		if err := m.w.Set(accountKey(acct), encodeAccount(a)); err != nil {
			return err
		}
	}
	for k, name := range m.models {
		if err := m.w.Set([]byte(k), []byte(name)); err != nil {
			return err
		}
	}
	for sha, l := range m.licenses {
		if err := m.w.Set(licenseKey(sha), encodeLicense(l)); err != nil {
			return err
		}
	}
	for k, sha := range m.licIDs {
		if err := m.w.Set([]byte(k), []byte(sha)); err != nil {
			return err
		}
	}
	if err := m.w.Set(keyLayout, []byte(layoutVersion)); err != nil {
		return err
	}
	if cp.Seq == 0 {
		return nil
	}
	return m.w.Set(keyCheckpoint, encodeCheckpoint(cp))
}
