package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchConns is the number of concurrent connections (and client
// goroutines) of every HTTP benchmark.
const benchConns = 64

// load sends n requests over benchConns connections, each goroutine taking
// the next request number from a shared counter, and returns the
// throughput and latency percentiles. do sends request i and must drain
// and close the answer.
func load(tb testing.TB, n int, do func(c *http.Client, i int) error) (rps float64, p50, p99 time.Duration) {
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: benchConns, MaxIdleConnsPerHost: benchConns, MaxConnsPerHost: benchConns,
	}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	lat := make([][]time.Duration, benchConns)
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for g := range benchConns {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := do(client, i); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				lat[g] = append(lat[g], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		tb.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	return float64(n) / elapsed.Seconds(), pct(0.50), pct(0.99)
}

// send does one request and checks its status.
func send(c *http.Client, method, url, license, body string, want int) error {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if license != "" {
		req.Header.Set("Authorization", "Bearer "+license)
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d", method, url, res.StatusCode, want)
	}
	return nil
}

// BenchmarkHTTP measures the API over real HTTP with 64 concurrent
// connections, rate limits off and logs discarded, on the real stack
// (embedded JetStream, Badger): introspection and GET token in requests/s
// with p50 and p99, PATCH in commands/s with p99. The ceiling, measured in
// the same run, is a bare net/http handler answering a fixed JSON body;
// each figure is also reported as its ratio to it ("x-bare").
//
//	go test -run '^$' -bench BenchmarkHTTP -benchtime 20000x ./adapters/httpapi/
func BenchmarkHTTP(b *testing.B) {
	s := newStack(b, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	lic := s.newTenant("bench").license
	model := s.newModel(lic, "m")
	tokens := make([]issued, benchConns)
	for i := range tokens {
		tokens[i] = s.newToken(lic, map[string]any{"name": fmt.Sprintf("t%d", i), "note": "n", "modelId": model})
	}
	s.must(200, req{method: "GET", path: "/v1/tokens/" + tokens[len(tokens)-1].view.ID, license: lic, headers: minSeq(s.lastSeq())})

	fixed := []byte(`{"id":"00000000-0000-4000-8000-000000000000","name":"fixed","status":"ACTIVE"}`)
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(fixed)
	}))
	defer bare.Close()
	bareGet := func(c *http.Client, i int) error { return send(c, "GET", bare.URL+"/x", "", "", 200) }
	load(b, 2000, bareGet) // warm up connections and the scheduler
	ceiling, _, _ := load(b, 20000, bareGet)

	report := func(b *testing.B, unit string, rps float64, p50, p99 time.Duration) {
		b.ReportMetric(rps, unit)
		b.ReportMetric(rps/ceiling, "x-bare")
		if p50 > 0 {
			b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
		}
		b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
	}
	b.Run("bare", func(b *testing.B) {
		rps, p50, p99 := load(b, b.N, bareGet)
		report(b, "req/s", rps, p50, p99)
	})
	b.Run("introspect", func(b *testing.B) {
		bodies := make([]string, len(tokens))
		for i, t := range tokens {
			bodies[i] = `{"token":"` + t.secret + `"}`
		}
		rps, p50, p99 := load(b, b.N, func(c *http.Client, i int) error {
			return send(c, "POST", s.ts.URL+"/v1/introspect", "", bodies[i%len(bodies)], 200)
		})
		report(b, "req/s", rps, p50, p99)
	})
	b.Run("get", func(b *testing.B) {
		rps, p50, p99 := load(b, b.N, func(c *http.Client, i int) error {
			return send(c, "GET", s.ts.URL+"/v1/tokens/"+tokens[i%len(tokens)].view.ID, lic, "", 200)
		})
		report(b, "req/s", rps, p50, p99)
	})
	b.Run("patch", func(b *testing.B) {
		// Each request renames one of 64 tokens, so every PATCH is a
		// command that appends an event; consecutive requests go to
		// different tokens.
		rps, _, p99 := load(b, b.N, func(c *http.Client, i int) error {
			t := tokens[i%len(tokens)]
			return send(c, "PATCH", s.ts.URL+"/v1/tokens/"+t.view.ID, lic, fmt.Sprintf(`{"name":"t%d"}`, i), 200)
		})
		report(b, "commands/s", rps, 0, p99)
	})
}
