package temporalserver

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// roundTripQueue is the task queue of the benchmark's workflow.
const roundTripQueue = "bench-round-trip"

// roundTrip is the smallest workflow that does what a collaboration does at each step:
// run an activity, then wait for a signal.
func roundTrip(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	if err := workflow.ExecuteActivity(ctx, roundTripActivity).Get(ctx, nil); err != nil {
		return fmt.Errorf("activity: %w", err)
	}
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return nil
}

func roundTripActivity(context.Context) error { return nil }

// BenchmarkWorkflowRoundTrip runs roundTrip (start, activity, signal, completion) one at a
// time on a file-backed server, once per SQLite synchronous mode: what FULL costs over
// NORMAL in WAL mode on this machine's disk.
func BenchmarkWorkflowRoundTrip(b *testing.B) {
	for _, mode := range []string{"NORMAL", "FULL"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			ts, err := Start(ctx, Options{DatabaseFile: filepath.Join(b.TempDir(), "temporal.db"), Synchronous: mode})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = ts.Stop() })
			c, err := client.Dial(client.Options{HostPort: ts.Address(), Namespace: ts.Namespace(),
				Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Close)
			w := worker.New(c, roundTripQueue, worker.Options{})
			w.RegisterWorkflow(roundTrip)
			w.RegisterActivity(roundTripActivity)
			if err := w.Start(); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(w.Stop)

			b.ResetTimer()
			for i := range b.N {
				id := fmt.Sprintf("round-trip-%s-%d", mode, i)
				run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: roundTripQueue}, roundTrip)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.SignalWorkflow(ctx, id, "", "go", nil); err != nil {
					b.Fatal(err)
				}
				if err := run.Get(ctx, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
