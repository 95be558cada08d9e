package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// compare sets every ratio and target once all phases have run (the peer
// and the raw baselines run in other phases than what they are compared
// with).
func (b *bench) compare() {
	syncN := fmt.Sprintf(rowSyncN, b.clients)
	bare := fmt.Sprintf(rowBareHTTP, b.clients)

	b.against(b.row(rowIssue), syncN)
	b.against(b.row(rowCmdInproc), syncN)
	b.against(b.row(rowCmdCold), syncN)
	b.against(b.row(rowCmdHTTP), syncN)
	target(b.against(b.row(rowCmdNATS), rowAsync), "≥ 0.40 of raw async publish", 0.40)
	b.against(b.row(rowFloor), rowAsync)
	b.against(b.row(rowFloorProj), rowAsync)
	for _, floor := range []string{rowFloor, rowFloorProj} {
		if r, ok := b.pairedRatio(rowCmdNATS, floor); ok {
			b.add(&Row{Group: "service", Name: "commands, NATS intake ÷ " + strings.SplitN(floor, ":", 2)[0], Value: r, Unit: "×",
				Baseline: floor, Ratio: f(r), Paired: true})
		}
	}

	target(b.against(b.row(rowCatchUpKeys), rowWB), "≥ 0.50 of raw WriteBatch sets/s", 0.50)
	if ev, keys := b.row(rowCatchUp), b.row(rowCatchUpKeys); ev != nil && keys != nil && ev.Value > 0 {
		keys.Note = fmt.Sprintf("%.1f keys per event", keys.Value/ev.Value)
	}
	target(b.against(b.row(rowInprocGet), rowGetToken), "≥ 0.70 of raw Get", 0.70)
	target(b.against(b.row(rowInprocIntro), rowGetSecret), "≥ 0.70 of raw Get", 0.70)
	target(b.against(b.row(rowInprocIntroB), rowGetSecret), "≥ 0.70 of raw Get", 0.70)
	target(b.against(b.row(rowHTTPIntro), bare), "≥ 0.60 of bare net/http", 0.60)
	b.against(b.row(rowHTTPGet), bare)
	b.against(b.row(rowHTTPList), bare)
	b.against(b.row(rowHTTPListF), bare)
	targetMax(b.row(rowRevocation), "p99 ≤ 10 ms", 10, true)

	if r := b.row(rowRebuild); r != nil {
		limit := 15.0
		text := "≤ 15 s"
		if b.rebuildEv != 1_000_000 {
			limit = 15 * float64(b.rebuildEv) / 1e6
			text = fmt.Sprintf("≤ %.2f s (15 s scaled to %d events)", limit, b.rebuildEv)
		}
		targetMax(r, text, limit, false)
	}
	for _, name := range []string{rowRSS1M, rowRSSExt, rowRSSSmall} {
		if r := b.row(name); r != nil {
			text := "≤ 300 MiB"
			if b.rssTokens != 1_000_000 {
				text = fmt.Sprintf("≤ 300 MiB (for 1,000,000 tokens; here %d)", b.rssTokens)
			}
			targetMax(r, text, 300, false)
		}
	}

	// tokend against the peer: the ratio is the row's value.
	vs := func(name, ours, peer, text string, min float64) {
		o, p := b.row(ours), b.row(peer)
		if o == nil || p == nil || p.Value == 0 {
			return
		}
		v, paired := b.pairedRatio(ours, peer)
		if !paired {
			v = o.Value / p.Value
		}
		r := b.add(&Row{Group: "vs peer", Name: name, Value: v, Unit: "×", Baseline: peer, Paired: paired})
		r.Ratio = f(r.Value)
		if text != "" {
			target(r, text, min)
		}
	}
	vs("commands/s: tokend NATS intake ÷ Watermill pipeline", rowCmdNATS, rowPeerCmd, "≥ 3×", 3)
	// The most any service of this protocol with a read model could reach
	// against the peer on this machine.
	vs("commands/s: raw intake protocol and raw projection ÷ Watermill pipeline", rowFloorProj, rowPeerCmd, "", 0)
	vs("commands/s: tokend in-process ÷ Watermill pipeline", rowCmdInproc, rowPeerCmd, "", 0)
	vs("commands/s: tokend HTTP ÷ Watermill pipeline", rowCmdHTTP, rowPeerCmd, "", 0)
	vs("projection events/s: tokend projector ÷ Watermill subscriber", rowCatchUp, rowPeerProj, "≥ 3×", 3)
	b.against(b.row(rowPeerCmd), syncN)
	// CPU per command: the peer's ÷ tokend's (above 1: tokend spends less
	// per command). On 2 cores tokend is bound by the cores and the peer by
	// its one-at-a-time handler, so this says what the cores, not the
	// design, hold back.
	cpuVs := func(name, ours, peer string) {
		o, p := b.row(ours), b.row(peer)
		if o == nil || p == nil || o.CPUPerOpUs == nil || p.CPUPerOpUs == nil || *o.CPUPerOpUs == 0 {
			return
		}
		v := *p.CPUPerOpUs / *o.CPUPerOpUs
		b.add(&Row{Group: "vs peer", Name: name, Value: v, Unit: "×", Baseline: peer, Ratio: f(v),
			Note: fmt.Sprintf("%.0f µs against %.0f µs of CPU per command", *p.CPUPerOpUs, *o.CPUPerOpUs)})
	}
	cpuVs("CPU per command: Watermill pipeline ÷ tokend NATS intake", rowCmdNATS, rowPeerCmd)
	cpuVs("CPU per command: Watermill pipeline ÷ tokend HTTP", rowCmdHTTP, rowPeerCmd)

	// Order: baselines first, then the service, the peer, the comparisons,
	// memory, rebuild and the large read model.
	rank := map[string]int{"raw": 0, "service": 1, "peer": 2, "vs peer": 3, "memory": 4, "rebuild": 5}
	sort.SliceStable(b.report.Rows, func(i, j int) bool {
		ri, ok := rank[b.report.Rows[i].Group]
		if !ok {
			ri = 6
		}
		rj, ok := rank[b.report.Rows[j].Group]
		if !ok {
			rj = 6
		}
		return ri < rj
	})
}

// procStatus returns fields of /proc/self/status in KiB (VmHWM, VmRSS, and
// RssAnon and RssFile: the process's own memory and the file pages it maps,
// such as Badger's memory-mapped tables).
func procStatus() map[string]float64 {
	out := map[string]float64{}
	fh, err := os.Open("/proc/self/status")
	if err != nil {
		return out
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(k, "Vm") && !strings.HasPrefix(k, "Rss") {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		if n, err := strconv.ParseFloat(fields[0], 64); err == nil {
			out[k] = n
		}
	}
	return out
}

// rssRow records this process's peak RSS (VmHWM) so far, in MiB.
func (b *bench) rssRow(name, note string) *Row {
	st := procStatus()
	r := b.add(&Row{Group: "memory", Name: name, Value: st["VmHWM"] / 1024, Unit: "MiB",
		Note: fmt.Sprintf("VmHWM; %s; RSS now %.0f MiB", note, st["VmRSS"]/1024)})
	return r
}
