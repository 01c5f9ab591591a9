package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/collabflow/collabflow/audit"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

const auditUsage = `usage:
  collabflow audit replay --id ID [--until-event N]    replay a collaboration from Temporal
  collabflow audit replay --file FILE [--until-event N] replay an exported history offline
  collabflow audit export --campaign ID --out DIR       write every collaboration's history to DIR
`

// runAudit replays histories against the current code and exports them for audits that
// must outlive the server's retention.
func runAudit(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, auditUsage)
		return errors.New("audit needs replay or export")
	}
	switch args[0] {
	case "replay":
		return auditReplay(ctx, cfg, args[1:], stdout)
	case "export":
		return auditExport(ctx, cfg, args[1:], stdout)
	}
	fmt.Fprint(stdout, auditUsage)
	return fmt.Errorf("unknown audit command %q", args[0])
}

func auditReplay(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit replay", flag.ContinueOnError)
	fs.SetOutput(stdout)
	id := fs.String("id", "", "collaboration id, read from TEMPORAL_ADDRESS")
	file := fs.String("file", "", "exported history file (one run or an export of all runs)")
	until := fs.Int64("until-event", 0, "replay only up to this event id of the last run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*id == "") == (*file == "") {
		return errors.New("give exactly one of --id and --file")
	}
	var data []byte
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("read history: %w", err)
		}
		data = b
	} else {
		tc, err := dialTemporal(ctx, cfg, cfg.logger(), &telemetry{})
		if err != nil {
			return err
		}
		defer tc.Close()
		runs, err := audit.Fetch(ctx, tc, *id)
		if err != nil {
			return err
		}
		if data, err = audit.MarshalExport(*id, runs); err != nil {
			return err
		}
	}
	histories, err := audit.Parse(data, *until)
	if err != nil {
		return err
	}
	res := audit.Replay(cfg.dataConverter(), histories)
	fmt.Fprintln(stdout, res.Summary())
	if !res.Deterministic {
		return errors.New("history does not replay against this code")
	}
	if res.Final != nil {
		return printState(stdout, *res.Final)
	}
	fmt.Fprintln(stdout, "the last run had not completed at the end of this history")
	if st := audit.StateAt(cfg.dataConverter(), histories, time.Time{}); st != nil {
		fmt.Fprintln(stdout, "state as of the last update answered by then:")
		return printState(stdout, *st)
	}
	return nil
}

func printState(w io.Writer, st workflows.CollaborationState) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"id": st.ID, "stage": st.Stage, "end_reason": st.EndReason, "events": len(st.Events),
		"offers": len(st.Offers), "drafts": len(st.Drafts), "posts": len(st.Posts), "payouts": st.Payouts})
}

func auditExport(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	fs.SetOutput(stdout)
	campaign := fs.String("campaign", "", "campaign id")
	out := fs.String("out", "", "directory to write <collaboration id>.json files to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *campaign == "" || *out == "" {
		return errors.New("--campaign and --out are required")
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required")
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	tc, err := dialTemporal(ctx, cfg, cfg.logger(), &telemetry{})
	if err != nil {
		return err
	}
	defer tc.Close()
	n, err := audit.ExportCampaign(ctx, st, tc, *campaign, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %d collaboration(s) to %s\n", n, *out)
	return nil
}
