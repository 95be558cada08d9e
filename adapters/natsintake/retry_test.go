package natsintake

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// TestRetryMiddleware: a handler that succeeds runs once; a transient fault
// is retried until the handler succeeds or the retries run out; a fault the
// intake does not retry, the message's context ending, or MaxElapsedTime
// stop it at once, each with the handler's error (or the context's).
func TestRetryMiddleware(t *testing.T) {
	transient, permanent := errors.New("transient"), permanentError{errors.New("permanent")}
	r := middleware.Retry{MaxRetries: 3, InitialInterval: time.Millisecond, Multiplier: 2, MaxInterval: 4 * time.Millisecond, RandomizationFactor: 0.2}
	cases := []struct {
		name      string
		retry     middleware.Retry
		errs      []error // the handler's result, call by call (nil after the last)
		cancel    bool
		wantCalls int
		wantErr   error
	}{
		{"succeeds", r, nil, false, 1, nil},
		{"transient, then succeeds", r, []error{transient, transient}, false, 3, nil},
		{"transient every time", r, []error{transient, transient, transient, transient, transient}, false, 4, transient},
		{"permanent", r, []error{permanent}, false, 1, permanent},
		{"transient, then permanent", r, []error{transient, permanent}, false, 2, permanent},
		{"context ends while waiting", middleware.Retry{MaxRetries: 3, InitialInterval: time.Hour}, []error{transient}, true, 1, context.Canceled},
		{"past MaxElapsedTime", middleware.Retry{MaxRetries: 3, InitialInterval: time.Hour, MaxElapsedTime: time.Minute}, []error{transient}, false, 1, transient},
		{"no retries", middleware.Retry{}, []error{transient}, false, 1, transient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			h := retryMiddleware(c.retry, retryable, watermill.NopLogger{})(func(*message.Message) ([]*message.Message, error) {
				calls++
				if calls <= len(c.errs) {
					return nil, c.errs[calls-1]
				}
				return nil, nil
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.cancel {
				time.AfterFunc(10*time.Millisecond, cancel)
			}
			msg := message.NewMessage("1", nil)
			msg.SetContext(ctx)
			_, err := h(msg)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Errorf("error %v, want %v", err, c.wantErr)
			}
			if calls != c.wantCalls {
				t.Errorf("handler ran %d times, want %d", calls, c.wantCalls)
			}
		})
	}
}

// TestRetryIntervals: the waits grow by Multiplier up to MaxInterval, each
// spread by RandomizationFactor.
func TestRetryIntervals(t *testing.T) {
	d := 100 * time.Millisecond
	for _, want := range []time.Duration{200, 400, 500, 500} {
		d = nextInterval(d, 2, 500*time.Millisecond)
		if d != want*time.Millisecond {
			t.Fatalf("next interval %v, want %v", d, want*time.Millisecond)
		}
	}
	for range 100 {
		if j := jitter(time.Second, 0.2); j < 800*time.Millisecond || j > 1200*time.Millisecond {
			t.Fatalf("jitter(1s, 0.2) = %v", j)
		}
	}
	if jitter(time.Second, 0) != time.Second {
		t.Fatal("jitter with no randomization moved the wait")
	}
}
