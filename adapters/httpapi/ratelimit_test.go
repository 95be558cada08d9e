package httpapi

import (
	"strconv"
	"testing"
	"time"

	"github.com/tokend/tokend/domain"
)

// TestRateLimitPerLicense: past its burst a license gets 429 with
// Retry-After; another license of the same account is not affected.
func TestRateLimitPerLicense(t *testing.T) {
	s := newStack(t, withRateLimits(RateLimits{PerLicense: RateLimit{Rate: 0.5, Burst: 3}}))
	// The admin license spends 1 of its 3 on creating the account.
	acme := s.newTenant("acme")
	for i := range 3 {
		s.must(200, req{method: "GET", path: "/v1/account", license: acme.license, headers: map[string]string{"X-Request-Id": strconv.Itoa(i)}})
	}
	r := s.must(429, req{method: "GET", path: "/v1/account", license: acme.license})
	if r.code() != "rate_limited" {
		t.Fatalf("code %s", r.code())
	}
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 || n > 2 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// The admin license has its own bucket: 2 left.
	s.must(200, req{method: "GET", path: "/v1/account", license: s.admin})
}

// TestRateLimitFailedAuth: failed authentications from one address are
// limited; once the budget is spent even a good license from that address
// waits, without a lookup.
func TestRateLimitFailedAuth(t *testing.T) {
	s := newStack(t, withRateLimits(RateLimits{
		PerLicense:           RateLimit{Rate: 1000, Burst: 2000},
		FailedAuthPerAddress: RateLimit{Rate: 0.5, Burst: 3},
	}))
	unknown, _ := domain.NewSecret(domain.LicensePrefix)
	for _, l := range []string{"lic_bad", unknown, ""} {
		s.must(401, req{method: "GET", path: "/v1/account", license: l})
	}
	r := s.must(429, req{method: "GET", path: "/v1/account", license: unknown})
	if r.header.Get("Retry-After") == "" || r.code() != "rate_limited" {
		t.Fatalf("429 without Retry-After: %v %s", r.header, r.body)
	}
	s.must(429, req{method: "GET", path: "/v1/account", license: s.admin})
	// Introspection needs no license and is not limited.
	s.must(200, req{method: "POST", path: "/v1/introspect", body: `{"token":"tkn_x"}`})
}

// TestKeyedLimiterBounded: the table never holds more than MaxKeys entries,
// idle entries go first, and a nil limiter allows everything.
func TestKeyedLimiterBounded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newKeyedLimiter(RateLimit{Rate: 10, Burst: 20}, 100, func() time.Time { return now })
	for i := range 1000 {
		if ok, _ := l.allow(strconv.Itoa(i)); !ok {
			t.Fatalf("key %d refused on its first request", i)
		}
		if l.size() > 100 {
			t.Fatalf("table holds %d entries, bound 100", l.size())
		}
	}
	// Idle entries are swept once they would be full again.
	now = now.Add(time.Minute)
	l.allow("fresh")
	if l.size() != 1 {
		t.Fatalf("after a minute idle the table holds %d entries", l.size())
	}
	// Exhaustion and Retry-After.
	for range 20 {
		l.allow("k")
	}
	if ok, after := l.allow("k"); ok || after != 1 {
		t.Fatalf("21st request: ok=%v after=%d", ok, after)
	}
	if blocked, _ := l.exhausted("k"); !blocked {
		t.Fatal("k not reported exhausted")
	}
	var off *keyedLimiter
	if ok, _ := off.allow("x"); !ok {
		t.Fatal("nil limiter refused")
	}
	if newKeyedLimiter(RateLimit{}, 0, time.Now) != nil {
		t.Fatal("zero rate built a limiter")
	}
}
