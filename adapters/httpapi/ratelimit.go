package httpapi

import (
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit configures one limiter: Rate events per second with bursts of
// Burst. A zero Rate turns the limiter off.
type RateLimit struct {
	Rate  float64
	Burst int
}

// RateLimits configures the rate limits of API.md. The zero value turns
// every limit off (benchmarks do that); DefaultRateLimits are the API's.
type RateLimits struct {
	// PerLicense limits every request made with one license (or, on
	// GET /v1/models/{id}, one end-user token).
	PerLicense RateLimit
	// FailedAuthPerAddress limits failed authentications from one client
	// address. Once it is spent, requests from that address that need
	// credentials answer 429 without any lookup until it refills.
	FailedAuthPerAddress RateLimit
	// MaxKeys bounds each limiter's table; zero means 100,000. Entries idle
	// long enough to have refilled are evicted first (they hold nothing a
	// new entry would not), so the bound only bites under an attack from
	// more addresses than that, when the oldest entries go.
	MaxKeys int
}

// DefaultRateLimits are API.md's: 1,000 requests/s per license with bursts
// of 2,000; 50 failed authentications/s per client address with bursts of 200.
var DefaultRateLimits = RateLimits{
	PerLicense:           RateLimit{Rate: 1000, Burst: 2000},
	FailedAuthPerAddress: RateLimit{Rate: 50, Burst: 200},
}

// keyedLimiter is a table of token buckets, one per key, bounded in size.
// It is safe for concurrent use. A nil *keyedLimiter allows everything.
type keyedLimiter struct {
	limit   rate.Limit
	burst   int
	idle    time.Duration // after this long unused, a bucket is full again
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	entries   map[string]*limEntry
	lastSweep time.Time
}

type limEntry struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

// newKeyedLimiter returns nil (no limit) for a zero rate.
func newKeyedLimiter(c RateLimit, maxKeys int, now func() time.Time) *keyedLimiter {
	if c.Rate <= 0 {
		return nil
	}
	burst := max(c.Burst, 1)
	if maxKeys <= 0 {
		maxKeys = 100_000
	}
	// Time for an empty bucket to refill, plus a second of slack.
	idle := time.Duration(float64(burst)/c.Rate*float64(time.Second)) + time.Second
	return &keyedLimiter{
		limit: rate.Limit(c.Rate), burst: burst, idle: idle, maxKeys: maxKeys, now: now,
		entries: map[string]*limEntry{},
	}
}

// allow takes one token from key's bucket. When the bucket is empty it
// returns false and the whole seconds until a token is back (Retry-After).
func (l *keyedLimiter) allow(key string) (bool, int) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	lim := l.get(key, now)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	return false, l.retryAfter(lim, now)
}

// exhausted reports whether key's bucket is empty, without taking a token,
// and if so the seconds until it is not.
func (l *keyedLimiter) exhausted(key string) (bool, int) {
	if l == nil {
		return false, 0
	}
	l.mu.Lock()
	e, ok := l.entries[key]
	l.mu.Unlock()
	if !ok {
		return false, 0
	}
	now := l.now()
	if e.lim.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, l.retryAfter(e.lim, now)
}

func (l *keyedLimiter) retryAfter(lim *rate.Limiter, now time.Time) int {
	missing := 1 - lim.TokensAt(now)
	return max(int(math.Ceil(missing/float64(l.limit))), 1)
}

func (l *keyedLimiter) get(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[key]; ok {
		e.lastSeen = now
		return e.lim
	}
	if now.Sub(l.lastSweep) > l.idle || len(l.entries) >= l.maxKeys {
		l.sweep(now)
	}
	e := &limEntry{lim: rate.NewLimiter(l.limit, l.burst), lastSeen: now}
	l.entries[key] = e
	return e.lim
}

// sweep evicts the buckets idle long enough to be full; if the table is
// still at its bound, it evicts the least recently seen eighth. Called with
// mu held; its cost is spread over the inserts since the last sweep.
func (l *keyedLimiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, e := range l.entries {
		if now.Sub(e.lastSeen) > l.idle {
			delete(l.entries, k)
		}
	}
	if len(l.entries) < l.maxKeys {
		return
	}
	type aged struct {
		key  string
		seen time.Time
	}
	all := make([]aged, 0, len(l.entries))
	for k, e := range l.entries {
		all = append(all, aged{k, e.lastSeen})
	}
	// Evict the least recently seen eighth. This runs only when the table is
	// full of live entries, so sorting it now and then is affordable.
	slices.SortFunc(all, func(a, b aged) int { return a.seen.Compare(b.seen) })
	for _, a := range all[:max(len(all)/8, 1)] {
		delete(l.entries, a.key)
	}
}

// size returns the number of buckets held, for tests.
func (l *keyedLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
