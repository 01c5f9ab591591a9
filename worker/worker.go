// Package worker registers collabflow's workflows and activities on Temporal workers.
package worker

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/workflows"
)

// Options tune the workers; zero values take the defaults.
type Options struct {
	// MaxConcurrentActivities bounds activities running at once in this process.
	MaxConcurrentActivities int
	// EmailsPerSecond caps email sends across every worker of the cluster: the server
	// enforces it on the email task queue. Zero means 10.
	EmailsPerSecond float64
}

// Workers are the two workers of a process: the main task queue (workflows and all other
// activities) and the rate-limited email task queue.
type Workers struct {
	Main, Email sdkworker.Worker
}

// New builds both workers with everything registered.
func New(c client.Client, acts *activities.Activities, opts Options) Workers {
	if opts.EmailsPerSecond == 0 {
		opts.EmailsPerSecond = 10
	}
	main := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize: opts.MaxConcurrentActivities,
	})
	workflows.Register(main)
	main.RegisterActivity(acts)

	email := sdkworker.New(c, workflows.EmailTaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize: opts.MaxConcurrentActivities,
		TaskQueueActivitiesPerSecond:       opts.EmailsPerSecond,
	})
	email.RegisterActivity(acts)
	return Workers{Main: main, Email: email}
}

// Start starts both workers.
func (w Workers) Start() error {
	if err := w.Main.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if err := w.Email.Start(); err != nil {
		w.Main.Stop()
		return fmt.Errorf("start email worker: %w", err)
	}
	return nil
}

// Stop stops both workers, letting running activities finish within the stop timeout.
func (w Workers) Stop() {
	w.Email.Stop()
	w.Main.Stop()
}

// Run polls until ctx ends, then stops the workers.
func Run(ctx context.Context, c client.Client, acts *activities.Activities, opts Options) error {
	if acts.Store == nil || acts.Mailer == nil || acts.Links == nil || acts.Verifier == nil || acts.Payouts == nil {
		return errors.New("worker: activities need a store, a mailer, a link signer, a verifier and a payout provider")
	}
	w := New(c, acts, opts)
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
