package projections

import "sync"

// maxCachedLicenses bounds licenseCache. Providers hold a handful of
// licenses each; when more are in use than this, the cache starts over.
const maxCachedLicenses = 4096

// licenseCache answers Store.License from memory: every write over HTTP or
// NATS, and every management read, authenticates with a license, and its
// Badger read was about 2% of a NATS command's CPU.
//
// It never answers what the read model no longer says. The projector drops
// a license's entry once the transaction that changed it commits and before
// the checkpoint moves past it, so whoever waits for the checkpoint of a
// revocation (DELETE /v1/licenses/{id} does) sees the revocation. A reader
// may have read the old record from Badger just before that commit: it puts
// what it read only if no license changed since it started (the
// generation), so a stale record never enters after its drop. Licenses not
// found are not kept, so unknown keys cannot fill the cache.
type licenseCache struct {
	mu    sync.Mutex
	gen   uint64
	items map[string]LicenseRecord
}

func newLicenseCache() *licenseCache {
	return &licenseCache{items: make(map[string]LicenseRecord)}
}

// get returns the cached record of sha, or the generation a reader must
// pass to put what it reads instead.
func (c *licenseCache) get(sha string) (LicenseRecord, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.items[sha]
	return r, ok, c.gen
}

// put keeps rec as sha's record unless a license changed since gen.
func (c *licenseCache) put(sha string, rec LicenseRecord, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.items) >= maxCachedLicenses {
		clear(c.items)
	}
	c.items[sha] = rec
}

// drop forgets the records of shas, which a committed transaction changed.
func (c *licenseCache) drop(shas []string) {
	if len(shas) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, sha := range shas {
		delete(c.items, sha)
	}
}

// clear forgets every record: the directory under them changed, or a
// commit failed and what Badger holds is not known for sure.
func (c *licenseCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.items)
}
