package natsintake

import (
	"errors"
	"strings"
	"testing"
)

func TestWorkersCarryErrorsAndPanicsBack(t *testing.T) {
	w := newWorkers(2)
	defer w.close()

	boom := errors.New("boom")
	if err := w.do(func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("error: got %v, want %v", err, boom)
	}
	func() {
		defer func() {
			p, ok := recover().(*workerPanic)
			if !ok {
				t.Fatalf("a job's panic did not reach the caller as a *workerPanic")
			}
			if s := p.String(); !strings.HasPrefix(s, "the handler broke") || !strings.Contains(s, "worker stack") {
				t.Errorf("panic value %q: want the job's value and the worker's stack", s)
			}
		}()
		_ = w.do(func() error { panic("the handler broke") })
	}()
	// The worker that saw the panic still works.
	for range 4 {
		if err := w.do(func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWorkersRunInlineOnceClosed(t *testing.T) {
	w := newWorkers(1)
	w.close()
	ran := false
	if err := w.do(func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("after close: ran %v, err %v", ran, err)
	}
}
