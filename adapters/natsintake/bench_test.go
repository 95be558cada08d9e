package natsintake_test

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsintake"
	"github.com/tokend/tokend/adapters/natsjs"
)

// BenchmarkCommandsWithOutcomes measures IssueToken commands carried out
// through the NATS intake, from the first publish to the last outcome
// received, against raw JetStream asynchronous publishes of bodies of the
// same size in the same run (to a stream of their own with the same
// settings as TOKEN_COMMANDS), and reports both rates and their ratio:
//
//	go test -run '^$' -bench CommandsWithOutcomes -benchtime 5000x ./adapters/natsintake
func BenchmarkCommandsWithOutcomes(b *testing.B) {
	for _, lanes := range []int{natsintake.DefaultLanes} {
		b.Run(fmt.Sprintf("lanes=%d", lanes), func(b *testing.B) { benchIntake(b, lanes) })
	}
}

func benchIntake(b *testing.B, lanes int) {
	f := newFixture(b)
	n := b.N
	msgs := make([]*nats.Msg, n)
	for i := range msgs {
		c := issue(fmt.Sprintf("bench %d", i))
		msgs[i] = &nats.Msg{Subject: natsjs.CommandSubject("IssueToken"), Data: mustJSON(b, c),
			Header: nats.Header{nats.MsgIdHdr: {c.CommandID}, "Authorization": {"Bearer " + f.admin}}}
	}

	raw := natsjs.CommandsStreamConfig(1)
	raw.Name, raw.Subjects = "BENCH_RAW", []string{"bench.raw.>"}
	if _, err := f.js.CreateStream(ctxT(b), raw); err != nil {
		b.Fatal(err)
	}
	rawMsgs := make([]*nats.Msg, n)
	for i, m := range msgs {
		rawMsgs[i] = &nats.Msg{Subject: "bench.raw.IssueToken", Data: m.Data, Header: m.Header}
	}
	f.start(func(c *natsintake.Config) { c.Lanes = lanes })
	// The client counts outcomes (a real one decodes only its own).
	if err := f.seenSub.Unsubscribe(); err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	all := make(chan struct{})
	sub, err := f.nc.Subscribe(natsintake.OutcomesPrefix+">", func(*nats.Msg) {
		if got.Add(1) == int64(n) {
			close(all)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	publishAll(b, f.js, rawMsgs)
	rawRate := float64(n) / time.Since(start).Seconds()
	rawCPU := (cpuTime() - cpu) / time.Duration(n)

	start, cpu = time.Now(), cpuTime()
	publishAll(b, f.js, msgs)
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d outcomes of %d", got.Load(), n)
	}
	rate := float64(n) / time.Since(start).Seconds()
	cmdCPU := (cpuTime() - cpu) / time.Duration(n)
	b.StopTimer()

	b.ReportMetric(rate, "cmds/s")
	b.ReportMetric(rawRate, "raw-publishes/s")
	b.ReportMetric(100*rate/rawRate, "%-of-raw")
	// On a machine shared with other work, wall-clock rates swing with the
	// neighbours' load; the process's CPU time per operation does not, and
	// its ratio is what the rates would be on cores of our own.
	b.ReportMetric(float64(cmdCPU.Microseconds()), "cpu-µs/cmd")
	b.ReportMetric(float64(rawCPU)/1e3, "cpu-µs/raw")
	b.ReportMetric(100*float64(rawCPU)/float64(cmdCPU), "%-of-raw-cpu")
}

// cpuTime is the user and system CPU time of this process so far: the
// embedded server, the intake, the projector and the benchmark's client.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// publishAll publishes msgs asynchronously, at most 4,096 unacknowledged,
// and waits for every acknowledgement.
func publishAll(b *testing.B, js jetstream.JetStream, msgs []*nats.Msg) {
	b.Helper()
	for _, m := range msgs {
		if _, err := js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publishes not acknowledged")
	}
}
