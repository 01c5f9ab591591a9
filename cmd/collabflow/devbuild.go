//go:build dev

package main

import (
	"context"
	"io"
)

// devCommands are the subcommands only the dev binary has: both run the embedded
// Temporal server, PostgreSQL and SendGrid sink (bench through a child `dev` process),
// which the production binary leaves out (build_test.go).
var devCommands = map[string]command{
	"dev": func(ctx context.Context, cfg config, _ []string, stdout io.Writer) error {
		return runDev(ctx, cfg, stdout)
	},
	"bench": func(ctx context.Context, _ config, args []string, stdout io.Writer) error {
		return runBench(ctx, args, stdout)
	},
}

// devUsage lists devCommands in the usage text.
const devUsage = `  dev      run Temporal and its Web UI, PostgreSQL, the worker and the API in one process
           (data in .data/)
`

// benchUsage is bench's line in the usage text.
const benchUsage = `  bench    start ` + "`collabflow dev`" + ` in a temporary directory and measure it (make bench;
           collabflow bench -h for its options)
`
