package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
)

// measure is one throughput measurement: n operations in elapsed, with the
// latency of each, and the CPU time the process spent meanwhile.
type measure struct {
	N       int
	Elapsed time.Duration
	P50     time.Duration
	P99     time.Duration
	// CPU is the user and system time of the whole tokenbench process during
	// the run: the service and its servers as much as the load generators.
	CPU time.Duration
}

// CPUPerOp returns the process's CPU time per operation, in µs.
func (m measure) CPUPerOp() float64 {
	if m.N == 0 {
		return 0
	}
	return float64(m.CPU.Microseconds()) / float64(m.N)
}

// Cores returns how many cores the process kept busy, on average.
func (m measure) Cores() float64 {
	if m.Elapsed <= 0 {
		return 0
	}
	return m.CPU.Seconds() / m.Elapsed.Seconds()
}

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Rate returns operations per second.
func (m measure) Rate() float64 {
	if m.Elapsed <= 0 {
		return 0
	}
	return float64(m.N) / m.Elapsed.Seconds()
}

// percentiles sorts lat and returns its p50 and p99 (zero when empty).
func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	at := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	return at(0.50), at(0.99)
}

// bar returns a progress bar on stderr for a phase of n steps, or a silent
// one when progress bars are off or the phase is short.
func (b *bench) bar(desc string, n int) *progressbar.ProgressBar {
	visible := b.progress && (n < 0 || n >= 2000)
	return progressbar.NewOptions64(int64(n),
		progressbar.OptionSetDescription(fmt.Sprintf("%-34s", desc)),
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetVisibility(visible),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

// load runs op n times on workers goroutines, each taking the next index
// from a shared counter, and measures the throughput and the latency of
// every call. The first error stops the run and is returned.
func (b *bench) load(desc string, n, workers int, op func(worker, i int) error) (measure, error) {
	bar := b.bar(desc, n)
	defer bar.Close()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	cpu := processCPU()
	start := time.Now()
	for w := range workers {
		lat[w] = make([]time.Duration, 0, n/workers+1)
		wg.Go(func() {
			for failed.Load() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := op(w, i); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
				if i%64 == 0 {
					_ = bar.Add(64)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu = processCPU() - cpu
	_ = bar.Finish()
	if err := failed.Load(); err != nil {
		return measure{}, fmt.Errorf("%s: %w", desc, *err)
	}
	p50, p99 := percentiles(slices.Concat(lat...))
	return measure{N: n, Elapsed: elapsed, P50: p50, P99: p99, CPU: cpu}, nil
}

// paced starts op at a fixed rate for d (each call on its own goroutine,
// so a slow call does not delay the next start) and waits for them all. It
// returns how many were started and the first error.
func paced(rate float64, d time.Duration, op func(i int) error) (int, error) {
	interval := time.Duration(float64(time.Second) / rate)
	n := int(d.Seconds() * rate)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	start := time.Now()
	for i := range n {
		// Absolute schedule: a late tick is followed by early ones, so the
		// rate holds on average even when the sleeps overshoot.
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		if failed.Load() != nil {
			break
		}
		wg.Go(func() {
			if err := op(i); err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return n, *err
	}
	return n, nil
}

var errTimeout = errors.New("timed out")
