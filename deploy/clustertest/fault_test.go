//go:build cluster

package clustertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokend/tokend/sdk"
)

// Timing of the run, sized for a shared 2-core machine.
const (
	warmUp     = 8 * time.Second  // load before the first fault
	settle     = 5 * time.Second  // load after each recovery, before the checks
	natsDown   = 5 * time.Second  // a killed NATS node stays down this long
	tokendDown = 3 * time.Second  // a killed tokend stays down this long
	stopFor    = 10 * time.Second // the stream leader stays stopped this long
)

// TestFaults runs a steady mixed-command load on both replicas through four
// faults — SIGKILL of a NATS node, SIGKILL of a tokend, SIGSTOP of the
// stream leader for 10 s, SIGKILL of every process — and after each checks
// that every acknowledged command is in the log exactly once, that the
// invariants hold, and that both read models converge to the log, audit
// trails included. It logs a report of the figures (docs/reliability.md);
// CLUSTERTEST_REPORT=<file> writes it to a file too.
func TestFaults(t *testing.T) {
	c := newCluster(t)
	rep := &lockedLog{t: t}
	rep.printf("cluster up (3 nodes healthy, 2 replicas ready) in %s", c.start().Round(time.Millisecond))
	if rs := c.takeRestarts(); len(rs) > 0 {
		rep.printf("  tokend exited before it was ready and was started again (as systemd would): %s", strings.Join(rs, "; "))
	}

	admin := sdk.New(c.replicas[0].url(), c.license)
	var models []string
	for _, name := range []string{"small", "medium", "large"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := admin.CreateModel(ctx, name)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m.ID)
	}

	l := newLoad(c, models)
	l.start()
	var once sync.Once
	finish := func() { once.Do(l.finish) }
	t.Cleanup(finish) // before the processes are killed: cleanups run last-in first-out
	loadStart := time.Now()
	rep.printf("load: %d workers (half starting on each replica, moving to the other after a failed attempt), %s between commands, each command repeated with its Idempotency-Key while its outcome is unknown", l.workers, l.pace)
	time.Sleep(warmUp)

	log := &eventLog{}
	others := func(i int) []int {
		var o []int
		for j := range c.nodes {
			if j != i {
				o = append(o, j)
			}
		}
		return o
	}

	phase := func(name string, inject func() (fault, recovery string)) {
		t.Helper()
		l.setPhase(name)
		t0 := time.Now()
		fault, recovery := inject()
		time.Sleep(settle)
		t1 := time.Now()
		var acks []ack
		var cr checkReport
		func() {
			l.pause()
			defer l.resume() // also when a check fails the test: the workers must finish
			acks = l.snapshot()
			cr = check(t, c, log, acks)
		}()
		n, gap := window(acks, t0, t1)
		l.mu.Lock()
		ab := l.abandoned[name]
		l.mu.Unlock()
		dur := t1.Sub(t0)
		rep.printf("%s: %s; %s", name, fault, recovery)
		rep.printf("  %d commands acknowledged in %s (%.0f/s), longest time without an acknowledgement %s, commands given up after %s: %d",
			n, dur.Round(time.Millisecond), float64(n)/dur.Seconds(), gap.Round(time.Millisecond), commandDeadline, ab)
		rep.printf("  failed attempts (repeated): %s", l.errSummary(name))
		if rs := c.takeRestarts(); len(rs) > 0 {
			rep.printf("  tokend exited before it was ready and was started again (as systemd would): %s", strings.Join(rs, "; "))
		}
		rep.printf("  checks passed in %s: %d acknowledged commands so far each once in the log; log at sequence %d; %d tokens listed alike by both replicas; %d audit entries alike",
			cr.took.Round(time.Millisecond), cr.acks, cr.lastSeq, cr.tokens, cr.auditEntries)
		if t.Failed() {
			t.FailNow()
		}
	}

	// 1. SIGKILL a NATS node — the one that leads TOKEN_EVENTS, the worst
	// one to lose — and bring it back.
	phase("1 nats-kill", func() (string, string) {
		victim := c.waitLeader(10 * time.Second)
		conns := c.tokendConnections()
		killed := time.Now()
		c.nodes[victim].p.kill()
		nl := c.waitLeader(30*time.Second, others(victim)...)
		elected := time.Since(killed)
		time.Sleep(natsDown - time.Since(killed))
		c.startNode(victim)
		healthy := c.waitNodesHealthy(60*time.Second, victim)
		return fmt.Sprintf("SIGKILL of %s (leader of TOKEN_EVENTS; tokend connections per node %v), restarted after %s", c.nodes[victim].name, conns, natsDown),
			fmt.Sprintf("%s led the stream %s after the kill; the restarted node was healthy (caught up) %s after its start", c.nodes[nl].name, elected.Round(time.Millisecond), healthy.Round(time.Millisecond))
	})

	// 2. SIGKILL a tokend replica and bring it back.
	phase("2 tokend-kill", func() (string, string) {
		r := 1
		c.replicas[r].p.kill()
		time.Sleep(tokendDown)
		c.startReplica(r)
		ready := c.waitReplicaReady(r, 90*time.Second)
		return fmt.Sprintf("SIGKILL of tokend %s, restarted after %s", c.replicas[r].name, tokendDown),
			fmt.Sprintf("ready (/readyz 200, read model caught up) %s after its start", ready.Round(time.Millisecond))
	})

	// 3. SIGSTOP the stream leader for 10 s, then SIGCONT.
	phase("3 leader-stop", func() (string, string) {
		victim := c.waitLeader(10 * time.Second)
		conns := c.tokendConnections()
		stopped := time.Now()
		c.nodes[victim].p.signal(syscall.SIGSTOP)
		cont := func() { c.nodes[victim].p.signal(syscall.SIGCONT) }
		t.Cleanup(cont) // a stopped node must not outlive a failure
		nl := c.waitLeader(30*time.Second, others(victim)...)
		elected := time.Since(stopped)
		time.Sleep(stopFor - time.Since(stopped))
		cont()
		healthy := c.waitNodesHealthy(60*time.Second, victim)
		ready0 := c.waitReplicaReady(0, 60*time.Second)
		ready1 := c.waitReplicaReady(1, 60*time.Second)
		return fmt.Sprintf("SIGSTOP of %s (leader of TOKEN_EVENTS; tokend connections per node %v) for %s, then SIGCONT", c.nodes[victim].name, conns, stopFor),
			fmt.Sprintf("%s led the stream %s after the stop; after SIGCONT the node was healthy in %s, the replicas ready in %s and %s",
				c.nodes[nl].name, elected.Round(time.Millisecond), healthy.Round(time.Millisecond), ready0.Round(time.Millisecond), ready1.Round(time.Millisecond))
	})

	// 4. Restart everything: SIGKILL all five processes at once, start them again.
	phase("4 restart-all", func() (string, string) {
		killed := time.Now()
		var wg sync.WaitGroup
		for _, n := range c.nodes {
			wg.Add(1)
			go func() { defer wg.Done(); n.p.kill() }()
		}
		for _, r := range c.replicas {
			wg.Add(1)
			go func() { defer wg.Done(); r.p.kill() }()
		}
		wg.Wait()
		time.Sleep(time.Second)
		restarted := time.Now()
		for i := range c.nodes {
			c.startNode(i)
		}
		healthy := c.waitNodesHealthy(90*time.Second, 0, 1, 2)
		for i := range c.replicas {
			c.startReplica(i)
		}
		ready0 := c.waitReplicaReady(0, 90*time.Second)
		ready1 := c.waitReplicaReady(1, 90*time.Second)
		return "SIGKILL of all three nodes and both replicas at once, all started again 1 s later",
			fmt.Sprintf("nodes healthy %s after their start; replicas ready %s and %s after that; %s from the kill to both replicas ready",
				healthy.Round(time.Millisecond), ready0.Round(time.Millisecond), ready1.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond)) +
				fmt.Sprintf(" (restart began %s after the kill)", restarted.Sub(killed).Round(time.Millisecond))
	})

	finish()
	total := time.Since(loadStart)
	acks := l.snapshot()
	final := check(t, c, log, acks)

	// No secret or license in any log line of any process.
	l.mu.Lock()
	secrets := append([]string{c.license}, l.secrets...)
	l.mu.Unlock()
	for _, p := range append(nodeProcs(c), replicaProcs(c)...) {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("the log of %s holds a secret or license (%s…)", p.name, s[:8])
			}
		}
	}

	l.mu.Lock()
	var sent, abandoned int
	for _, v := range l.sent {
		sent += v
	}
	for _, v := range l.abandoned {
		abandoned += v
	}
	refused := fmt.Sprint(l.refused)
	unexpected := append([]string(nil), l.unexpect...)
	stale := append([]string(nil), l.stale...)
	l.mu.Unlock()
	kinds := map[opKind]int{}
	retried := 0
	for _, a := range acks {
		kinds[a.kind]++
		if a.attempts > 1 {
			retried++
		}
	}
	rep.printf("total: %d commands sent in %s, %d acknowledged (%.0f/s over the whole run, faults and checks included), %d of them after more than one attempt; %d given up; expected refusals %s",
		sent, total.Round(time.Second), len(acks), float64(len(acks))/total.Seconds(), retried, abandoned, refused)
	rep.printf("acknowledged by kind: %v", kinds)
	rep.printf("final check in %s: log at sequence %d, %d tokens listed, %d audit entries; %d secrets and licenses searched in %d process logs: none found",
		final.took.Round(time.Millisecond), final.lastSeq, final.tokens, final.auditEntries, len(secrets), len(c.nodes)+len(c.replicas))
	for _, u := range unexpected {
		t.Errorf("unexpected refusal: %s", u)
	}
	if len(stale) > 0 {
		rep.printf("%d refusals of tokens or models that exist (decided on a stale view of the log; see knownStale):", len(stale))
		for _, s := range stale {
			rep.printf("  %s", s)
		}
		t.Errorf("%d refusals decided on a stale view of the log", len(stale))
	}

	out := strings.Join(rep.lines, "\n")
	if path := os.Getenv("CLUSTERTEST_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(out+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func nodeProcs(c *cluster) []*proc {
	var ps []*proc
	for _, n := range c.nodes {
		ps = append(ps, n.p)
	}
	return ps
}

func replicaProcs(c *cluster) []*proc {
	var ps []*proc
	for _, r := range c.replicas {
		ps = append(ps, r.p)
	}
	return ps
}
