package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

// badgerOptions mirrors the read model's own Badger settings
// (projections.Options' defaults: 32 MiB memtables, 3 of them, 64 MiB block
// cache, 32 MiB index cache, 1 KiB value threshold, no conflict detection),
// so that the raw baselines run on the same engine configuration.
func badgerOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(nil).
		WithMemTableSize(32 << 20).
		WithNumMemtables(3).
		WithNumLevelZeroTables(5).
		WithBlockCacheSize(64 << 20).
		WithIndexCacheSize(32 << 20).
		WithValueThreshold(1 << 10).
		WithValueLogFileSize(128 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithSyncWrites(false).
		WithMetricsEnabled(false).
		WithDetectConflicts(false)
}

type kv struct{ k, v []byte }

// lookups runs the Badger baselines on the service's read model, with the
// service stopped: WriteBatch sets of its very keys and values into a fresh
// directory, and Get of its token and secret keys, against Store.Token and
// Store.Introspect on the same files. One goroutine each: the cost of one
// lookup.
func (b *bench) lookups(ctx context.Context, s *service) error {
	dir := filepath.Join(s.dir, projections.ReadModelDir)
	var all []kv
	var tokenKeys, secretKeys [][]byte
	db, err := badger.Open(badgerOptions(dir))
	if err != nil {
		return err
	}
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.KeyCopy(nil)
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			all = append(all, kv{k, v})
			switch k[0] {
			case 't':
				tokenKeys = append(tokenKeys, k)
			case 's':
				secretKeys = append(secretKeys, k)
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		return err
	}
	if len(tokenKeys) == 0 || len(secretKeys) == 0 {
		return fmt.Errorf("no token or secret keys in the read model (%d keys)", len(all))
	}
	var kb, vb int
	for _, e := range all {
		kb += len(e.k)
		vb += len(e.v)
	}
	b.report.Notes["read model"] = fmt.Sprintf("%d keys after the service phase, %.0f bytes of key and %.0f of value on average",
		len(all), float64(kb)/float64(len(all)), float64(vb)/float64(len(all)))

	// WriteBatch of every key and value, into a fresh directory each run.
	m, runs, err := repeat(b.runs, func(run int) (measure, error) {
		d := filepath.Join(b.root, fmt.Sprintf("raw-badger-%d", run))
		db, err := badger.Open(badgerOptions(d))
		if err != nil {
			return measure{}, err
		}
		defer os.RemoveAll(d)
		defer db.Close()
		start := time.Now()
		wb := db.NewWriteBatch()
		for _, e := range all {
			if err := wb.Set(e.k, e.v); err != nil {
				return measure{}, err
			}
		}
		if err := wb.Flush(); err != nil {
			return measure{}, err
		}
		return measure{N: len(all), Elapsed: time.Since(start)}, nil
	})
	if err != nil {
		return err
	}
	r := b.rate("raw", rowWB, "keys/s", m, runs)
	r.Note = fmt.Sprintf("the read model's %d keys and values", len(all))

	n := b.reads
	type lk struct {
		name string
		keys [][]byte
	}
	rawRuns := map[string][]measure{}
	procRuns := map[string][]measure{}
	for run := range max(b.runs, 1) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		db, err := badger.Open(badgerOptions(dir))
		if err != nil {
			return err
		}
		for _, l := range []lk{{rowGetToken, tokenKeys}, {rowGetSecret, secretKeys}} {
			rnd := rand.New(rand.NewPCG(uint64(run), 7))
			mm, err := b.load(l.name, n, 1, func(_, _ int) error {
				k := l.keys[rnd.IntN(len(l.keys))]
				return db.View(func(txn *badger.Txn) error {
					item, err := txn.Get(k)
					if err != nil {
						return err
					}
					return item.Value(func([]byte) error { return nil })
				})
			})
			if err != nil {
				db.Close()
				return err
			}
			rawRuns[l.name] = append(rawRuns[l.name], mm)
		}
		db.Close()

		store, err := projections.Open(dir, projections.Options{Logger: b.quiet})
		if err != nil {
			return err
		}
		rnd := rand.New(rand.NewPCG(uint64(run), 9))
		mm, err := b.load(rowInprocGet, n, 1, func(_, _ int) error {
			_, err := store.Token(domain.DefaultAccountID, s.tokens[rnd.IntN(len(s.tokens))].id)
			return err
		})
		if err != nil {
			store.Close()
			return err
		}
		procRuns[rowInprocGet] = append(procRuns[rowInprocGet], mm)
		mm, err = b.load(rowInprocIntro, n, 1, func(_, _ int) error {
			_, err := store.Introspect(s.tokens[rnd.IntN(len(s.tokens))].sha)
			return err
		})
		store.Close()
		if err != nil {
			return err
		}
		procRuns[rowInprocIntro] = append(procRuns[rowInprocIntro], mm)
	}
	pick := func(ms []measure) (measure, []float64, error) {
		return repeat(len(ms), func(i int) (measure, error) { return ms[i], nil })
	}
	for _, name := range []string{rowGetToken, rowGetSecret} {
		m, runs, _ := pick(rawRuns[name])
		b.rate("raw", name, "gets/s", m, runs).Note = "1 goroutine"
	}
	for _, name := range []string{rowInprocGet, rowInprocIntro} {
		m, runs, _ := pick(procRuns[name])
		b.rate("service", name, "lookups/s", m, runs).Note = "1 goroutine"
	}
	return nil
}
