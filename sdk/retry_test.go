package sdk

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// call is one SDK call, for tables that try every kind of call.
type call struct {
	name  string
	retry bool // whether the SDK may repeat it
	do    func(c *Client, opts ...CallOption) error
}

var calls = []call{
	{"GetToken (GET)", true, func(c *Client, o ...CallOption) error {
		_, err := c.GetToken(context.Background(), "t1", o...)
		return err
	}},
	{"ListTokens (GET)", true, func(c *Client, o ...CallOption) error {
		_, err := c.ListTokens(context.Background(), ListOptions{}, o...)
		return err
	}},
	{"Audit (GET)", true, func(c *Client, o ...CallOption) error {
		_, err := c.Audit(context.Background(), AuditOptions{}, o...)
		return err
	}},
	{"Introspect (POST, read)", true, func(c *Client, o ...CallOption) error {
		_, err := c.Introspect(context.Background(), "tkn_x", o...)
		return err
	}},
	{"AssignModel (PUT)", true, func(c *Client, o ...CallOption) error {
		_, err := c.AssignModel(context.Background(), "t1", "m1", o...)
		return err
	}},
	{"UnassignModel (DELETE)", true, func(c *Client, o ...CallOption) error {
		_, err := c.UnassignModel(context.Background(), "t1", o...)
		return err
	}},
	{"DeleteToken (DELETE)", true, func(c *Client, o ...CallOption) error { return c.DeleteToken(context.Background(), "t1", o...) }},
	{"CancelToken (POST, idempotent)", true, func(c *Client, o ...CallOption) error {
		_, err := c.CancelToken(context.Background(), "t1", o...)
		return err
	}},
	{"CreateToken (POST)", false, func(c *Client, o ...CallOption) error {
		_, err := c.CreateToken(context.Background(), CreateTokenRequest{Name: "n", ExpirationDate: 1}, o...)
		return err
	}},
	{"CreateModel (POST)", false, func(c *Client, o ...CallOption) error {
		_, err := c.CreateModel(context.Background(), "m", o...)
		return err
	}},
	{"IssueLicense (POST)", false, func(c *Client, o ...CallOption) error {
		_, err := c.IssueLicense(context.Background(), o...)
		return err
	}},
	{"UpdateToken (PATCH)", false, func(c *Client, o ...CallOption) error {
		_, err := c.UpdateToken(context.Background(), "t1", UpdateTokenRequest{Name: Some("x")}, o...)
		return err
	}},
}

func TestRetryOn503OnlyForIdempotentCallsAndBounded(t *testing.T) {
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				writeError(w, 503, CodeProjectionBehind, "behind")
			})
			var meta Meta
			err := tc.do(f.client(), WithResponseMeta(&meta))
			if !errors.Is(err, ErrProjectionBehind) {
				t.Fatalf("err = %v, want projection_behind", err)
			}
			want := 1
			if tc.retry {
				want = 3 // the policy's MaxAttempts
			}
			if got := len(f.requests()); got != want || meta.Attempts != want {
				t.Errorf("attempts = %d (meta %d), want %d", got, meta.Attempts, want)
			}
		})
	}
}

func TestRetryAfterDroppedConnectionOnlyForIdempotentCalls(t *testing.T) {
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					dropConnection(t, w)
					return
				}
				if r.Method == http.MethodDelete && r.URL.Path == "/v1/tokens/t1" {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				writeJSON(w, 200, map[string]any{"active": true, "tokens": []any{}, "entries": []any{}, "id": "t1"})
			})
			err := tc.do(f.client())
			got := len(f.requests())
			if tc.retry {
				if err != nil || got != 2 {
					t.Errorf("err = %v after %d attempts, want success after 2", err, got)
				}
				return
			}
			if err == nil || got != 1 {
				t.Errorf("err = %v after %d attempts, want a failure after 1", err, got)
			}
			var apiErr *Error
			if errors.As(err, &apiErr) {
				t.Errorf("a dropped connection is not an API error: %v", err)
			}
		})
	}
}

func TestDroppedConnectionAttemptsAreBounded(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { dropConnection(t, w) })
	if _, err := f.client().GetToken(context.Background(), "t1"); err == nil {
		t.Fatal("want an error")
	}
	if got := len(f.requests()); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
}

// A conditional write whose connection dropped may have landed: a retry would
// fail with a version_conflict the caller did not cause, so it is not retried.
// A 503, which says the write did not happen, is.
func TestConditionalWriteNotRetriedAfterDroppedConnection(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { dropConnection(t, w) })
	if _, err := f.client().AssignModel(context.Background(), "t1", "m1", IfMatch(3)); err == nil {
		t.Fatal("want an error")
	}
	if got := len(f.requests()); got != 1 {
		t.Errorf("attempts = %d, want 1", got)
	}

	f = newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n < 3 {
			writeError(w, 503, CodeProjectionBehind, "behind")
			return
		}
		writeJSON(w, 200, tokenJSON("t1"))
	})
	if _, err := f.client().AssignModel(context.Background(), "t1", "m1", IfMatch(3)); err != nil {
		t.Fatalf("err = %v", err)
	}
	for _, r := range f.requests() {
		if r.Header.Get("If-Match") != `"3"` {
			t.Errorf("If-Match = %q, want \"3\" on every attempt", r.Header.Get("If-Match"))
		}
	}
}

// A DeleteToken whose first attempt was lost and whose retry finds the token
// gone reports success: the lost attempt deleted it.
func TestDeleteRetryFindingItGoneSucceeds(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			dropConnection(t, w)
			return
		}
		writeError(w, 404, CodeNotFound, "token t1 not found")
	})
	if err := f.client().DeleteToken(context.Background(), "t1"); err != nil {
		t.Errorf("err = %v, want nil", err)
	}
	// Without a lost attempt, a 404 is a 404.
	f = newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeError(w, 404, CodeNotFound, "token t1 not found")
	})
	if err := f.client().DeleteToken(context.Background(), "t1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want not_found", err)
	}
}

func TestNoRetryOnOtherErrors(t *testing.T) {
	for _, status := range []int{400, 404, 409, 412, 500, 502} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) { writeError(w, status, "x", "y") })
		_, _ = f.client().GetToken(context.Background(), "t1")
		if got := len(f.requests()); got != 1 {
			t.Errorf("status %d: attempts = %d, want 1", status, got)
		}
	}
}

func TestRateLimitedIsReturnedUnlessOptedIn(t *testing.T) {
	limited := func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			writeError(w, 429, CodeRateLimited, "slow down")
			return
		}
		writeJSON(w, 201, map[string]any{"id": "m1", "name": "m"})
	}
	f := newFake(t, limited)
	if _, err := f.client().CreateModel(context.Background(), "m"); !errors.Is(err, ErrRateLimited) {
		t.Errorf("default policy: err = %v, want rate_limited", err)
	}
	if got := len(f.requests()); got != 1 {
		t.Errorf("default policy: attempts = %d, want 1", got)
	}

	// Opted in, even a creation is repeated: a 429 was refused before it
	// did anything.
	f = newFake(t, limited)
	c := f.client(WithRetryPolicy(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, RetryRateLimited: true}))
	m, err := c.CreateModel(context.Background(), "m")
	if err != nil || m.ID != "m1" {
		t.Errorf("opted in: model %+v, err %v", m, err)
	}
	if got := len(f.requests()); got != 2 {
		t.Errorf("opted in: attempts = %d, want 2", got)
	}
}

func TestRateLimitedWaitBeyondDeadlineGivesUp(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "30")
		writeError(w, 429, CodeRateLimited, "slow down")
	})
	c := f.client(WithRetryPolicy(RetryPolicy{MaxAttempts: 3, RetryRateLimited: true}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := c.GetToken(ctx, "t1"); !errors.Is(err, ErrRateLimited) {
		t.Errorf("err = %v, want rate_limited", err)
	}
	if time.Since(start) > time.Second {
		t.Error("waited for a Retry-After beyond the deadline")
	}
}

func TestCanceledContextStopsRetrying(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		cancel()
		writeError(w, 503, CodeProjectionBehind, "behind")
	})
	c := f.client(WithRetryPolicy(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second}))
	start := time.Now()
	_, err := c.GetToken(ctx, "t1")
	if err == nil || time.Since(start) > 500*time.Millisecond {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
	if got := len(f.requests()); got != 1 {
		t.Errorf("attempts = %d, want 1", got)
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 10, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.normalized()
	for attempt, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 60: time.Second} {
		for range 200 {
			if d := p.backoff(attempt); d <= 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, want in (0, %v]", attempt, d, ceiling)
			}
		}
	}
	if got := (RetryPolicy{}).normalized().MaxAttempts; got != 1 {
		t.Errorf("zero policy MaxAttempts = %d, want 1", got)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{now.Add(-5 * time.Second).Format(http.TimeFormat), 0, true},
	}
	for _, tc := range tests {
		got, ok := retryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTransportErrorIsWrapped(t *testing.T) {
	c := New("http://127.0.0.1:1", "lic_x", WithRetryPolicy(NoRetries))
	_, err := c.Account(context.Background())
	if err == nil || !strings.Contains(err.Error(), "GET /v1/account") {
		t.Errorf("err = %v, want it to name the call", err)
	}
}

// refusingDialer refuses the first n connections, as a port with nothing
// listening does, then dials for real.
func refusingDialer(n int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var mu sync.Mutex
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		refuse := n > 0
		n--
		mu.Unlock()
		if refuse {
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

// A refused connection never carried the request: even a creation is
// retried, and the error says what happened without repeating the URL.
func TestRefusedConnectionIsRetriedForEveryCall(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 201, map[string]any{"id": "m1", "name": "m"})
	})
	hc := &http.Client{Transport: &http.Transport{DialContext: refusingDialer(2), DisableKeepAlives: true}}
	c := New(f.URL, "lic_x", WithHTTPClient(hc), WithRetryPolicy(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
	m, err := c.CreateModel(context.Background(), "m")
	if err != nil || m.ID != "m1" || len(f.requests()) != 1 {
		t.Errorf("CreateModel = %+v, %v after %d requests", m, err, len(f.requests()))
	}

	hc = &http.Client{Transport: &http.Transport{DialContext: refusingDialer(5), DisableKeepAlives: true}}
	c = New(f.URL, "lic_x", WithHTTPClient(hc), WithRetryPolicy(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
	_, err = c.CreateModel(context.Background(), "m")
	if !errors.Is(err, syscall.ECONNREFUSED) || strings.Count(err.Error(), "/v1/models") != 1 {
		t.Errorf("err = %v", err)
	}
}
