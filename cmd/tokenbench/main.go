// Command tokenbench measures tokend side by side with what it is built on
// and with what a user would otherwise build, in one run on one machine:
//
//   - raw baselines: JetStream synchronous and asynchronous publishes of the
//     service's own event messages (same payload, headers and stream
//     settings), Badger WriteBatch and Get of the read model's own keys and
//     values, and a bare net/http handler answering fixed JSON;
//   - the service, in process (embedded JetStream in a temporary directory,
//     Badger, the projector, the command service and the HTTP API on a
//     loopback listener): commands/s through every intake, projection
//     events/s and lag, rebuild time, reads over HTTP and in process,
//     revocation visibility and peak RSS;
//   - the peer: the straightforward Watermill pipeline (watermill-nats
//     publisher, a router handler per stream, one Badger transaction per
//     event), measured in the same run.
//
// It prints a Markdown table (every figure with its ratio to its baseline
// and the targets as PASS/FAIL) and, with -json FILE, writes the
// same as JSON. docs/performance.md explains the method and the figures.
//
//	go run ./cmd/tokenbench                 # the full run (a few minutes)
//	go run ./cmd/tokenbench -quick          # small sizes, for CI
//	go run ./cmd/tokenbench -phases raw,commands -cpuprofile cpu.out
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"
)

// config holds the flags.
type config struct {
	quick       bool
	jsonPath    string
	cpuProfile  string
	memProfile  string
	phases      string
	steps       string
	rows        string // measure only the rounds' rows whose name holds it
	tokens      int
	clients     int
	commands    int
	reads       int
	runs        int
	lagRate     float64
	lagFor      time.Duration
	revocations int
	rebuildEv   int
	rebuildTok  int
	rssTokens   int
	progress    bool
	strict      bool
	tmp         string
	child       string
	childDir    string
	natsURL     string
	// childCache and childMemtable size a serve child's read model (MiB;
	// 0: tokend's defaults).
	childCache    int64
	childMemtable int64
	keep          bool
}

// allPhases in the order they run.
var allPhases = []string{"service", "rebuild", "growth", "rss"}

type bench struct {
	config
	log      *slog.Logger
	quiet    *slog.Logger
	report   Report
	mu       sync.Mutex
	root     string // temporary directory of this run
	progress bool
	// heapWritten is set once -memprofile is written.
	heapWritten bool

	series    map[string]*Row      // throughput rows by name (rounds)
	measures  map[string][]measure // their runs
	ratioRuns map[string][]float64 // "a ÷ b" -> per-run ratios
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("tokenbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.quick, "quick", false, "small sizes (seconds, for CI): every path runs, the figures mean little")
	fs.StringVar(&c.jsonPath, "json", "", "write the results as JSON to `file`")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to `file`")
	fs.StringVar(&c.memProfile, "memprofile", "", "write a heap profile to `file` at the end of the service phase, with the service running (children: `file`.serve, `file`.serve-ext, `file`.serve-ext-small, each also near its peak as `file`.<child>.peak, and `file`.rebuild near the rebuild's peak)")
	fs.StringVar(&c.phases, "phases", strings.Join(allPhases, ","), "comma-separated phases to run: "+strings.Join(allPhases, ", "))
	fs.StringVar(&c.steps, "steps", "", "comma-separated steps of the service phase to run (default all): "+strings.Join(serviceSteps, ", "))
	fs.StringVar(&c.rows, "rows", "", "measure only the rows of a step's rounds whose name contains `text` (to profile one path with the rest idle; the ratios to the rows left out are not reported)")
	fs.IntVar(&c.tokens, "tokens", 10_000, "tokens in the service (commands and reads spread over them)")
	fs.IntVar(&c.clients, "clients", 64, "concurrent clients (goroutines, HTTP connections)")
	fs.IntVar(&c.commands, "commands", 20_000, "commands per throughput run")
	fs.IntVar(&c.reads, "reads", 20_000, "requests per read throughput run")
	fs.IntVar(&c.runs, "runs", 3, "repeat each short throughput run this often and keep the median")
	fs.Float64Var(&c.lagRate, "lag-rate", 1000, "fixed command rate (commands/s) of the projection lag measurement")
	fs.DurationVar(&c.lagFor, "lag-for", 5*time.Second, "duration of the projection lag measurement")
	fs.IntVar(&c.revocations, "revocations", 1000, "tokens canceled for the revocation visibility measurement")
	fs.IntVar(&c.rebuildEv, "rebuild-events", 1_000_000, "events in the rebuild measurement")
	fs.IntVar(&c.rebuildTok, "rebuild-tokens", 100_000, "tokens in the rebuild measurement")
	fs.IntVar(&c.rssTokens, "rss-tokens", 1_000_000, "tokens in the read model of the RSS measurement (0: skip it)")
	fs.BoolVar(&c.progress, "progress", true, "show progress bars on stderr")
	fs.BoolVar(&c.strict, "strict", false, "exit 1 when a target fails (not only when a phase fails)")
	fs.StringVar(&c.tmp, "tmp", "", "parent of the run's temporary directory (default: the system's)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directory")
	fs.StringVar(&c.child, "child", "", "internal: run one measurement in a child process (rebuild, serve, jetstream, badger)")
	fs.StringVar(&c.childDir, "child-dir", "", "internal: the child's data directory")
	fs.StringVar(&c.natsURL, "child-nats", "", "internal: the NATS server of a serve child (empty: embedded)")
	fs.Int64Var(&c.childCache, "child-cache", 0, "internal: the read model's cache of a serve child, MiB (0: the default)")
	fs.Int64Var(&c.childMemtable, "child-memtable", 0, "internal: the read model's memtable size of a serve child, MiB (0: the default)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.quick {
		// Only the sizes the caller did not set shrink.
		set := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
		shrink := func(name string, p *int, v int) {
			if !set[name] {
				*p = v
			}
		}
		shrink("tokens", &c.tokens, 1000)
		shrink("commands", &c.commands, 2000)
		shrink("reads", &c.reads, 2000)
		shrink("runs", &c.runs, 1)
		shrink("revocations", &c.revocations, 50)
		shrink("rebuild-events", &c.rebuildEv, 20_000)
		shrink("rebuild-tokens", &c.rebuildTok, 2_000)
		shrink("rss-tokens", &c.rssTokens, 20_000)
		if !set["lag-for"] {
			c.lagFor = time.Second
		}
		if !set["lag-rate"] {
			c.lagRate = 500
		}
	}
	b := &bench{config: c, progress: c.progress && isTerminal(os.Stderr),
		series: map[string]*Row{}, measures: map[string][]measure{}, ratioRuns: map[string][]float64{}}
	b.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b.quiet = slog.New(slog.DiscardHandler)
	if c.child != "" {
		return b.runChild(ctx, stdout)
	}
	if err := b.main(ctx, stdout); err != nil {
		fmt.Fprintf(stderr, "tokenbench: %v\n", err)
		return 1
	}
	if len(b.report.Failed) > 0 {
		return 1
	}
	if c.strict {
		for _, r := range b.report.Rows {
			if r.Pass != nil && !*r.Pass {
				return 1
			}
		}
	}
	return 0
}

func (b *bench) main(ctx context.Context, stdout io.Writer) error {
	phases := strings.Split(b.phases, ",")
	for _, p := range phases {
		if !slices.Contains(allPhases, p) {
			return fmt.Errorf("unknown phase %q (want some of %s)", p, strings.Join(allPhases, ","))
		}
	}
	root, err := os.MkdirTemp(b.tmp, "tokenbench-")
	if err != nil {
		return err
	}
	b.root = root
	if !b.keep {
		defer os.RemoveAll(root)
	}
	if b.cpuProfile != "" {
		stop, err := startCPUProfile(b.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	b.report = Report{
		Started: time.Now(), Quick: b.quick, GoVersion: runtime.Version(),
		GOMAXPROC: runtime.GOMAXPROCS(0), CPUs: runtime.NumCPU(), LoadAvgStart: loadAvg(),
		Params: map[string]any{
			"tokens": b.tokens, "clients": b.clients, "commands": b.commands, "reads": b.reads,
			"runs": b.runs, "lagRate": b.lagRate, "lagSeconds": b.lagFor.Seconds(),
			"revocations": b.revocations, "rebuildEvents": b.rebuildEv, "rebuildTokens": b.rebuildTok,
			"rssTokens": b.rssTokens, "phases": phases,
		},
		Notes: map[string]string{},
	}
	steps := map[string]func(context.Context) error{
		"service": b.servicePhase,
		"growth":  b.growthPhase,
		"rebuild": b.rebuildPhase,
		"rss":     b.rssPhase,
	}
	for _, p := range allPhases {
		if !slices.Contains(phases, p) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		b.log.Info("phase", "name", p, "load", loadAvg())
		start := time.Now()
		if err := steps[p](ctx); err != nil {
			b.log.Error("phase failed", "name", p, "err", err)
			b.report.Failed = append(b.report.Failed, p+": "+err.Error())
		}
		b.log.Info("phase done", "name", p, "took", time.Since(start).Round(time.Millisecond))
	}
	b.compare()
	b.report.Seconds = time.Since(b.report.Started).Seconds()
	b.report.LoadAvgEnd = loadAvg()
	b.writeTable(stdout)
	if b.jsonPath != "" {
		if err := b.writeJSON(b.jsonPath); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}

func startCPUProfile(path string) (func(), error) {
	pf, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); pf.Close() }, nil
}

// heapProfile writes -memprofile, once: at the end of the service phase,
// with the service still running (its memory is what matters), or in a
// child at the end of its measurement.
func (b *bench) heapProfile() error {
	if b.memProfile == "" || b.heapWritten {
		return nil
	}
	b.heapWritten = true
	runtime.GC()
	pf, err := os.Create(b.memProfile)
	if err != nil {
		return err
	}
	defer pf.Close()
	return pprof.WriteHeapProfile(pf)
}

// isTerminal reports whether f is a character device (a terminal): the
// progress bars are drawn only there, so that CI logs stay readable.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
