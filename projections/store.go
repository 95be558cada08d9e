package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tokend/tokend/domain"
)

// Options tunes a Store. The zero Options is ready to use: time.Now as the
// clock, slog.Default as the logger and the Badger sizing documented in
// docs/readmodel.md for a 2-core machine with a few GiB of memory.
type Options struct {
	// Clock decides `expired` at query time; nil means time.Now.
	Clock func() time.Time
	// Logger receives the projector's and Badger's warnings; nil means
	// slog.Default().
	Logger *slog.Logger

	// MemTableSize is the size of one Badger memtable (default 32 MiB).
	MemTableSize int64
	// NumMemtables is how many memtables may be held before writes stall
	// (default 3).
	NumMemtables int
	// BlockCacheSize is the cache of decompressed table blocks (default 64 MiB).
	BlockCacheSize int64
	// IndexCacheSize bounds the memory of table indexes and bloom filters
	// (default 32 MiB).
	IndexCacheSize int64
	// ValueThreshold is the size above which a value goes to the value log
	// rather than into the LSM tree (default 1 KiB).
	ValueThreshold int64
	// ValueLogFileSize is the size of one value-log file (default 128 MiB).
	ValueLogFileSize int64
	// NumCompactors is the number of compaction goroutines (default 2, the
	// minimum Badger accepts).
	NumCompactors int
	// GCInterval is how often the value log is garbage collected (default
	// 5 minutes; negative disables it).
	GCInterval time.Duration
	// GCDiscardRatio is the share of stale data that makes a value-log file
	// worth rewriting (default 0.5).
	GCDiscardRatio float64
	// RecordCacheSize is how many token records the projector keeps in
	// memory to fold their next events without reading them back
	// (default DefaultRecordCacheSize; negative keeps none).
	RecordCacheSize int
	// EndUserCacheSize is how many end-user views Introspect keeps in
	// memory (default DefaultEndUserCacheSize; negative keeps none).
	EndUserCacheSize int
	// SyncWrites makes every commit wait for fsync. It is off by default:
	// the stream is the source of truth and the checkpoint in Badger says
	// where to resume, so a lost last transaction is simply applied again.
	SyncWrites bool

	// RebuildMemory bounds the memory of a rebuild's sorted run (default
	// DefaultRebuildMemory): a log whose keys and values fit in it is
	// written straight to the bottom of the LSM tree; past it, the rest
	// goes through memtables and the directory is compacted before it
	// serves, slower (docs/readmodel.md "Rebuild").
	RebuildMemory int64

	// rebuildTableSize is the base table size of a rebuilt directory
	// (tests make it small: the race detector pays for big buffers).
	rebuildTableSize int64
}

// DefaultRebuildMemory is the default bound of a rebuild's sorted run:
// about 1.9 million events of tokenbench's mix, 10 per token
// (docs/readmodel.md).
const DefaultRebuildMemory = 1 << 30

// WithCacheSize returns o with a total of bytes for Badger's caches: two
// thirds for blocks (the values queries read) and one third for table
// indexes and bloom filters, the split of the defaults (64 and 32 MiB).
func (o Options) WithCacheSize(bytes int64) Options {
	o.BlockCacheSize = bytes - bytes/3
	o.IndexCacheSize = bytes / 3
	return o
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MemTableSize, 32<<20)
	def(&o.BlockCacheSize, 64<<20)
	def(&o.IndexCacheSize, 32<<20)
	def(&o.ValueThreshold, 1<<10)
	def(&o.ValueLogFileSize, 128<<20)
	def(&o.rebuildTableSize, 512<<10)
	def(&o.RebuildMemory, DefaultRebuildMemory)
	if o.RecordCacheSize == 0 {
		o.RecordCacheSize = DefaultRecordCacheSize
	}
	if o.EndUserCacheSize == 0 {
		o.EndUserCacheSize = DefaultEndUserCacheSize
	}
	if o.NumMemtables <= 0 {
		o.NumMemtables = 3
	}
	if o.NumCompactors < 2 {
		o.NumCompactors = 2
	}
	if o.GCInterval == 0 {
		o.GCInterval = 5 * time.Minute
	}
	if o.GCDiscardRatio <= 0 || o.GCDiscardRatio >= 1 {
		o.GCDiscardRatio = 0.5
	}
	return o
}

// badgerOptions turns Options into Badger's for the directory dir.
func (o Options) badgerOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{o.Logger}).
		WithMemTableSize(o.MemTableSize).
		WithNumMemtables(o.NumMemtables).
		WithNumLevelZeroTables(min(5, o.NumMemtables+2)).
		WithBlockCacheSize(o.BlockCacheSize).
		WithIndexCacheSize(o.IndexCacheSize).
		WithValueThreshold(o.ValueThreshold).
		WithValueLogFileSize(o.ValueLogFileSize).
		WithNumCompactors(o.NumCompactors).
		WithNumGoroutines(2).
		WithSyncWrites(o.SyncWrites).
		WithMetricsEnabled(false).
		// One writer (the projector) and no read-modify-write races between
		// writers: conflict detection would only cost memory and time.
		WithDetectConflicts(false)
}

// Store is the Badger read model: the queries, the checkpoint and WaitFor.
// It is safe for concurrent use. Its only writer is a Projector (or a
// Rebuild, which writes a fresh directory).
type Store struct {
	dir  string
	opts Options
	log  *slog.Logger
	now  func() time.Time
	lock *dirLock

	// mu guards db: queries hold it shared; a rebuild that swaps in a new
	// directory holds it exclusively while it closes and reopens.
	mu     sync.RWMutex
	db     *badger.DB
	closed bool

	cp     atomic.Uint64
	cpMu   sync.Mutex
	cpID   checkpoint
	cpWake chan struct{} // closed and replaced whenever the checkpoint moves

	// records is the projector's memory of the token records it wrote
	// (records.go).
	records *recordCache
	// licenses and endUsers answer License and Introspect from memory
	// (readcache.go).
	licenses *readCache[LicenseRecord]
	endUsers *readCache[endUserEntry]

	keysRead    atomic.Uint64
	keysWritten atomic.Uint64
	// stale says the directory was written with another key layout: the
	// projector rebuilds it before applying anything.
	stale atomic.Bool

	gcStop chan struct{}
	gcDone chan struct{}
}

// Open opens (creating if needed) the read model in dir, which is
// <data-dir>/readmodel. It first finishes or discards a rebuild swap that a
// crash interrupted (see Rebuild). A second Open of the same directory, in
// this process or another, fails at once with a message that says the data
// directory is in use by another tokend.
func Open(dir string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("open read model: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	if err := recoverSwap(dir, opts.Logger); err != nil {
		lock.release()
		return nil, fmt.Errorf("open read model: %w", err)
	}
	db, err := openBadger(dir, opts)
	if err != nil {
		lock.release()
		return nil, err
	}
	s := &Store{
		dir:      dir,
		opts:     opts,
		log:      opts.Logger,
		now:      opts.Clock,
		lock:     lock,
		db:       db,
		records:  newRecordCache(opts.RecordCacheSize),
		licenses: newReadCache[LicenseRecord](maxCachedLicenses),
		endUsers: newReadCache[endUserEntry](opts.EndUserCacheSize),
		cpWake:   make(chan struct{}),
		gcStop:   make(chan struct{}),
		gcDone:   make(chan struct{}),
	}
	if err := s.loadCheckpoint(); err != nil {
		_ = db.Close()
		lock.release()
		return nil, err
	}
	go s.runGC()
	return s, nil
}

func openBadger(dir string, opts Options) (*badger.DB, error) {
	db, err := badger.Open(opts.badgerOptions(dir))
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("data directory %s is in use by another tokend: %w", filepath.Dir(dir), err)
		}
		return nil, fmt.Errorf("open read model %s: %w", dir, err)
	}
	return db, nil
}

// loadCheckpoint reads the checkpoint and the layout version of the open
// directory (marking a new directory with this code's layout).
func (s *Store) loadCheckpoint() error {
	cp, err := readCheckpoint(s.db)
	if err != nil {
		return err
	}
	layout, err := readLayout(s.db)
	if err != nil {
		return err
	}
	switch {
	case layout == layoutVersion:
		s.stale.Store(false)
	case layout == "" && cp.Seq == 0:
		err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(keyLayout, []byte(layoutVersion)) })
		if err != nil {
			return fmt.Errorf("write layout version: %w", err)
		}
		s.stale.Store(false)
	default:
		s.log.Warn("read model: written with another layout; the projector will rebuild it",
			"dir", s.dir, "layout", layout, "want", layoutVersion)
		s.stale.Store(true)
	}
	s.setCheckpoint(cp)
	return nil
}

func readLayout(db *badger.DB) (string, error) {
	var layout string
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyLayout)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		layout = string(v)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read layout version: %w", err)
	}
	return layout, nil
}

func readCheckpoint(db *badger.DB) (checkpoint, error) {
	var cp checkpoint
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyCheckpoint)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			cp, err = decodeCheckpoint(v)
			return err
		})
	})
	if err != nil {
		return checkpoint{}, fmt.Errorf("read checkpoint: %w", err)
	}
	return cp, nil
}

// setCheckpoint publishes a committed checkpoint and wakes WaitFor callers.
func (s *Store) setCheckpoint(cp checkpoint) {
	s.cpMu.Lock()
	s.cpID = cp
	s.cp.Store(cp.Seq)
	close(s.cpWake)
	s.cpWake = make(chan struct{})
	s.cpMu.Unlock()
}

func (s *Store) checkpointID() checkpoint {
	s.cpMu.Lock()
	defer s.cpMu.Unlock()
	return s.cpID
}

// Close stops the value-log GC ticker and closes Badger. Queries after
// Close fail; WaitFor callers wake up and fail.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	// Queries after Close fail, the cached ones too.
	s.licenses.clear()
	s.endUsers.clear()
	close(s.gcStop)
	<-s.gcDone
	s.mu.Lock()
	err := s.db.Close()
	s.mu.Unlock()
	s.cpMu.Lock()
	close(s.cpWake)
	s.cpWake = make(chan struct{})
	s.cpMu.Unlock()
	s.lock.release()
	if err != nil {
		return fmt.Errorf("close read model: %w", err)
	}
	return nil
}

var errClosed = errors.New("projections: read model is closed")

// view runs fn in a read-only Badger transaction on the current directory.
func (s *Store) view(fn func(txn *badger.Txn) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed
	}
	return s.db.View(fn)
}

// Checkpoint returns the stream sequence of the last event applied (0 when
// none). It is safe to call concurrently and never blocks.
func (s *Store) Checkpoint() uint64 { return s.cp.Load() }

// WaitFor returns nil as soon as Checkpoint() >= seq. After timeout it
// returns an error that errors.Is domain.ErrProjectionBehind; when ctx ends
// first, ctx's error. It sleeps on a channel that every commit closes, so a
// waiter wakes the moment its sequence is applied. seq 0 returns at once.
func (s *Store) WaitFor(ctx context.Context, seq uint64, timeout time.Duration) error {
	if s.Checkpoint() >= seq {
		return nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.cpMu.Lock()
		wake := s.cpWake
		s.cpMu.Unlock()
		if s.Checkpoint() >= seq {
			return nil
		}
		s.mu.RLock()
		closed := s.closed
		s.mu.RUnlock()
		if closed {
			return errClosed
		}
		select {
		case <-wake:
		case <-timer.C:
			if s.Checkpoint() >= seq {
				return nil
			}
			return &domain.Error{Code: domain.CodeProjectionBehind, Message: fmt.Sprintf(
				"the read model has applied sequence %d, not yet %d (waited %s)", s.Checkpoint(), seq, timeout)}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// KeysRead returns how many keys the queries have read since Open: index
// entries visited and records fetched. Tests use it to show that a list
// page costs O(page) reads.
func (s *Store) KeysRead() uint64 { return s.keysRead.Load() }

// KeysWritten returns how many keys the projector has set or deleted in
// this Store since Open, checkpoints included: with the events applied, it
// gives the keys-per-event and keys-per-second figures of tokenbench and
// the projector benchmarks. A rebuild's keys, written into another
// directory, are not counted.
func (s *Store) KeysWritten() uint64 { return s.keysWritten.Load() }

// runGC collects the value log on a ticker until Close. Each tick rewrites
// files while Badger finds one worth it (RunValueLogGC returns nil).
func (s *Store) runGC() {
	defer close(s.gcDone)
	if s.opts.GCInterval < 0 {
		<-s.gcStop
		return
	}
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.gcStop:
			return
		case <-t.C:
			s.collectValueLog()
		}
	}
}

func (s *Store) collectValueLog() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	for i := 0; i < 16; i++ { // bounded: never hog a core for long
		err := s.db.RunValueLogGC(s.opts.GCDiscardRatio)
		if err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				s.log.Warn("read model: value-log GC failed", "err", err)
			}
			return
		}
	}
}

// badgerLogger sends Badger's messages to slog. Badger's info messages
// (compactions, table flushes) go to debug: they are routine.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(f string, a ...any) { b.Debugf(f, a...) }
func (b badgerLogger) Debugf(f string, a ...any) {
	if b.l.Enabled(context.Background(), slog.LevelDebug) {
		b.l.Debug("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
	}
}
