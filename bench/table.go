package bench

import (
	"fmt"
	"sort"
	"strings"
)

// baselineLifecyclesPerSec is commit de02393's throughput at 200 in flight on a 2-core
// machine (../shared/reviews/performance-2026-11-28.md, run s200b).
const baselineLifecyclesPerSec = 1.28

// Table renders a result against the targets of issue "Campaigns of hundreds" as
// Markdown: figure, target, and whether it was met.
func Table(r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nMachine: %s\nLaunch of %d, %d lifecycles driven at once, email rate %.0f/s, %d open for memory.\n\n",
		r.Machine, r.Creators, r.InFlight, r.EmailRate, r.Open)
	b.WriteString("| figure | measured | target | met |\n|---|---|---|---|\n")
	row := func(name, measured, target string, ok bool) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, measured, target, map[bool]string{true: "yes", false: "**no**"}[ok])
	}
	info := func(name, measured string) { fmt.Fprintf(&b, "| %s | %s | | |\n", name, measured) }
	row("launch alone: accepted", fmt.Sprintf("%.3f s", r.LaunchAccepted), "≤ 1 s", r.LaunchAccepted <= 1)
	row("launch alone: all started", fmt.Sprintf("%.1f s (%d started, %d skipped, %d failed)", r.LaunchAllStarted, r.LaunchStarted, r.LaunchSkipped, r.LaunchFailed),
		"≤ 30 s", r.LaunchAllStarted <= 30 && r.LaunchFailed == 0)
	info("launch alone: first task, first email after start", fmt.Sprintf("task p50 %.2f s, p99 %.2f s; email p50 %.2f s, p99 %.2f s",
		r.LaunchFirstTask.P50, r.LaunchFirstTask.P99, r.LaunchFirstEmail.P50, r.LaunchFirstEmail.P99))
	row(fmt.Sprintf("first workflow task after start, %d in flight", r.InFlight), fmt.Sprintf("p50 %.2f s, p99 %.2f s", r.FirstTask.P50, r.FirstTask.P99), "p99 ≤ 2 s", r.FirstTask.P99 <= 2)
	row(fmt.Sprintf("first email after start, %d in flight", r.InFlight), fmt.Sprintf("p50 %.2f s, p99 %.2f s", r.FirstEmail.P50, r.FirstEmail.P99), "p50 ≤ 3 s", r.FirstEmail.N > 0 && r.FirstEmail.P50 <= 3)
	row("lifecycles per second", fmt.Sprintf("%.2f/s (%d in %.1f s; %.2f× de02393's %.2f/s)", r.LifecyclesPerSec, r.Lifecycles, r.LifecycleWall,
		r.LifecyclesPerSec/baselineLifecyclesPerSec, baselineLifecyclesPerSec), fmt.Sprintf("≥ %.2f/s (2.5×)", 2.5*baselineLifecyclesPerSec),
		r.LifecyclesPerSec >= 2.5*baselineLifecyclesPerSec)
	info("lifecycle time (start to completed)", fmt.Sprintf("p50 %.1f s, p90 %.1f s, p99 %.1f s", r.LifecycleTime.P50, r.LifecycleTime.P90, r.LifecycleTime.P99))
	row("bare workflow, same work", fmt.Sprintf("%.2f/s (%.1f s); collabflow/bare %.2f", r.BarePerSec, r.BareWall, r.Ratio), "ratio ≥ 0.9", r.Ratio >= 0.9)
	info("CPU seconds per lifecycle: dev process / bench process", fmt.Sprintf("collabflow %.2f / %.2f (drivers); bare %.2f / %.2f (worker)",
		r.CPU.Dev, r.CPU.Bench, r.CPU.DevBare, r.CPU.BenchBare))
	info("bare profile (median lifecycle)", fmt.Sprintf("%d activities, %d local activities, %d updates, fired timers %v",
		r.BareProfile.Activities, r.BareProfile.LocalActivities, r.BareProfile.Updates, r.BareProfile.Timers))
	info("history events per lifecycle", fmt.Sprintf("median %d (%d–%d); bare %d", r.History.Events, r.History.EventsMin, r.History.EventsMax, r.BareHistory.Events))
	row("history bytes per lifecycle", fmt.Sprintf("%d; bare %d; ratio %.2f", r.History.Bytes, r.BareHistory.Bytes, r.BytesRatio), "≤ 2× bare", r.BytesRatio > 0 && r.BytesRatio <= 2)
	info("bytes by event type (median lifecycle)", byType(r.History.BytesByType))
	info("bare bytes by event type", byType(r.BareHistory.BytesByType))
	l := r.Latency
	row("update (offer) API vs SDK", fmt.Sprintf("p50 %.0f / %.0f ms, p99 %.0f / %.0f ms; p99 ratio %.2f", l.UpdateAPI.P50*1000, l.UpdateSDK.P50*1000,
		l.UpdateAPI.P99*1000, l.UpdateSDK.P99*1000, l.UpdateP99Ratio), "p99 ≤ 1.3×", l.UpdateP99Ratio > 0 && l.UpdateP99Ratio <= 1.3)
	row("query (state) API vs SDK", fmt.Sprintf("p50 %.1f / %.1f ms, p99 %.1f / %.1f ms; p99 ratio %.2f", l.QueryAPI.P50*1000, l.QuerySDK.P50*1000,
		l.QueryAPI.P99*1000, l.QuerySDK.P99*1000, l.QueryP99Ratio), "p99 ≤ 1.3×", l.QueryP99Ratio > 0 && l.QueryP99Ratio <= 1.3)
	row("pipeline of a campaign", fmt.Sprintf("p50 %.1f ms, p99 %.1f ms (%d open in it)", r.Pipeline.P50*1000, r.Pipeline.P99*1000, max(0, r.Open-64-r.Creators)), "≤ 50 ms", r.Pipeline.P99 <= 0.05)
	info("opening them", fmt.Sprintf("%.1f s", r.OpenAllStarted))
	row("memory with all open", fmt.Sprintf("RSS %d MiB, peak %d MiB (idle %d MiB)", r.RSSOpen>>20, r.RSSPeak>>20, r.RSSIdle>>20), "≤ 1 GiB", r.RSSPeak > 0 && r.RSSPeak <= 1<<30)
	return b.String()
}

// byType lists event types by bytes, largest first.
func byType(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var s []kv
	for k, v := range m {
		s = append(s, kv{k, v})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].v > s[j].v || s[i].v == s[j].v && s[i].k < s[j].k })
	var parts []string
	for _, e := range s {
		parts = append(parts, fmt.Sprintf("%s %d", strings.ToLower(e.k), e.v))
	}
	return strings.Join(parts, ", ")
}
