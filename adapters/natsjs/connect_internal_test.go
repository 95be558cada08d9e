package natsjs

import (
	"strings"
	"testing"
	"time"
)

func TestReconnectDelay(t *testing.T) {
	tests := []struct {
		attempts int
		min, max time.Duration
	}{
		{0, 100 * time.Millisecond, 125 * time.Millisecond},
		{1, 100 * time.Millisecond, 125 * time.Millisecond},
		{2, 200 * time.Millisecond, 250 * time.Millisecond},
		{4, 800 * time.Millisecond, time.Second},
		{7, 5 * time.Second, 6250 * time.Millisecond},
		{1000, 5 * time.Second, 6250 * time.Millisecond},
	}
	for _, tc := range tests {
		for range 50 {
			if d := reconnectDelay(tc.attempts); d < tc.min || d > tc.max {
				t.Fatalf("reconnectDelay(%d) = %s, want within [%s, %s]", tc.attempts, d, tc.min, tc.max)
			}
		}
	}
}

func TestRedactURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://user:secret@host:4222", "nats://redacted@host:4222"},
		{"nats://s3cr3t-token@a:4222,nats://b:4222", "nats://redacted@a:4222,nats://b:4222"},
	}
	for _, tc := range tests {
		if got := redactURLs(tc.in); got != tc.want || strings.Contains(got, "secret") {
			t.Errorf("redactURLs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
