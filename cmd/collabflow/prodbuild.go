//go:build !dev

package main

import (
	"context"
	"fmt"
	"io"
)

// devCommands answers the dev binary's subcommands with where to find them: this build
// leaves out the embedded Temporal server (go.temporal.io/server), PostgreSQL and the
// SendGrid sink they run, and with them most of the binary's size and dependencies.
var devCommands = map[string]command{
	"dev":   inDevBinary("dev", "make build-dev / make run"),
	"bench": inDevBinary("bench", "make build-dev / make bench"),
}

// inDevBinary is a subcommand that only says where it lives.
func inDevBinary(name, how string) command {
	return func(context.Context, config, []string, io.Writer) error {
		return fmt.Errorf("this is the production build; `%s` is in the dev binary (%s)", name, how)
	}
}

// devUsage points to the dev binary in the usage text.
const devUsage = `  dev, bench
           only in the dev binary (make build-dev; make run, make bench)
`

// benchUsage is empty: devUsage names bench.
const benchUsage = ""
