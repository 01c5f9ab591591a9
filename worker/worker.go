// Package worker registers collabflow's workflows and activities on a Temporal worker.
package worker

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/workflows"
)

// Options tune the worker; zero values take the SDK's defaults.
type Options struct {
	// MaxConcurrentActivities bounds activities running at once in this process.
	MaxConcurrentActivities int
}

// New builds a worker on the collabflow task queue with every workflow and activity.
func New(c client.Client, acts *activities.Activities, opts Options) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize: opts.MaxConcurrentActivities,
	})
	workflows.Register(w)
	w.RegisterActivity(acts)
	return w
}

// Run polls until ctx ends, then stops the worker, letting running activities finish
// within the SDK's stop timeout.
func Run(ctx context.Context, c client.Client, acts *activities.Activities, opts Options) error {
	w := New(c, acts, opts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
