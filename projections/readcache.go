package projections

import "sync"

// Bounds of the Store's read caches.
const (
	// DefaultEndUserCacheSize is how many end-user views introspection
	// keeps in memory by default (Options.EndUserCacheSize): a few MiB.
	DefaultEndUserCacheSize = 16384
	// maxCachedLicenses bounds the licenses kept: providers hold a handful
	// each.
	maxCachedLicenses = 4096
)

// readCache answers a query from memory with what Badger holds under one
// key: a license for authentication, which every write over HTTP or NATS
// and every management read does (its Badger read was about 2% of a NATS
// command's CPU), and a secret's end-user view for introspection, the
// hottest read of a token service (its Badger read was a third of the
// handler).
//
// It never answers what the read model no longer says. The projector drops
// the keys a transaction changed once it commits and before the checkpoint
// moves past it: an answer is never older than the checkpoint, and whoever
// waits for the checkpoint of a revocation or a cancellation (as
// DELETE /v1/licenses/{id} does, or a client with X-Min-Sequence) sees it.
// A reader may have read the old value from Badger just before that
// commit: it puts what it read only if nothing was dropped since it started
// (the generation), so a stale value never enters after its drop. Only
// values found are kept, so unknown keys cannot fill the cache.
type readCache[V any] struct {
	mu    sync.Mutex
	max   int
	gen   uint64
	items map[string]V
}

// newReadCache returns a cache of at most max values; max <= 0 keeps none.
func newReadCache[V any](max int) *readCache[V] {
	return &readCache[V]{max: max, items: make(map[string]V)}
}

// get returns the cached value of key, or the generation a reader must
// pass to put what it reads instead.
func (c *readCache[V]) get(key string) (V, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.items[key]
	return v, ok, c.gen
}

// put keeps v as key's value unless something was dropped since gen.
func (c *readCache[V]) put(key string, v V, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.max <= 0 {
		return
	}
	if _, ok := c.items[key]; !ok {
		makeRoom(c.items, c.max)
	}
	c.items[key] = v
}

// drop forgets the values of keys, which a committed transaction changed.
func (c *readCache[V]) drop(keys []string) {
	if len(keys) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		delete(c.items, k)
	}
}

// clear forgets every value: the directory under them changed, or a commit
// failed and what Badger holds is not known for sure.
func (c *readCache[V]) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.items)
}
