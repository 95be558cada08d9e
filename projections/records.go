package projections

import "sync"

// DefaultRecordCacheSize is how many token records the projector keeps in
// memory by default (Options.RecordCacheSize): a few MiB.
const DefaultRecordCacheSize = 16384

// recordCache holds the token records the projector last committed, keyed
// by their Badger key, so that folding a token's next event starts from
// memory instead of a Badger read. That read (the record is rarely still in
// a memtable, so it is a table seek) was the projector's largest single
// cost after the writes themselves: about 15 µs of every rename in
// tokenbench's NATS rounds.
//
// It only ever holds what Badger holds. The projector is the only writer of
// token records; a transaction's records enter the cache once it has
// committed, and a failed commit or a rebuild's swap empties it. Queries
// never read it: they read Badger, which is what their snapshot promises.
type recordCache struct {
	mu    sync.Mutex
	max   int
	items map[string]tokenRecord
}

func newRecordCache(max int) *recordCache {
	return &recordCache{max: max, items: make(map[string]tokenRecord)}
}

func (c *recordCache) get(key []byte) (tokenRecord, bool) {
	if c == nil {
		return tokenRecord{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.items[string(key)]
	return r, ok
}

// add puts the records of a committed transaction into the cache.
func (c *recordCache) add(recs map[string]tokenRecord) {
	if c == nil || c.max <= 0 || len(recs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, r := range recs {
		if _, ok := c.items[k]; !ok {
			makeRoom(c.items, c.max)
		}
		c.items[k] = r
	}
}

// makeRoom evicts an eighth of a cache that holds max entries, chosen by
// map order (random): cheaper than keeping an LRU list, and a miss only
// costs the Badger read it would have saved.
func makeRoom[V any](items map[string]V, max int) {
	if len(items) < max {
		return
	}
	n := max/8 + 1
	for k := range items {
		if n == 0 {
			return
		}
		delete(items, k)
		n--
	}
}

// clear forgets every record: the directory under them changed, or a
// commit failed and what Badger holds is not known for sure.
func (c *recordCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.items)
}
