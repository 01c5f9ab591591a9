// Package bench measures collabflow end to end on the embedded default: it starts
// `collabflow dev` as a child process with a local SendGrid sink and a post host served
// from this process, launches a campaign and drives every collaboration to completed
// through the API as its people would, runs a bare workflow doing the same Temporal work
// with no business logic beside it, compares API calls with the same SDK calls made
// directly, and opens enough collaborations to read the process's memory at scale.
// `collabflow bench` and `make bench` run it; BENCHMARKS.md holds its results.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is what to run.
type Config struct {
	// Exe is the collabflow binary to start with `dev`.
	Exe string
	// Dir holds the dev process's state and log; the run removes it unless Keep.
	Dir  string
	Keep bool
	// Creators is the size of the launch driven to completed (default 1,000).
	Creators int
	// InFlight is how many lifecycles are driven at once (default 200); the bare
	// workflow runs with as many.
	InFlight int
	// Open is how many collaborations are open when memory is read (default 10,000).
	Open int
	// EmailRate is COLLABFLOW_EMAIL_RATE, which also paces launches (default 100/s).
	EmailRate float64
	// Phases are the parts to run (launch, lifecycle, bare, latency, open); empty runs
	// them all. bare needs lifecycle's profile.
	Phases []string
	// Log receives progress lines.
	Log io.Writer
}

// runs reports whether phase is to run.
func (c *Config) runs(phase string) bool {
	return len(c.Phases) == 0 || slices.Contains(c.Phases, phase)
}

func (c *Config) defaults() {
	if c.Creators == 0 {
		c.Creators = 1000
	}
	if c.InFlight == 0 {
		c.InFlight = 200
	}
	if c.Open == 0 {
		c.Open = 10000
	}
	if c.EmailRate == 0 {
		c.EmailRate = 100
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Result is everything one run measured; durations are in seconds.
type Result struct {
	Machine   string  `json:"machine"`
	Creators  int     `json:"creators"`
	InFlight  int     `json:"in_flight"`
	EmailRate float64 `json:"email_rate"`

	LaunchAccepted   float64 `json:"launch_accepted_s"`
	LaunchAllStarted float64 `json:"launch_all_started_s"`
	LaunchStarted    int     `json:"launch_started"`
	LaunchSkipped    int     `json:"launch_skipped"`
	LaunchFailed     int     `json:"launch_failed"`

	LaunchFirstTask  durations `json:"launch_first_workflow_task"`
	LaunchFirstEmail durations `json:"launch_first_email_after_start"`

	// FirstTask and FirstEmail are the lifecycle phase's, with InFlight driven at once.
	FirstTask  durations `json:"first_workflow_task"`
	FirstEmail durations `json:"first_email_after_start"`
	// CPU is CPU seconds per lifecycle: the dev process's (Temporal's server, and in the
	// collabflow phase its worker, API and their PostgreSQL calls) and this process's (the
	// drivers, or the bare worker and its client).
	CPU struct {
		Dev       float64 `json:"dev_s"`
		Bench     float64 `json:"bench_s"`
		DevBare   float64 `json:"dev_bare_s"`
		BenchBare float64 `json:"bench_bare_s"`
	} `json:"cpu_per_lifecycle"`

	Lifecycles       int       `json:"lifecycles"`
	LifecycleWall    float64   `json:"lifecycle_wall_s"`
	LifecyclesPerSec float64   `json:"lifecycles_per_s"`
	LifecycleTime    durations `json:"lifecycle_time"`
	BareWall         float64   `json:"bare_wall_s"`
	BarePerSec       float64   `json:"bare_lifecycles_per_s"`
	Ratio            float64   `json:"ratio_to_bare"`

	History     historyFigures `json:"history"`
	BareHistory historyFigures `json:"bare_history"`
	BareProfile BareProfile    `json:"bare_profile"`
	BytesRatio  float64        `json:"history_bytes_ratio"`

	Latency latencyFigures `json:"latency"`

	Open           int       `json:"open"`
	OpenAllStarted float64   `json:"open_all_started_s"`
	Pipeline       durations `json:"pipeline"`
	RSSIdle        int64     `json:"rss_idle_bytes"`
	RSSOpen        int64     `json:"rss_open_bytes"`
	RSSPeak        int64     `json:"rss_peak_bytes"`
}

// Run runs the benchmark and returns what it measured.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	cfg.defaults()
	res = Result{Machine: machine(), Creators: cfg.Creators, InFlight: cfg.InFlight, EmailRate: cfg.EmailRate, Open: cfg.Open}
	logf := func(format string, args ...any) {
		fmt.Fprintf(cfg.Log, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	if cfg.Dir == "" {
		if cfg.Dir, err = os.MkdirTemp("", "collabflow-bench-"); err != nil {
			return res, fmt.Errorf("make a data directory: %w", err)
		}
	} else if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return res, fmt.Errorf("make the data directory: %w", err)
	}
	// World-traversable, so that the postgres user reaches its cluster inside.
	if err := os.Chmod(cfg.Dir, 0o755); err != nil {
		return res, fmt.Errorf("data directory: %w", err)
	}
	if !cfg.Keep {
		defer func() { err = errors.Join(err, os.RemoveAll(cfg.Dir)) }()
	}
	logw, err := os.Create(filepath.Join(cfg.Dir, "dev.log"))
	if err != nil {
		return res, fmt.Errorf("dev log: %w", err)
	}
	defer logw.Close()

	logf("starting collabflow dev in %s", cfg.Dir)
	st, err := startStack(ctx, cfg.Exe, cfg.Dir, cfg.EmailRate, logw)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, st.stop()) }()
	mail := newMailboxes()
	st.sink.OnAccept(mail.accept)
	if res.RSSIdle, _, err = st.memory(); err != nil {
		return res, err
	}

	if cfg.runs("launch") {
		if err := launchAlone(ctx, st, mail, cfg, &res, logf); err != nil {
			return res, err
		}
	}
	if cfg.runs("lifecycle") {
		if err := lifecycles(ctx, st, mail, cfg, &res, logf); err != nil {
			return res, err
		}
	}
	if cfg.runs("bare") && res.BareProfile.Updates > 0 {
		if err := bare(ctx, st, cfg, &res, logf); err != nil {
			return res, err
		}
	}
	if cfg.runs("latency") {
		if res.Latency, err = latency(ctx, st, mail, logf); err != nil {
			return res, err
		}
	}
	if cfg.runs("open") {
		if err := openMany(ctx, st, mail, cfg, &res, logf); err != nil {
			return res, err
		}
	}
	return res, nil
}

// machine describes where the run ran: CPUs, memory and the CPU model.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
					mem = fmt.Sprintf(", %.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	return fmt.Sprintf("%d CPUs%s, %s, %s/%s, %s", runtime.NumCPU(), mem, model, runtime.GOOS, runtime.GOARCH, runtime.Version())
}
