package natsintake

import (
	"math/rand/v2"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// retryMiddleware retries a handler that failed with a transient fault, with
// the backoff r describes (MaxRetries, InitialInterval, Multiplier,
// MaxInterval, RandomizationFactor, MaxElapsedTime, OnRetryHook), the same
// schedule as Watermill's middleware.Retry.
//
// Why not r.Middleware: Watermill's builds its backoff, five closures and
// the backoff library's options for every message, also for the ones that
// succeed at once, which is nearly all of them: about 3 µs of every command
// in tokenbench's profile. This one costs nothing until a handler fails.
func retryMiddleware(r middleware.Retry, retryable func(error) bool, log watermill.LoggerAdapter) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err == nil || r.MaxRetries <= 0 || !retryable(err) {
				return out, err
			}
			ctx := msg.Context()
			start := time.Now()
			interval := r.InitialInterval
			for n := 1; n <= r.MaxRetries; n++ {
				delay := jitter(interval, r.RandomizationFactor)
				if r.MaxElapsedTime > 0 && time.Since(start)+delay > r.MaxElapsedTime {
					return out, err
				}
				log.Error("Error occurred, retrying", err, watermill.LogFields{
					"retry_no": n, "max_retries": r.MaxRetries, "wait_time": delay,
				})
				if r.OnRetryHook != nil {
					r.OnRetryHook(n, delay)
				}
				t := time.NewTimer(delay)
				select {
				case <-ctx.Done():
					t.Stop()
					return out, ctx.Err()
				case <-t.C:
				}
				if out, err = h(msg); err == nil || !retryable(err) {
					return out, err
				}
				interval = nextInterval(interval, r.Multiplier, r.MaxInterval)
			}
			return out, err
		}
	}
}

// jitter spreads d over [d(1-f), d(1+f)], so that commands failing together
// do not retry together.
func jitter(d time.Duration, f float64) time.Duration {
	if f <= 0 || d <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 - f + 2*f*rand.Float64()))
}

// nextInterval multiplies d by m, up to max when max is set.
func nextInterval(d time.Duration, m float64, max time.Duration) time.Duration {
	if m > 1 {
		d = time.Duration(float64(d) * m)
	}
	if max > 0 && d > max {
		d = max
	}
	return d
}
