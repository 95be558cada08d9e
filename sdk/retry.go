package sdk

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy says how the Client repeats a call that failed in a way that
// may pass. Every attempt of one write carries the same Idempotency-Key, so
// that the service carries out a retried write once even when an attempt
// whose answer was lost had landed.
//
// Which calls are retried, and why:
//
//   - Reads (every GET, and Introspect, a POST that changes nothing) are
//     retried on a 503 answer or a dropped connection.
//   - Idempotent writes, whose repetition leaves the same state, are retried
//     on the same conditions: AssignModel (PUT; assigning the model a token
//     already has is a no-op), UnassignModel and DeleteToken (DELETE), and
//     CancelToken (a POST, but cancelling a canceled token is a no-op that
//     succeeds, so it is idempotent by the domain). A DeleteToken or
//     RevokeLicense whose retry, after a dropped connection, finds the thing
//     gone (404) reports success: the lost attempt removed it.
//   - A conditional write (IfMatch) is retried on 503 but not after a
//     dropped connection: if the lost attempt landed, the retry would fail
//     with a version_conflict the caller did not cause.
//   - Creations (CreateToken, CreateModel, CreateAccount, IssueLicense) and
//     UpdateToken (PATCH) are never retried by the SDK. A repeated creation
//     whose first attempt landed would at best answer without the secret or
//     license (shown only to the first answer), and a repeated PATCH could
//     undo a change someone else made in between. The caller decides: every
//     write carries an Idempotency-Key, and repeating a call with the same
//     key (IdempotencyKey) makes the service answer the first outcome instead
//     of acting again.
//   - A refused connection (nothing listening, a service restarting) is
//     retried for every call, creations included: the request never left.
//   - A 429 is retried only when RetryRateLimited is set, after the
//     Retry-After the service sent (or the backoff when it sent none), and for
//     every call, creations included: a rate-limited call was refused before
//     it did anything. It is not retried when the wait would outlast the
//     context's deadline.
//
// Waits grow exponentially with full jitter: before retry n the Client waits a
// random duration in [0, min(MaxDelay, BaseDelay·2^(n-1))), so that many
// clients failing together do not come back together.
//
// The zero RetryPolicy is valid and means a single attempt.
type RetryPolicy struct {
	// MaxAttempts bounds the attempts of one call, the first included;
	// values below 1 mean 1.
	MaxAttempts int
	// BaseDelay is the cap of the first wait; 0 means 100 ms.
	BaseDelay time.Duration
	// MaxDelay caps every wait; 0 means 2 s.
	MaxDelay time.Duration
	// RetryRateLimited makes the Client wait out a 429's Retry-After and try
	// again instead of returning ErrRateLimited at once.
	RetryRateLimited bool
}

// DefaultRetryPolicy is what New uses: up to 4 attempts, waits capped at
// 100 ms, 200 ms, 400 ms, and 429s returned to the caller.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second}

// NoRetries makes every call a single attempt.
var NoRetries = RetryPolicy{MaxAttempts: 1}

func (p RetryPolicy) normalized() RetryPolicy {
	if p.MaxAttempts < 1 {
		p.MaxAttempts = 1
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 100 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 2 * time.Second
	}
	return p
}

// backoff is the wait before the retry that follows attempt (1-based).
func (p RetryPolicy) backoff(attempt int) time.Duration {
	ceiling := p.MaxDelay
	if shift := attempt - 1; shift < 30 {
		if d := p.BaseDelay << shift; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return rand.N(ceiling) + 1
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}
