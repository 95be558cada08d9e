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

// scanKVs reads every key and value of the Badger directory dir (closed).
func scanKVs(dir string) ([]kv, error) {
	db, err := badger.Open(badgerOptions(dir))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var all []kv
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			all = append(all, kv{item.KeyCopy(nil), v})
		}
		return nil
	})
	return all, err
}

// writeBatch writes kvs with one WriteBatch into a fresh directory.
func writeBatch(dir string, kvs []kv) (measure, error) {
	db, err := badger.Open(badgerOptions(dir))
	if err != nil {
		return measure{}, err
	}
	defer os.RemoveAll(dir)
	defer db.Close()
	start := time.Now()
	wb := db.NewWriteBatch()
	for _, e := range kvs {
		if err := wb.Set(e.k, e.v); err != nil {
			wb.Cancel()
			return measure{}, err
		}
	}
	if err := wb.Flush(); err != nil {
		return measure{}, err
	}
	return measure{N: len(kvs), Elapsed: time.Since(start)}, nil
}

// lookups measures, on the service's read model with the service stopped,
// one goroutine each, a raw Badger Get (read transaction, Get, value) of
// token and secret keys against Store.Token and Store.Introspect of the
// same tokens on the same files, in rounds: raw, then the store, each after
// a warm-up of its own, since each opens the directory afresh.
func (b *bench) lookups(ctx context.Context, s *service) error {
	dir := filepath.Join(s.dir, projections.ReadModelDir)
	all, err := scanKVs(dir)
	if err != nil {
		return err
	}
	var tokenKeys, secretKeys [][]byte
	var kb, vb int
	for _, e := range all {
		kb += len(e.k)
		vb += len(e.v)
		switch e.k[0] {
		case 't':
			tokenKeys = append(tokenKeys, e.k)
		case 's':
			secretKeys = append(secretKeys, e.k)
		}
	}
	if len(tokenKeys) == 0 || len(secretKeys) == 0 {
		return fmt.Errorf("no token or secret keys in the read model (%d keys)", len(all))
	}
	b.report.Notes["read model"] = fmt.Sprintf("%d keys after the service phase, %.0f bytes of key and %.0f of value on average",
		len(all), float64(kb)/float64(len(all)), float64(vb)/float64(len(all)))
	all = nil
	n := b.reads

	rawGets := func(name string, keys [][]byte, seed uint64) meas {
		return meas{group: "raw", name: name, unit: "gets/s", note: "1 goroutine", fn: func(run int) (measure, error) {
			db, err := badger.Open(badgerOptions(dir))
			if err != nil {
				return measure{}, err
			}
			defer db.Close()
			rnd := rand.New(rand.NewPCG(uint64(run), seed))
			get := func(_, _ int) error {
				k := keys[rnd.IntN(len(keys))]
				return db.View(func(txn *badger.Txn) error {
					item, err := txn.Get(k)
					if err != nil {
						return err
					}
					return item.Value(func([]byte) error { return nil })
				})
			}
			if _, err := b.load("warm-up", n, 1, get); err != nil {
				return measure{}, err
			}
			return b.load(name, n, 1, get)
		}}
	}
	storeGets := func(name string, opts projections.Options, op func(st *projections.Store, rnd *rand.Rand) error) meas {
		return meas{group: "service", name: name, unit: "lookups/s", note: "1 goroutine", fn: func(run int) (measure, error) {
			opts.Logger = b.quiet
			st, err := projections.Open(dir, opts)
			if err != nil {
				return measure{}, err
			}
			defer st.Close()
			rnd := rand.New(rand.NewPCG(uint64(run), 9))
			get := func(_, _ int) error { return op(st, rnd) }
			if _, err := b.load("warm-up", n, 1, get); err != nil {
				return measure{}, err
			}
			return b.load(name, n, 1, get)
		}}
	}
	if err := b.rounds(b.runs, rawGets(rowGetToken, tokenKeys, 7), storeGets(rowInprocGet, projections.Options{}, func(st *projections.Store, rnd *rand.Rand) error {
		_, err := st.Token(domain.DefaultAccountID, s.tokens[rnd.IntN(len(s.tokens))].id)
		return err
	})); err != nil {
		return err
	}
	introspect := func(st *projections.Store, rnd *rand.Rand) error {
		_, err := st.Introspect(s.tokens[rnd.IntN(len(s.tokens))].sha)
		return err
	}
	// As served (the warm-up fills the cache of end-user views), and the
	// Badger read alone, which a token not in the cache costs.
	return b.rounds(b.runs, rawGets(rowGetSecret, secretKeys, 8),
		storeGets(rowInprocIntro, projections.Options{}, introspect),
		storeGets(rowInprocIntroB, projections.Options{EndUserCacheSize: -1}, introspect))
}
