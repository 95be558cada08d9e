package projections

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tokend/tokend/domain"
)

// TestRandomHistories folds random, valid histories (commands decided by
// the domain against the folded state) two ways: through the live apply
// path in transactions of random sizes, and through the rebuild's fold and
// sorted write. The two stores must hold the same bytes, and every list
// must agree with the reference.
func TestRandomHistories(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 99))
			var envs []envelope
			capture := func(e domain.Event) uint64 {
				envs = append(envs, envelope{Seq: uint64(len(envs) + 1), Event: e})
				return uint64(len(envs))
			}
			w := newWorld(t, "acct", capture)
			w.createAccount("Acct")
			w.registerModel("m1", "One")
			w.registerModel("m2", "Two")
			ids := []string{}
			for step := 0; step < 400; step++ {
				if len(ids) == 0 || r.IntN(4) == 0 {
					id := fmt.Sprintf("t%03d", len(ids))
					ids = append(ids, id)
					model := []string{"", "", "m1", "m2"}[r.IntN(4)]
					w.issue(id, fmt.Sprintf("Name %d", r.IntN(30)), 1+r.IntN(60), model, []string{"", "note"}[r.IntN(2)])
					if r.IntN(3) == 0 {
						w.now = w.now.Add(-time.Second) // same createdAt second
					}
					continue
				}
				id := ids[r.IntN(len(ids))]
				tok := w.tokens[id]
				if !tok.Live() {
					continue
				}
				var body domain.CommandBody
				switch r.IntN(10) {
				case 0:
					body = domain.RenameToken{Name: fmt.Sprintf("Name %d", r.IntN(30))}
				case 1:
					body = domain.ChangeNote{Note: []string{"", "a", "b"}[r.IntN(3)]}
				case 2:
					body = domain.ChangeExpiration{ExpirationDate: w.now.Add(time.Duration(1+r.IntN(90)) * 24 * time.Hour).Unix()}
				case 3:
					body = domain.SuspendToken{}
				case 4:
					body = domain.ReactivateToken{}
				case 5:
					body = domain.CancelToken{}
				case 6:
					if tok.ModelID() == "" {
						body = domain.AssignModel{ModelID: []string{"m1", "m2"}[r.IntN(2)]}
					} else {
						body = domain.UnassignModel{}
					}
				case 7:
					body = domain.UpdateToken{Name: domain.Some(fmt.Sprintf("Upd %d", r.IntN(9))), Note: domain.Some("u")}
				case 8:
					if r.IntN(3) == 0 {
						body = domain.DeleteToken{}
					} else {
						body = domain.RenameToken{Name: "x" + id}
					}
				default:
					body = domain.IssueLicense{LicenseID: fmt.Sprintf("lic-%d", step), LicenseSha256: domain.HashSecret(fmt.Sprint(step))}
					w.do("", body)
					continue
				}
				if tok.Status() == domain.StatusCanceled {
					if _, ok := body.(domain.DeleteToken); !ok {
						continue
					}
				}
				if !validMove(tok, body) {
					continue
				}
				w.do(id, body)
			}

			// Even seeds fold with a record cache of 8 tokens, so that the
			// projector folds from evicted, cached and Badger-read records
			// alike (records.go).
			cache := 0
			if seed%2 == 0 {
				cache = 8
			}
			live, err := Open(filepath.Join(t.TempDir(), ReadModelDir), Options{Logger: quiet, RecordCacheSize: cache})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = live.Close() })
			for i := 0; i < len(envs); {
				n := 1 + r.IntN(40)
				if _, err := live.applyBatch(envs[i:min(i+n, len(envs))]); err != nil {
					t.Fatal(err)
				}
				i += n
			}
			run := newSortedRun(uint64(len(envs)))
			ms := newMemState(run)
			for i := range envs {
				if err := ms.apply(&envs[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := ms.flush(); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), ReadModelDir)
			if err := writeRun(dir, Options{Logger: quiet}.withDefaults(), run); err != nil {
				t.Fatal(err)
			}
			sameDump(t, "live vs rebuilt", dumpDB(t, live), dumpDir(t, dir))

			// The same with a run bound so small that most of the rebuild
			// goes through the batched path.
			opts := Options{Logger: quiet, RebuildMemory: 64 << 10}.withDefaults()
			small := filepath.Join(t.TempDir(), ReadModelDir)
			db, err := openRebuildDB(small, opts)
			if err != nil {
				t.Fatal(err)
			}
			rw := &runWriter{db: db, run: newSortedRun(uint64(len(envs))), limit: opts.RebuildMemory}
			ms = newMemState(rw)
			for i := range envs {
				if err := ms.apply(&envs[i]); err != nil {
					t.Fatal(err)
				}
			}
			err = ms.flush()
			if err == nil {
				err = rw.finish()
			}
			if err := closeRebuildDB(small, db, err); err != nil {
				t.Fatal(err)
			}
			if !rw.spilled {
				t.Fatal("the small run did not spill")
			}
			sameDump(t, "live vs rebuilt in a bounded run", dumpDB(t, live), dumpDir(t, small))
			checkExact(t, live, w)

			for _, q := range []ListQuery{
				{}, {Sort: "name"}, {Sort: "-expirationDate", Statuses: []domain.Status{domain.StatusActive, domain.StatusCanceled}},
				{ModelID: "m1", Sort: "createdAt"}, {Assigned: ptr(false), Sort: "-name"}, {Q: "name 1", Sort: "expirationDate"},
			} {
				q.Limit = 1 + r.IntN(9)
				if got, want := pageAll(t, live, "acct", q), expectList(w, q); !slices.Equal(got, want) {
					t.Fatalf("%+v:\n got %v\nwant %v", q, got, want)
				}
			}
		})
	}
}

// validMove reports whether a status command is a move the domain allows
// (the others are refused, and the generator skips them).
func validMove(tok domain.Token, body domain.CommandBody) bool {
	switch body.(type) {
	case domain.SuspendToken:
		return tok.Status() != domain.StatusCanceled
	case domain.ReactivateToken:
		return tok.Status() != domain.StatusCanceled
	}
	return true
}
