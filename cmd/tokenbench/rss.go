package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
	"github.com/tokend/tokend/projections"
)

const (
	rowRSS1M        = "peak RSS of tokend serving the read model, embedded JetStream"
	rowRSSExt       = "peak RSS of tokend serving the read model, JetStream in another process"
	rowRSSRebuild   = "peak RSS of tokend rebuild"
	rowChildRebuild = "tokend rebuild (child process)"
	rowRSSSmall     = "peak RSS of tokend serving the read model, JetStream in another process, small caches"

	// The read model's sizes of the small-cache child (tokend serve
	// --cache-size, --memtable-size; the defaults are 96 and 32 MiB).
	smallCacheMiB    = 16
	smallMemtableMiB = 8
)

// rssSample is what the parent hands the child: the admin license and a
// sample of tokens with their secrets.
type rssSample struct {
	Admin   string   `json:"admin"`
	IDs     []string `json:"ids"`
	Secrets []string `json:"secrets"`
}

// childResult is what a child prints on stdout.
type childResult struct {
	Seconds   float64 `json:"seconds"`
	VmHWM     float64 `json:"vmHWMKiB"`
	VmRSS     float64 `json:"vmRSSKiB"`
	IdleRSS   float64 `json:"idleRSSKiB"`
	HeapInuse uint64  `json:"heapInuse"`
	HeapSys   uint64  `json:"heapSys"`
	// PeakBy is the highest RSS (MiB) sampled during each load; PeakAnonBy
	// and PeakFileBy split it into anonymous memory (the heap, Badger's
	// caches and memtables, stacks) and mapped file pages (Badger's tables
	// and value log, which the kernel may drop and read again).
	PeakBy     map[string]float64 `json:"peakRSSMiBBy,omitempty"`
	PeakAnonBy map[string]float64 `json:"peakAnonMiBBy,omitempty"`
	PeakFileBy map[string]float64 `json:"peakFileMiBBy,omitempty"`
	Rows       []*Row             `json:"rows"`
}

// rssPhase measures memory with a read model of rss-tokens tokens, each in
// its own process so that nothing else this run did counts: it writes the
// tokens' TokenIssued events into a fresh JetStream, then runs a child that
// rebuilds the read model (`tokend rebuild`), children that serve it as
// `tokend serve` would under HTTP load (introspections, reads, commands on
// tokens not in the command cache) — with its embedded JetStream, with a
// JetStream child (--nats-url), and so with small read-model caches — and
// a raw Badger child that only reads the read model; each starts from the
// state the rebuild left, and each child's VmHWM is read.
func (b *bench) rssPhase(ctx context.Context) error {
	if b.rssTokens <= 0 {
		return nil
	}
	dir := filepath.Join(b.root, "rss")
	admin, err := domain.NewSecret(domain.LicensePrefix)
	if err != nil {
		return err
	}
	s, err := b.startJS(ctx, filepath.Join(dir, "jetstream"), true)
	if err != nil {
		return err
	}
	h, err := newHistory(b.rssTokens, 1, admin)
	if err != nil {
		s.close()
		return err
	}
	if _, err := b.publishHistory(ctx, s, h, fmt.Sprintf("rss: publish %d tokens", b.rssTokens), true); err != nil {
		s.close()
		return err
	}
	s.close()
	sample := rssSample{Admin: admin}
	for i := 0; i < b.rssTokens; i += h.secretEvery {
		sample.IDs = append(sample.IDs, h.ids(i))
		sample.Secrets = append(sample.Secrets, h.secrets[i])
	}
	data, err := json.Marshal(sample)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sample.json"), data, 0o600); err != nil {
		return err
	}
	h = nil
	runtime.GC()

	group := fmt.Sprintf("%d tokens", b.rssTokens)
	// peaks notes a child's sampled peaks by load; childRows adds a
	// child's own rows, named after the child.
	peaks := func(what string, p map[string]float64) {
		b.report.Notes[fmt.Sprintf("RSS by load, %d tokens, %s (MiB)", b.rssTokens, what)] = fmtPeaks(p)
	}
	childRows := func(rows []*Row, suffix string) {
		for _, r := range rows {
			r.Group, r.Name, r.child = group, r.Name+suffix, true
			b.add(r)
		}
	}
	rb, err := b.spawn(ctx, "rebuild", dir, "")
	if err != nil {
		return fmt.Errorf("rebuild child: %w", err)
	}
	b.add(&Row{Group: group, Name: rowChildRebuild, Value: rb.Seconds, Unit: "s",
		Note: fmt.Sprintf("%d TokenIssued events", b.rssTokens)})
	b.add(&Row{Group: group, Name: rowRSSRebuild, Value: rb.VmHWM / 1024, Unit: "MiB",
		Note: fmt.Sprintf("VmHWM of the child process; sampled peaks: %.0f MiB anonymous memory, %.0f MiB mapped file pages",
			rb.PeakAnonBy["rebuild"], rb.PeakFileBy["rebuild"])})

	// Every child below starts from the state the rebuild left: each one's
	// writes (the PATCHes) would otherwise leave the next one memtables to
	// replay and compactions to run, and its peak would depend on its turn.
	pristine := filepath.Join(b.root, "rss-pristine")
	if err := copyState(dir, pristine); err != nil {
		return err
	}
	sv, err := b.spawn(ctx, "serve", dir, "")
	if err != nil {
		return fmt.Errorf("serve child: %w", err)
	}
	b.add(&Row{Group: group, Name: rowRSS1M, Value: sv.VmHWM / 1024, Unit: "MiB",
		Note: fmt.Sprintf("VmHWM of a child running the service with its embedded JetStream under the HTTP load below; %.0f MiB after start, %.0f MiB at the end, Go heap in use %.0f MiB",
			sv.IdleRSS/1024, sv.VmRSS/1024, float64(sv.HeapInuse)/(1<<20))})
	childRows(sv.Rows, "")

	// The same with the JetStream server in another process (--nats-url):
	// what tokend itself holds; and what that server holds, alone.
	sx, jsRes, err := b.serveApart(ctx, dir, pristine)
	if err != nil {
		return fmt.Errorf("serve child with an external server: %w", err)
	}
	// And with the read model's caches and memtables made small, as tokend
	// serve --cache-size and --memtable-size would.
	small, jsSmall, err := b.serveApart(ctx, dir, pristine,
		"-child-cache", strconv.Itoa(smallCacheMiB), "-child-memtable", strconv.Itoa(smallMemtableMiB))
	if err != nil {
		return fmt.Errorf("serve child with an external server and small caches: %w", err)
	}
	if jsSmall.VmHWM > jsRes.VmHWM {
		jsRes = jsSmall
	}
	peaks("embedded JetStream", sv.PeakBy)
	peaks("JetStream in another process", sx.PeakBy)
	peaks("JetStream in another process: anonymous memory", sx.PeakAnonBy)
	peaks("JetStream in another process: mapped file pages", sx.PeakFileBy)
	peaks("JetStream in another process, small caches: anonymous memory", small.PeakAnonBy)
	peaks("JetStream in another process, small caches: mapped file pages", small.PeakFileBy)
	b.add(&Row{Group: group, Name: rowRSSExt, Value: sx.VmHWM / 1024, Unit: "MiB",
		Note: fmt.Sprintf("VmHWM of a child running the service with --nats-url, the same load; %.0f MiB after start, %.0f MiB at the end, Go heap in use %.0f MiB",
			sx.IdleRSS/1024, sx.VmRSS/1024, float64(sx.HeapInuse)/(1<<20))})
	b.add(&Row{Group: group, Name: rowRSSSmall, Value: small.VmHWM / 1024, Unit: "MiB",
		Note: fmt.Sprintf("--cache-size %dMiB --memtable-size %dMiB; %.0f MiB after start, %.0f MiB at the end, Go heap in use %.0f MiB",
			smallCacheMiB, smallMemtableMiB, small.IdleRSS/1024, small.VmRSS/1024, float64(small.HeapInuse)/(1<<20))})
	childRows(sx.Rows, ", JetStream in another process")
	childRows(small.Rows, ", JetStream in another process, small caches")
	b.add(&Row{Group: group, Name: rowRSSJetStream, Value: jsRes.VmHWM / 1024, Unit: "MiB",
		Note: fmt.Sprintf("VmHWM; %.0f MiB after start, %.0f MiB at the end; sampled peaks: %.0f MiB anonymous memory, %.0f MiB mapped file pages",
			jsRes.IdleRSS/1024, jsRes.VmRSS/1024, jsRes.PeakAnonBy["serving"], jsRes.PeakFileBy["serving"])})

	// Badger alone, reading what the HTTP load's introspections and GETs
	// read: the floor of tokend's own memory for these reads.
	if err := copyState(pristine, dir); err != nil {
		return err
	}
	if err := writeBadgerKeys(dir, b.reads); err != nil {
		return fmt.Errorf("raw Badger keys: %w", err)
	}
	bg, err := b.spawn(ctx, "badger", dir, "")
	if err != nil {
		return fmt.Errorf("raw Badger child: %w", err)
	}
	childRows(bg.Rows, "")
	peaks("raw Badger reads: anonymous memory", bg.PeakAnonBy)
	peaks("raw Badger reads: mapped file pages", bg.PeakFileBy)
	b.add(&Row{Group: group, Name: rowRSSBadger, Value: bg.VmHWM / 1024, Unit: "MiB",
		Note: fmt.Sprintf("VmHWM of a child, %d goroutines; %.0f MiB after opening; sampled peaks: %.0f MiB anonymous memory, %.0f MiB mapped file pages",
			b.clients, bg.IdleRSS/1024, maxOf(bg.PeakAnonBy), maxOf(bg.PeakFileBy))})
	return nil
}

// serveApart runs a serve child with --nats-url on the pristine state,
// against a JetStream child of its own, and returns what both measured.
func (b *bench) serveApart(ctx context.Context, dir, pristine string, extra ...string) (serve, js childResult, err error) {
	if err := copyState(pristine, dir); err != nil {
		return serve, js, err
	}
	jsc, err := b.spawnJetStream(ctx, dir)
	if err != nil {
		return serve, js, err
	}
	serve, err = b.spawn(ctx, "serve", dir, jsc.url, extra...)
	js, jsErr := jsc.stop()
	if err == nil {
		err = jsErr
	}
	return serve, js, err
}

// copyState replaces the read model and JetStream store in to with those
// in from: the RSS phase keeps the state the rebuild left in a pristine
// copy, and puts it back before each child.
func copyState(from, to string) error {
	for _, sub := range []string{projections.ReadModelDir, "jetstream"} {
		if err := os.RemoveAll(filepath.Join(to, sub)); err != nil {
			return err
		}
		if err := os.CopyFS(filepath.Join(to, sub), os.DirFS(filepath.Join(from, sub))); err != nil {
			return fmt.Errorf("rss: copy %s: %w", sub, err)
		}
	}
	return nil
}

// maxOf returns the largest value of m (0 for an empty map).
func maxOf(m map[string]float64) float64 {
	var top float64
	for _, v := range m {
		top = max(top, v)
	}
	return top
}

// spawn runs this binary as a child measurement and decodes its result;
// extra are more of the child's flags.
func (b *bench) spawn(ctx context.Context, kind, dir, natsURL string, extra ...string) (childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	cmd := exec.CommandContext(ctx, exe, "-child", kind, "-child-dir", dir,
		"-clients", strconv.Itoa(b.clients), "-reads", strconv.Itoa(b.reads), "-commands", strconv.Itoa(b.commands),
		"-progress="+strconv.FormatBool(b.progress))
	suffix := kind
	if natsURL != "" {
		cmd.Args = append(cmd.Args, "-child-nats", natsURL)
		suffix += "-ext"
	}
	if len(extra) > 0 {
		suffix += "-small" // the only child with flags of its own
	}
	cmd.Args = append(cmd.Args, extra...)
	if b.memProfile != "" {
		cmd.Args = append(cmd.Args, "-memprofile", b.memProfile+"."+suffix)
	}
	if b.cpuProfile != "" {
		cmd.Args = append(cmd.Args, "-cpuprofile", b.cpuProfile+"."+suffix)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return childResult{}, err
	}
	var res childResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return childResult{}, fmt.Errorf("child output: %w: %q", err, out.String())
	}
	return res, nil
}

// runChild is the child's side: one measurement, its result as JSON on
// stdout.
func (b *bench) runChild(ctx context.Context, stdout io.Writer) int {
	var res childResult
	var err error
	if b.cpuProfile != "" {
		stop, err := startCPUProfile(b.cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tokenbench child %s: %v\n", b.child, err)
			return 1
		}
		defer stop()
	}
	switch b.child {
	case "rebuild":
		res, err = b.childRebuild(ctx)
	case "serve":
		res, err = b.childServe(ctx)
	case "jetstream":
		res, err = b.childJetStream(stdout)
	case "badger":
		res, err = b.childBadger(ctx)
	default:
		err = fmt.Errorf("unknown child %q", b.child)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tokenbench child %s: %v\n", b.child, err)
		return 1
	}
	st := procStatus()
	res.VmHWM, res.VmRSS = st["VmHWM"], st["VmRSS"]
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	res.HeapInuse, res.HeapSys = m.HeapInuse, m.HeapSys
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

// childRebuild is `tokend rebuild` on the child directory.
func (b *bench) childRebuild(ctx context.Context) (childResult, error) {
	dir := b.childDir
	// As tokend rebuild starts it (natsjs.EmbeddedConfig.SubjectCache).
	emb, err := natsjs.StartEmbedded(natsjs.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: filepath.Join(dir, "jetstream"), Logger: b.quiet, SubjectCache: true})
	if err != nil {
		return childResult{}, err
	}
	defer emb.Shutdown()
	nc, js, err := natsjs.Connect(emb.ClientURL(), "tokend-rebuild", b.quiet)
	if err != nil {
		return childResult{}, err
	}
	defer nc.Close()
	if b.memProfile != "" {
		defer startPeakHeap(b.memProfile).close()
	}
	var res childResult
	sampler := startRSSSampler(&res, "rebuild")
	start := time.Now()
	err = projections.Rebuild(ctx, dir, js, b.quiet)
	res.Seconds = time.Since(start).Seconds()
	sampler.close()
	return res, err
}

// rssSampler samples this process's RSS every 50 ms into a child's result:
// the peak of each step, whole and split into anonymous memory and mapped
// file pages.
type rssSampler struct {
	mu   sync.Mutex
	step string
	res  *childResult
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func startRSSSampler(res *childResult, step string) *rssSampler {
	res.PeakBy, res.PeakAnonBy, res.PeakFileBy = map[string]float64{}, map[string]float64{}, map[string]float64{}
	s := &rssSampler{step: step, res: res, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.mu.Lock()
				s.sampleLocked()
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *rssSampler) sampleLocked() {
	st := procStatus()
	s.res.PeakBy[s.step] = max(s.res.PeakBy[s.step], st["VmRSS"]/1024)
	s.res.PeakAnonBy[s.step] = max(s.res.PeakAnonBy[s.step], st["RssAnon"]/1024)
	s.res.PeakFileBy[s.step] = max(s.res.PeakFileBy[s.step], st["RssFile"]/1024)
}

// setStep ends the current step with a last sample (a step may be shorter
// than the period) and starts the next.
func (s *rssSampler) setStep(name string) {
	s.mu.Lock()
	s.sampleLocked()
	s.step = name
	s.mu.Unlock()
}

// close takes a last sample and stops sampling; it may be called more than
// once.
func (s *rssSampler) close() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.mu.Lock()
		s.sampleLocked()
		s.mu.Unlock()
	})
	<-s.done
}

// childServe runs the service on the child directory (read model rebuilt
// by childRebuild) and loads it over HTTP.
func (b *bench) childServe(ctx context.Context) (childResult, error) {
	data, err := os.ReadFile(filepath.Join(b.childDir, "sample.json"))
	if err != nil {
		return childResult{}, err
	}
	var sample rssSample
	if err := json.Unmarshal(data, &sample); err != nil {
		return childResult{}, err
	}
	if b.memProfile != "" {
		// The heap near the child's peak, beside the one at its end.
		defer startPeakHeap(b.memProfile + ".peak").close()
	}
	s, err := b.startServiceWith(ctx, b.childDir, sample.Admin)
	if err != nil {
		return childResult{}, err
	}
	defer s.close()
	res := childResult{IdleRSS: procStatus()["VmRSS"]}
	// Sample RSS every 50 ms, to tell which load raised the peak.
	sampler := startRSSSampler(&res, "start")
	defer sampler.close()
	setStep := sampler.setStep
	n := len(sample.IDs)
	rnd := rand.New(rand.NewPCG(3, 4))
	perm := rnd.Perm(n)
	bodies := make([]string, n)
	for i, sec := range sample.Secrets {
		bodies[i] = `{"token":"` + sec + `"}`
	}
	type load struct {
		name, unit string
		n          int
		op         func(i int) error
	}
	loads := []load{
		{rowHTTPIntro, "req/s", b.reads, func(i int) error {
			var out []byte
			if err := send(s.http, "POST", s.url+"/v1/introspect", "", bodies[perm[i%n]], 200, &out); err != nil {
				return err
			}
			if !bytes.HasPrefix(out, []byte(`{"active":true`)) {
				return fmt.Errorf("introspection of an active token: %s", out)
			}
			return nil
		}},
		{rowHTTPGet, "req/s", b.reads, func(i int) error {
			return send(s.http, "GET", s.url+"/v1/tokens/"+sample.IDs[perm[(i*7)%n]], s.admin, "", 200, nil)
		}},
		{rowHTTPList, "req/s", b.reads / 4, func(i int) error {
			return send(s.http, "GET", s.url+"/v1/tokens?limit=50", s.admin, "", 200, nil)
		}},
		// Each command renames a token the command service has not seen:
		// a Load from the log first.
		{rowCmdHTTP, "commands/s", min(n, b.commands), func(i int) error {
			id := sample.IDs[perm[i%n]]
			return send(s.http, "PATCH", s.url+"/v1/tokens/"+id, s.admin, `{"name":"renamed `+strconv.Itoa(i)+`"}`, 200, nil)
		}},
	}
	for _, l := range loads {
		setStep(l.name)
		m, err := b.load(l.name, l.n, b.clients, func(_, i int) error { return l.op(i) })
		if err != nil {
			return res, err
		}
		r := &Row{Name: l.name, Value: m.Rate(), Unit: l.unit, P50Ms: ms(m.P50), P99Ms: ms(m.P99)}
		if l.name == rowCmdHTTP {
			r.Note = "each on a token not in the command cache"
		}
		res.Rows = append(res.Rows, r)
	}
	setStep("settle")
	if err := s.settle(ctx); err != nil {
		return res, err
	}
	time.Sleep(200 * time.Millisecond)
	return res, b.heapProfile()
}

func fmtPeaks(p map[string]float64) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, p[k]))
	}
	return strings.Join(parts, "; ")
}
