package natsjs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/adapters/natsjs/natstest"
)

func TestConnectFailsClearly(t *testing.T) {
	_, _, err := natsjs.Connect("nats://user:hunter2@127.0.0.1:1", "", discard())
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestConnectionSurvivesServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv, _, _ := natstest.StartAt(t, dir)
	addr := strings.TrimPrefix(srv.ClientURL(), "nats://")

	nc, js, err := natsjs.Connect(srv.ClientURL(), "survivor", discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s := natsjs.NewEventStore(js)
	first := mustAppend(t, s, newRenamed("a", "tok", 0), 0)

	srv.Shutdown()
	natstest.StartWith(t, natsjs.EmbeddedConfig{Listen: addr, StoreDir: dir})

	// The same connection reconnects on its own; the append after it
	// sees the state from before the restart.
	deadline := time.Now().Add(5 * time.Second)
	for !nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("did not reconnect within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if seq := mustAppend(t, s, newRenamed("a", "tok", 1), first); seq != first+1 {
		t.Fatalf("append after reconnect at %d, want %d", seq, first+1)
	}
}
