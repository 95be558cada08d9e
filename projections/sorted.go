package projections

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

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
	ents   []runEntry
}

// runChunk is the size of one arena chunk: large enough that a chunk's
// allocation is rare, small enough that the last one wastes little.
const runChunk = 4 << 20

type runEntry struct {
	chunk, off uint32
	klen, vlen uint32
	seq        uint32 // insertion order: the last write of a key wins
}

func (r *sortedRun) Set(k, v []byte) error {
	if len(r.ents) == 1<<32-1 {
		return errors.New("rebuild: more than 2^32 keys")
	}
	n := len(k) + len(v)
	last := len(r.chunks) - 1
	if last < 0 || len(r.chunks[last])+n > cap(r.chunks[last]) {
		r.chunks = append(r.chunks, make([]byte, 0, max(runChunk, n)))
		last++
	}
	c := r.chunks[last]
	r.ents = append(r.ents, runEntry{chunk: uint32(last), off: uint32(len(c)), klen: uint32(len(k)), vlen: uint32(len(v)), seq: uint32(len(r.ents))})
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

// writeTo sorts the run and streams it into db, which must be new and
// empty (StreamWriter.Prepare drops whatever is there).
func (r *sortedRun) writeTo(db *badger.DB) error {
	slices.SortFunc(r.ents, func(a, b runEntry) int {
		if c := bytes.Compare(r.key(a), r.key(b)); c != 0 {
			return c
		}
		return int(int64(a.seq) - int64(b.seq))
	})
	sw := db.NewStreamWriter()
	if err := sw.Prepare(); err != nil {
		return fmt.Errorf("stream writer: %w", err)
	}
	const chunk = 32 << 20
	buf := z.NewBuffer(chunk+chunk/4, "projections.rebuild")
	defer func() { _ = buf.Release() }()
	kv := &pb.KV{Version: 1}
	for i, e := range r.ents {
		if i+1 < len(r.ents) && bytes.Equal(r.key(e), r.key(r.ents[i+1])) {
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
	if err := sw.Write(buf); err != nil {
		sw.Cancel()
		return fmt.Errorf("stream write: %w", err)
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("stream flush: %w", err)
	}
	return nil
}
