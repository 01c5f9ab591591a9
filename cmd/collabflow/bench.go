//go:build dev

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/collabflow/collabflow/bench"
)

// runBench runs `collabflow dev` as a child process and measures it (package bench),
// then prints the figures against the targets as a Markdown table for BENCHMARKS.md.
func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var cfg bench.Config
	fs.IntVar(&cfg.Creators, "n", 1000, "creators launched and driven to completed")
	fs.IntVar(&cfg.InFlight, "inflight", 200, "lifecycles driven at once (the bare workflow runs as many)")
	fs.IntVar(&cfg.Open, "open", 10000, "collaborations open when memory is read")
	fs.Float64Var(&cfg.EmailRate, "email-rate", 100, "COLLABFLOW_EMAIL_RATE of the dev process; launches are paced to it")
	fs.StringVar(&cfg.Dir, "data", "", "data directory of the dev process (default: a new temporary one)")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the data directory and the dev log")
	out := fs.String("out", "", "also write the figures as JSON to this file")
	phases := fs.String("phases", "", "comma-separated parts to run: launch, lifecycle, bare (needs lifecycle), latency, open (default: all)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if *phases != "" {
		for _, p := range strings.Split(*phases, ",") {
			if !slices.Contains([]string{"launch", "lifecycle", "bare", "latency", "open"}, p) {
				return fmt.Errorf("-phases: %q is not one of launch, lifecycle, bare, latency, open", p)
			}
			cfg.Phases = append(cfg.Phases, p)
		}
	}
	switch {
	case cfg.Creators < 1 || cfg.Creators > 5000:
		return fmt.Errorf("-n: %d: a launch takes 1 to 5000 creators", cfg.Creators)
	case cfg.InFlight < 1:
		return fmt.Errorf("-inflight: %d: at least one", cfg.InFlight)
	case cfg.Open < 64:
		return fmt.Errorf("-open: %d: at least 64 (the latency set stays open)", cfg.Open)
	case cfg.EmailRate <= 0:
		return fmt.Errorf("-email-rate: %v: a positive number of emails per second", cfg.EmailRate)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary to start `dev`: %w", err)
	}
	cfg.Exe, cfg.Log = exe, stdout
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if *out != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
	}
	fmt.Fprint(stdout, bench.Table(res))
	return nil
}
