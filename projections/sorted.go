package projections

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"
)

// sortedRun collects a rebuild's keys and values in one pointer-free arena
// and writes them, sorted, with Badger's StreamWriter: tables are built
// directly at the bottom of the LSM tree, without the memtable skiplist,
// the L0 flushes and the compactions that a WriteBatch of millions of keys
// pays for (they were half of a rebuild's time). The cost is memory: about
// 200 bytes per event, kept until the end (docs/readmodel.md).
type sortedRun struct {
	chunks [][]byte // filled to runChunk each, never copied when more come
	// fams holds the entries of each key family (first key byte) apart:
	// families are sorted on their own, in parallel, and one that arrived
	// in order (an account's audit trail) is not sorted at all.
	fams [256][]runEntry
	n    int
}

// newSortedRun returns a run sized for a stream of events messages: the
// audit, token-audit and outcome families get one entry per event, so
// their slices never grow by copying.
func newSortedRun(events uint64) *sortedRun {
	r := &sortedRun{}
	events = min(events, 1<<21) // a longer log outgrows the run anyway
	if events > 0 {
		for _, f := range []byte{pfxAccountAudit, pfxTokenAudit, pfxOutcome} {
			r.fams[f] = make([]runEntry, 0, events)
		}
	}
	return r
}

// runChunk is the size of one arena chunk: large enough that a chunk's
// allocation is rare, small enough that the last one wastes little.
const runChunk = 4 << 20

type runEntry struct {
	// prefix holds the key's bytes from the family's common prefix on
	// (zero-padded): most comparisons are decided here, in the entry
	// array, instead of by two random reads of the arena.
	prefix     [16]byte
	chunk, off uint32
	klen, vlen uint32
	seq        uint32 // insertion order: the last write of a key wins
}

// size is the memory the run holds, roughly: its chunks and the capacity
// of its entry slices.
func (r *sortedRun) size() int64 {
	n := int64(len(r.chunks)) * runChunk
	for _, f := range r.fams {
		n += int64(cap(f)) * int64(unsafe.Sizeof(runEntry{}))
	}
	return n
}

func (r *sortedRun) Set(k, v []byte) error {
	if r.n == 1<<32-1 {
		return errors.New("rebuild: more than 2^32 keys")
	}
	if len(k) == 0 {
		return errors.New("rebuild: empty key")
	}
	n := len(k) + len(v)
	last := len(r.chunks) - 1
	if last < 0 || len(r.chunks[last])+n > cap(r.chunks[last]) {
		r.chunks = append(r.chunks, make([]byte, 0, max(runChunk, n)))
		last++
	}
	c := r.chunks[last]
	r.fams[k[0]] = append(r.fams[k[0]], runEntry{chunk: uint32(last), off: uint32(len(c)), klen: uint32(len(k)), vlen: uint32(len(v)), seq: uint32(r.n)})
	r.n++
	r.chunks[last] = append(append(c, k...), v...)
	return nil
}

// Delete is never needed: a rebuild writes final states only.
func (r *sortedRun) Delete(k []byte) error {
	return fmt.Errorf("rebuild: unexpected delete of %q", k)
}

func (r *sortedRun) key(e runEntry) []byte {
	return r.chunks[e.chunk][e.off : e.off+e.klen]
}

func (r *sortedRun) value(e runEntry) []byte {
	s := e.off + e.klen
	return r.chunks[e.chunk][s : s+e.vlen]
}

func (r *sortedRun) compare(a, b *runEntry) int {
	if c := bytes.Compare(a.prefix[:], b.prefix[:]); c != 0 {
		return c
	}
	if c := bytes.Compare(r.key(*a), r.key(*b)); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// sortFamily sorts one family's entries, unless they came in order.
func (r *sortedRun) sortFamily(ents []runEntry) {
	first := r.key(ents[0])
	common := len(first)
	for i := 1; i < len(ents) && common > 0; i++ {
		k := r.key(ents[i])
		n := min(common, len(k))
		j := 0
		for j < n && k[j] == first[j] {
			j++
		}
		common = j
	}
	sorted := true
	for i := range ents {
		e := &ents[i]
		copy(e.prefix[:], r.key(*e)[common:])
		if sorted && i > 0 && r.compare(&ents[i-1], e) > 0 {
			sorted = false
		}
	}
	if !sorted {
		slices.SortFunc(ents, func(a, b runEntry) int { return r.compare(&a, &b) })
	}
}

// sort sorts every family, two at a time (one per core).
func (r *sortedRun) sort() {
	work := make(chan []runEntry)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ents := range work {
				r.sortFamily(ents)
			}
		}()
	}
	for _, ents := range r.fams {
		if len(ents) > 1 {
			work <- ents
		}
	}
	close(work)
	wg.Wait()
}

// writeTo sorts the run and streams it into db, which must be new and
// empty (StreamWriter.Prepare drops whatever is there).
func (r *sortedRun) writeTo(db *badger.DB) error {
	r.sort()
	sw := db.NewStreamWriter()
	if err := sw.Prepare(); err != nil {
		return fmt.Errorf("stream writer: %w", err)
	}
	// StreamWriter decodes each chunk into an entry per key (about three
	// times the chunk's size) and queues a few chunks for its table
	// builders: 1 MiB chunks keep that queue to tens of MiB, where 8 MiB
	// ones held 0.8 GiB at the peak of a million-token rebuild, for no
	// difference in speed.
	const chunk = 1 << 20
	buf := z.NewBuffer(chunk+chunk/4, "projections.rebuild")
	defer func() { _ = buf.Release() }()
	kv := &pb.KV{Version: 1}
	for _, ents := range r.fams {
		for i, e := range ents {
			if i+1 < len(ents) && bytes.Equal(r.key(e), r.key(ents[i+1])) {
				continue // a later write of the same key follows
			}
			kv.Key, kv.Value = r.key(e), r.value(e)
			badger.KVToBuffer(kv, buf)
			if buf.LenNoPadding() >= chunk {
				if err := sw.Write(buf); err != nil {
					sw.Cancel()
					return fmt.Errorf("stream write: %w", err)
				}
				buf.Reset()
			}
		}
	}
	if err := sw.Write(buf); err != nil {
		sw.Cancel()
		return fmt.Errorf("stream write: %w", err)
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("stream flush: %w", err)
	}
	return nil
}
