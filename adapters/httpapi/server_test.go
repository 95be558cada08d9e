package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestServeAndShutdown: the Server's own http.Server has the configured
// limits, and Shutdown lets a request in flight (here one waiting for
// X-Min-Sequence) finish before Serve returns.
func TestServeAndShutdown(t *testing.T) {
	s := newStack(t)
	srv, err := New(Config{Store: s.store, Commands: s.srv.cmds, Timeouts: Timeouts{Idle: time.Minute}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.http
	if h.ReadHeaderTimeout != 5*time.Second || h.ReadTimeout != 30*time.Second || h.WriteTimeout != 30*time.Second ||
		h.IdleTimeout != time.Minute || h.MaxHeaderBytes != 32<<10 {
		t.Fatalf("server limits: %+v", h)
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a store and commands succeeded")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()

	// A read that waits for the next event.
	next := s.lastSeq() + 1
	answered := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/v1/account", nil)
		req.Header.Set("Authorization", "Bearer "+s.admin)
		req.Header.Set("X-Min-Sequence", strconv.FormatUint(next, 10))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- -1
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		answered <- res.StatusCode
	}()
	// Let the request reach the server and start waiting; if it has not,
	// Shutdown below returns at once and the test fails, never passes wrongly.
	time.Sleep(200 * time.Millisecond)
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-shut:
		t.Fatal("Shutdown returned with a request in flight")
	default:
	}
	s.newModel(s.admin, "the event the read waits for")
	if code := <-answered; code != 200 {
		t.Fatalf("in-flight read answered %d", code)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("the server still answers after Shutdown")
	}
}
