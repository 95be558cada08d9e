package commands_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokend/tokend/adapters/commands"
	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

// flakyLog fails appends with a timeout, as a cluster electing a leader
// would, while failures lasts; the append may still have landed, which is
// what landed says.
type flakyLog struct {
	*natsjs.EventStore
	failures atomic.Int32
	landed   bool
}

func (l *flakyLog) Append(ctx context.Context, ev domain.Event, expected uint64) (uint64, bool, error) {
	if l.failures.Add(-1) >= 0 {
		if l.landed {
			l.EventStore.Append(ctx, ev, expected)
		}
		return 0, false, nats.ErrTimeout
	}
	return l.EventStore.Append(ctx, ev, expected)
}

func TestUnavailableLogIsWaitedOut(t *testing.T) {
	for _, landed := range []bool{false, true} {
		name := map[bool]string{false: "lost", true: "landed"}[landed]
		t.Run("first attempt "+name, func(t *testing.T) {
			f := newFixture(t)
			tokenID, _ := f.setup(0)
			log := &flakyLog{EventStore: f.store, landed: landed}
			log.failures.Store(3)
			svc := commands.New(log, nil, commands.Config{UnavailableWait: 5 * time.Second})
			r, err := f.exec(svc, tokenID, domain.RenameToken{Name: "after the election"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Token.Name() != "after the election" || r.Version != 2 {
				t.Fatalf("got %+v", r)
			}
			if n := count(f.events(tokenID), domain.TokenRenamed); n != 1 {
				t.Fatalf("%d TokenRenamed events, want exactly 1", n)
			}
		})
	}
	t.Run("for too long", func(t *testing.T) {
		f := newFixture(t)
		tokenID, _ := f.setup(0)
		log := &flakyLog{EventStore: f.store}
		log.failures.Store(1 << 20)
		svc := commands.New(log, nil, commands.Config{UnavailableWait: 300 * time.Millisecond})
		_, err := f.exec(svc, tokenID, domain.RenameToken{Name: "never"})
		if !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("got %v, want unavailable", err)
		}
	})
}
