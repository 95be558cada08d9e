package commands

import "sync"

// cache keeps recently used aggregates with the sequence of their last
// event. It is only a shortcut: every decision made on a cached state is
// checked by the log's expected subject sequence, and refusals are decided
// again on the log's state, so a stale entry costs a retry, never a wrong
// answer.
type cache[T any] struct {
	mu    sync.Mutex
	max   int
	items map[string]entry[T]
}

type entry[T any] struct {
	v   T
	seq uint64
}

func newCache[T any](max int) *cache[T] {
	return &cache[T]{max: max, items: make(map[string]entry[T])}
}

func (c *cache[T]) get(key string) (T, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	return e.v, e.seq, ok
}

func (c *cache[T]) put(key string, v T, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; !ok && len(c.items) >= c.max {
		// Evict an eighth, chosen by map order (random): cheaper than an LRU
		// list on every hit, and misses only cost one load from the log.
		n := c.max / 8
		for k := range c.items {
			if n <= 0 {
				break
			}
			delete(c.items, k)
			n--
		}
	}
	c.items[key] = entry[T]{v: v, seq: seq}
}

func (c *cache[T]) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, key)
}
