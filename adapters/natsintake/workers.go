package natsintake

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// workers carries out the intake's handler on long-lived goroutines.
//
// Why: Watermill's router runs every message in a goroutine of its own.
// A new goroutine starts with a small stack, and handling a command goes
// deep (the command service, Badger, the NATS client), so the runtime grows
// that stack by copying it, several times, for every message: 4% of the
// intake's CPU in BenchmarkCommandsWithOutcomes' profile. A worker's stack
// grows once and stays grown; the router's goroutine only waits.
type workers struct {
	jobs chan job
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

type job struct {
	fn   func() error
	done chan result
}

type result struct {
	err    error
	panicV *workerPanic
}

// workerPanic is a panic of a job, carried back to the goroutine that
// submitted it with the stack where it happened.
type workerPanic struct {
	value any
	stack []byte
}

func (p *workerPanic) String() string {
	return fmt.Sprintf("%v\n\nworker stack:\n%s", p.value, p.stack)
}

func newWorkers(n int) *workers {
	w := &workers{jobs: make(chan job), stop: make(chan struct{})}
	for range n {
		w.wg.Go(func() {
			for {
				select {
				case j := <-w.jobs:
					j.done <- runJob(j.fn)
				case <-w.stop:
					return
				}
			}
		})
	}
	return w
}

func runJob(fn func() error) (r result) {
	defer func() {
		if v := recover(); v != nil {
			r = result{panicV: &workerPanic{value: v, stack: debug.Stack()}}
		}
	}()
	return result{err: fn()}
}

// do runs fn on a worker and returns its error. A panic in fn panics again
// here, in the caller's goroutine, so that the router's recoverer sees it
// as it would have without the workers (a panic on a worker would end the
// process). Once the workers are closed, fn runs in the caller's goroutine:
// a handler the router gave up waiting for at shutdown still finishes.
func (w *workers) do(fn func() error) error {
	j := job{fn: fn, done: make(chan result, 1)}
	select {
	case w.jobs <- j:
	case <-w.stop:
		return fn()
	}
	r := <-j.done
	if r.panicV != nil {
		panic(r.panicV)
	}
	return r.err
}

// close stops the workers once the jobs handed to them are done.
func (w *workers) close() {
	w.once.Do(func() {
		close(w.stop)
		w.wg.Wait()
	})
}
