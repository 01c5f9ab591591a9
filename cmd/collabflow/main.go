// Command collabflow runs brand–creator collaborations as Temporal workflows.
//
//	collabflow dev       everything in one process on embedded defaults (make run)
//	collabflow api       the HTTP API against external Temporal and PostgreSQL
//	collabflow worker    the Temporal worker against external Temporal and PostgreSQL
//	collabflow migrate   apply database migrations and exit
//	collabflow audit     replay histories against the current code, export them
//	collabflow codec-server  decode encrypted payloads for the Temporal Web UI and CLI
//	collabflow bench     measure a launch driven to completed against a bare workflow
//
// dev and bench are in the dev binary only (go build -tags dev, make build-dev): they run
// the embedded Temporal server, which the production binary does not link.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "collabflow:", err)
		os.Exit(1)
	}
}

// getenv is os.Getenv, except that COLLABFLOW_UI_ADDR set to the empty string reads as
// "off": for it, unlike the other settings, empty does not mean "the default", and
// os.Getenv cannot tell empty from unset.
func getenv(key string) string {
	v, ok := os.LookupEnv(key)
	if ok && v == "" && key == "COLLABFLOW_UI_ADDR" {
		return "off"
	}
	return v
}

// command is a subcommand: its arguments after its name, the configuration, and where
// it prints.
type command func(ctx context.Context, cfg config, args []string, stdout io.Writer) error

const usage = `usage: collabflow <command>

commands:
` + devUsage + `  api      serve the HTTP API (needs TEMPORAL_ADDRESS, DATABASE_URL, COLLABFLOW_API_KEYS)
  worker   run the Temporal worker (needs TEMPORAL_ADDRESS, DATABASE_URL)
  migrate  apply database migrations to DATABASE_URL and exit
  audit    replay a collaboration's history (from Temporal or a file) or export histories
  codec-server
           decrypt payloads for the Temporal Web UI and CLI (needs COLLABFLOW_CODEC_KEYS,
           COLLABFLOW_API_KEYS)
` + benchUsage + `
Configuration is read from the environment; see README.md.
`

// run is main without the process: tests call it with their own arguments and environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return errors.New("no command given")
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if cmd, ok := devCommands[args[0]]; ok {
		return cmd(ctx, cfg, args[1:], stdout)
	}
	switch args[0] {
	case "api":
		return runProduction(ctx, cfg, roleAPI)
	case "worker":
		return runProduction(ctx, cfg, roleWorker)
	case "migrate":
		return runMigrate(ctx, cfg)
	case "audit":
		return runAudit(ctx, cfg, args[1:], stdout)
	case "codec-server":
		return runCodecServer(ctx, cfg, nil)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stdout, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
