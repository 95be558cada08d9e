package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// peakHeap keeps, in a file, a heap profile of the moment the most was
// live: each time the heap in use has grown by a quarter since it last
// looked, it forces a collection (a profile shows the heap as of the last
// one) and, if more is live than ever before, writes the profile. A profile
// at the end of a rebuild shows what is left, not what made the peak. The
// collections slow what is measured a little.
type peakHeap struct {
	path string
	stop chan struct{}
	done sync.WaitGroup
	// The peaks seen, in bytes: the heap in use, and what the Go runtime
	// holds from the OS (Sys: heap, stacks and runtime structures).
	maxInuse, maxSys uint64
	// maxLive is the largest heap in use right after a collection.
	maxLive uint64
}

func startPeakHeap(path string) *peakHeap {
	p := &peakHeap{path: path, stop: make(chan struct{})}
	p.done.Go(func() {
		var written uint64
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			p.maxInuse, p.maxSys = max(p.maxInuse, m.HeapInuse), max(p.maxSys, m.Sys)
			if m.HeapInuse < written+written/4 {
				continue
			}
			// A heap profile shows the heap as of the last collection: collect
			// now, so that it shows what is live at this point.
			runtime.GC()
			var live runtime.MemStats
			runtime.ReadMemStats(&live)
			written = m.HeapInuse
			if live.HeapInuse <= p.maxLive {
				continue // the profile on file shows more
			}
			p.maxLive = live.HeapInuse
			if f, err := os.Create(p.path); err == nil {
				_ = pprof.WriteHeapProfile(f)
				_ = f.Close()
			}
		}
	})
	return p
}

// close stops sampling and says the peaks on stderr.
func (p *peakHeap) close() {
	close(p.stop)
	p.done.Wait()
	fmt.Fprintf(os.Stderr, "tokenbench: %s: peak Go heap in use %d MiB (%d MiB live after a collection), peak Go runtime memory from the OS %d MiB\n",
		p.path, p.maxInuse>>20, p.maxLive>>20, p.maxSys>>20)
}
