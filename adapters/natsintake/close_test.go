package natsintake_test

import (
	"testing"
	"time"

	"github.com/tokend/tokend/adapters/natsintake"
	"github.com/tokend/tokend/adapters/natsjs"
)

// Closing the intake in the middle of a backlog lets the commands in flight
// finish and be acknowledged, hands the ones fetched but not started back,
// and the next intake carries out the rest: every command runs once and is
// answered once, and nothing waits for AckWait to be redelivered.
func TestCloseMidBacklog(t *testing.T) {
	f := newFixture(t)
	slow := &faultyService{inner: f.svc, delay: 20 * time.Millisecond}
	var cmds []command
	for i := range 60 {
		c := issue("backlog " + string(rune('A'+i)))
		f.publish("IssueToken", c, f.admin)
		cmds = append(cmds, c)
	}
	in := f.start(func(c *natsintake.Config) { c.Commands = slow; c.Lanes = 4 })
	if !f.seen.waitTotal(10, 10*time.Second) {
		t.Fatal("the first intake answered fewer than 10 commands")
	}
	start := time.Now()
	if err := in.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("close took %v", d)
	}
	answered := f.seen.total()
	if answered == len(cmds) {
		t.Fatal("the whole backlog ran before the close; make it longer")
	}

	f.start(func(c *natsintake.Config) { c.Commands = slow; c.Lanes = 4 })
	if !f.seen.waitTotal(len(cmds), 10*time.Second) {
		t.Fatalf("%d of %d commands answered after the restart", f.seen.total(), len(cmds))
	}
	time.Sleep(100 * time.Millisecond)
	for _, c := range cmds {
		if n := f.seen.count(c.CommandID); n != 1 {
			t.Errorf("%s answered %d times", c.CommandID, n)
		}
		if n := slow.calls(c.Data.(map[string]any)["name"].(string)); n != 1 {
			t.Errorf("%s ran %d times", c.CommandID, n)
		}
	}
	cons, err := f.js.Consumer(ctxT(t), natsjs.CommandsStream, natsintake.ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := cons.Info(ctxT(t))
	if err != nil || ci.NumAckPending != 0 || ci.NumPending != 0 {
		t.Fatalf("consumer after the backlog: %+v, %v", ci, err)
	}
	t.Logf("%d of %d answered before the close, the rest after it", answered, len(cmds))
}
