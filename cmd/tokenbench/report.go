package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Row is one line of the table and of the JSON.
type Row struct {
	Group string  `json:"group"`
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// P50Ms and P99Ms are latencies in milliseconds, when measured.
	P50Ms *float64 `json:"p50Ms,omitempty"`
	P99Ms *float64 `json:"p99Ms,omitempty"`
	// Baseline names the row this one is compared with; Ratio is
	// Value / baseline's Value (for a time, baseline / Value: above 1 is
	// always better than the baseline).
	Baseline string   `json:"baseline,omitempty"`
	Ratio    *float64 `json:"ratio,omitempty"`
	// Paired is true when Ratio is the median of per-run ratios of runs
	// taken back to back with the baseline's.
	Paired bool `json:"paired,omitempty"`
	// CPUPerOpUs is the tokenbench process's CPU time per operation in the
	// median run, in µs, and Cores how many cores it kept busy on average:
	// the whole process (service, servers, load generators), so a figure
	// is read against another row's, not alone.
	CPUPerOpUs *float64 `json:"cpuPerOpUs,omitempty"`
	Cores      *float64 `json:"cores,omitempty"`
	// Target is the target in words; Pass whether it held.
	Target string `json:"target,omitempty"`
	Pass   *bool  `json:"pass,omitempty"`
	// Runs are the rates of every repeated run; Value is their median.
	Runs []float64 `json:"runs,omitempty"`
	Note string    `json:"note,omitempty"`

	child bool // measured in a child process (the large read model)
}

// Report is the JSON document -json writes.
type Report struct {
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"`
	Quick     bool      `json:"quick"`
	GoVersion string    `json:"goVersion"`
	GOMAXPROC int       `json:"gomaxprocs"`
	CPUs      int       `json:"cpus"`
	// LoadAvg is /proc/loadavg's 1-minute figure at the start and the end:
	// the machine is shared, so every figure is read against it.
	LoadAvgStart float64           `json:"loadAvgStart"`
	LoadAvgEnd   float64           `json:"loadAvgEnd"`
	Params       map[string]any    `json:"params"`
	Rows         []*Row            `json:"rows"`
	Failed       []string          `json:"failed,omitempty"`
	Notes        map[string]string `json:"notes,omitempty"`
}

func ms(d time.Duration) *float64 {
	v := float64(d.Microseconds()) / 1000
	return &v
}

func f(v float64) *float64 { return &v }

// add records a row and returns it for the caller to complete.
func (b *bench) add(r *Row) *Row {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.report.Rows = append(b.report.Rows, r)
	return r
}

// row returns the recorded row named name, nil if none.
func (b *bench) row(name string) *Row {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.report.Rows {
		if r.Name == name && !r.child {
			return r
		}
	}
	return nil
}

// against sets r's ratio to the row named base (a throughput: r / base):
// the median of the per-run ratios when the two were measured in the same
// rounds, else the ratio of their medians.
func (b *bench) against(r *Row, base string) *Row {
	br := b.row(base)
	if r == nil || br == nil || br.Value == 0 {
		return r
	}
	r.Baseline = base
	if v, ok := b.pairedRatio(r.Name, base); ok {
		r.Ratio = f(v)
		r.Paired = true
	} else {
		r.Ratio = f(r.Value / br.Value)
	}
	return r
}

// target marks r PASS when its ratio is at least min.
func target(r *Row, text string, min float64) {
	if r == nil {
		return
	}
	r.Target = text
	ok := r.Ratio != nil && *r.Ratio >= min
	r.Pass = &ok
}

// targetMax marks r PASS when its value (or, with p99, its p99) is at most max.
func targetMax(r *Row, text string, max float64, p99 bool) {
	if r == nil {
		return
	}
	r.Target = text
	v := r.Value
	if p99 && r.P99Ms != nil {
		v = *r.P99Ms
	}
	ok := v <= max
	r.Pass = &ok
}

func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	var v float64
	fmt.Sscanf(string(b), "%f", &v)
	return v
}

// writeTable prints the report as a Markdown table.
func (b *bench) writeTable(w io.Writer) {
	rep := &b.report
	fmt.Fprintf(w, "\n## tokenbench — %s, %s, GOMAXPROCS %d on %d CPUs, load average %.2f at start, %.2f at end, %.0f s\n\n",
		rep.Started.Format("2006-01-02 15:04 MST"), runtime.Version(), rep.GOMAXPROC, rep.CPUs, rep.LoadAvgStart, rep.LoadAvgEnd, rep.Seconds)
	if rep.Quick {
		fmt.Fprintf(w, "**-quick**: small sizes, for CI; the figures only show that every path works.\n\n")
	}
	fmt.Fprintln(w, "| group | measure | value | p50 | p99 | CPU/op (cores) | baseline | ratio | target | result |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|---|--:|---|---|")
	for _, r := range rep.Rows {
		p50, p99 := "", ""
		if r.P50Ms != nil {
			p50 = fmtMs(*r.P50Ms)
		}
		if r.P99Ms != nil {
			p99 = fmtMs(*r.P99Ms)
		}
		cpu := ""
		if r.CPUPerOpUs != nil && r.Cores != nil {
			cpu = fmt.Sprintf("%s µs (%.2f)", fmtNum(*r.CPUPerOpUs), *r.Cores)
		}
		ratio := ""
		if r.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *r.Ratio)
			if !r.Paired && r.Unit != "×" {
				ratio += "¹"
			}
		}
		res := ""
		if r.Pass != nil {
			res = "**FAIL**"
			if *r.Pass {
				res = "PASS"
			}
		}
		name := r.Name
		if r.Note != "" {
			name += " (" + r.Note + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %s %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Group, name, fmtNum(r.Value), r.Unit, p50, p99, cpu, r.Baseline, ratio, r.Target, res)
	}
	fmt.Fprintln(w, "\nRatios are medians of per-run ratios, each run taken back to back with its baseline's; ¹ marks a ratio of medians of runs taken apart.")
	fmt.Fprintln(w, "CPU/op is the CPU time of the whole tokenbench process (the service, its servers and the load generators) per operation in the median run, and in brackets the cores it kept busy on average: a row using both cores is bound by the machine, one using fewer by its own waits.")
	if len(rep.Failed) > 0 {
		fmt.Fprintf(w, "\nPhases that failed: %s\n", strings.Join(rep.Failed, "; "))
	}
	for k, v := range rep.Notes {
		fmt.Fprintf(w, "\n- %s: %s", k, v)
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintln(w)
	}
}

func fmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 1:
		return fmt.Sprintf("%.2f ms", v)
	default:
		return fmt.Sprintf("%.0f µs", v*1000)
	}
}

func fmtNum(v float64) string {
	switch {
	case v >= 100:
		s := fmt.Sprintf("%.0f", v)
		// thousands separators
		var out []byte
		for i, c := range []byte(s) {
			if i > 0 && (len(s)-i)%3 == 0 {
				out = append(out, ',')
			}
			out = append(out, c)
		}
		return string(out)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func (b *bench) writeJSON(path string) error {
	data, err := json.MarshalIndent(&b.report, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// meas is one measurement of a round: its row and how to take it.
type meas struct {
	group, name, unit, note string
	fn                      func(run int) (measure, error)
}

// rounds takes every measurement of ms once per run, in order, so that a
// figure and its baseline are measured back to back, under the same load
// from the rest of the machine. Each row's value is the median of all its
// runs (a baseline measured in several rounds keeps all of them); the
// ratio of any two measurements of a round is kept per run, and compare
// reports the median of those per-run ratios, which the shared machine's
// swings move far less than either figure.
func (b *bench) rounds(runs int, ms ...meas) error {
	for run := range max(runs, 1) {
		got := make([]float64, len(ms))
		for i, m := range ms {
			if b.rows != "" && !strings.Contains(m.name, b.rows) {
				continue
			}
			x, err := m.fn(run)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			b.record(m, x)
			got[i] = x.Rate()
		}
		b.mu.Lock()
		for i, a := range ms {
			for j, c := range ms {
				if i != j && got[j] > 0 {
					k := a.name + " ÷ " + c.name
					b.ratioRuns[k] = append(b.ratioRuns[k], got[i]/got[j])
				}
			}
		}
		b.mu.Unlock()
	}
	return nil
}

// record adds one run of a throughput measurement to its row.
func (b *bench) record(m meas, x measure) {
	b.mu.Lock()
	r := b.series[m.name]
	if r == nil {
		r = &Row{Group: m.group, Name: m.name, Unit: m.unit, Note: m.note}
		b.series[m.name] = r
		b.report.Rows = append(b.report.Rows, r)
	}
	b.measures[m.name] = append(b.measures[m.name], x)
	all := append([]measure(nil), b.measures[m.name]...)
	b.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].Rate() < all[j].Rate() })
	med := all[len(all)/2]
	r.Value = med.Rate()
	r.Runs = r.Runs[:0]
	for _, a := range all {
		r.Runs = append(r.Runs, a.Rate())
	}
	r.P50Ms, r.P99Ms = nil, nil
	r.CPUPerOpUs, r.Cores = nil, nil
	if med.CPU > 0 {
		r.CPUPerOpUs, r.Cores = f(med.CPUPerOp()), f(med.Cores())
	}
	if med.P50 > 0 {
		r.P50Ms, r.P99Ms = ms(med.P50), ms(med.P99)
	}
}

// pairedRatio returns the median of the per-run ratios a ÷ c, when the two
// were measured in the same rounds.
func (b *bench) pairedRatio(a, c string) (float64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.ratioRuns[a+" ÷ "+c]
	if len(v) == 0 {
		return 0, false
	}
	return median(v), true
}
