package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// peakHeap writes a heap profile to a file each time the heap in use grows
// by a quarter over the last profile written, so that the file ends up
// holding the heap near its peak: a profile at the end of a rebuild shows
// what is left, not what made the peak.
type peakHeap struct {
	path string
	stop chan struct{}
	done sync.WaitGroup
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
			if m.HeapInuse < written+written/4 {
				continue
			}
			if f, err := os.Create(p.path); err == nil {
				_ = pprof.WriteHeapProfile(f)
				_ = f.Close()
				written = m.HeapInuse
			}
		}
	})
	return p
}

func (p *peakHeap) close() {
	close(p.stop)
	p.done.Wait()
}
