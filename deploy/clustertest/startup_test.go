//go:build cluster

package clustertest

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// TestStartBeforeJetStreamIsReady starts tokend while its cluster cannot
// serve JetStream yet — one node of three up, so no meta leader — and the
// other two nodes three seconds later. A replica started by an operator (or
// an orchestrator that starts everything at once, or after a full outage)
// meets exactly this; it must wait and become ready, not exit. (It used to
// exit: a stream request sent before the meta leader was elected was never
// answered and never sent again. natsjs.EnsureStreams and
// commands.Bootstrap now try again, each attempt with its own deadline,
// while the cluster answers natsjs.IsUnavailable errors.)
func TestStartBeforeJetStreamIsReady(t *testing.T) {
	c := newCluster(t)
	c.startNode(0)
	// Listening, but without JetStream: the other two nodes are down.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.nodes[0].client), time.Second); err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nats n1 does not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.startReplica(0)
	time.Sleep(3 * time.Second)
	if !c.replicas[0].p.running() {
		t.Fatalf("tokend exited while its cluster had no JetStream meta leader yet, instead of waiting for it:\n%s", c.replicas[0].p.tail(5))
	}
	c.startNode(1)
	c.startNode(2)
	start := time.Now()
	for !c.replicaReady(0) {
		if !c.replicas[0].p.running() {
			t.Fatalf("tokend exited while its cluster was electing leaders:\n%s", c.replicas[0].p.tail(5))
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("tokend not ready 60 s after its cluster was complete:\n%s", c.replicas[0].p.tail(10))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("tokend ready %s after the cluster was complete", time.Since(start).Round(time.Millisecond))
}
