// Package worker registers collabflow's workflows and activities on Temporal workers.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/workflows"
)

// Options tune the workers; zero values take the defaults.
type Options struct {
	// MaxConcurrentActivities bounds the activities each of the three workers runs at
	// once; zero means DefaultMaxConcurrentActivities.
	MaxConcurrentActivities int
	// MaxConcurrentWorkflowTasks bounds the workflow tasks the main worker runs at once;
	// zero means DefaultMaxConcurrentWorkflowTasks.
	MaxConcurrentWorkflowTasks int
	// MaxPollers caps each autoscaling poller group: the main worker's workflow task
	// pollers and the email and notice workers' activity pollers; zero means
	// DefaultMaxPollers.
	MaxPollers int
	// EmailsPerSecond caps email sends across every worker of the cluster: the server
	// enforces it on the email task queue. Zero means 10.
	EmailsPerSecond float64
	// NoticesPerSecond caps transactional notices (contract, brief, reminders, ops
	// notices) across the cluster, enforced by the server on the notice task queue apart
	// from EmailsPerSecond, so that a launch's outreach never delays them. Zero means 10.
	NoticesPerSecond float64
	// WorkflowCache is how many workflows the process keeps in memory between tasks
	// (the SDK's sticky cache, shared by its workers); zero means DefaultWorkflowCache.
	WorkflowCache int
	// StopTimeout is how long a stopping worker lets running activities finish before
	// cancelling them; zero cancels them at once (the SDK's default), which dev and tests
	// want. A production worker sets it so a rolling deploy does not cut a send or a
	// payout in half (Temporal would retry it, but later and at a cost).
	StopTimeout time.Duration
	// DataConverter is the converter of the process's Temporal client: a signal whose
	// payload it refuses (not encrypted while codec keys are set) is recorded as refused
	// (RefusePlain) rather than dropped. Nil refuses nothing.
	DataConverter converter.DataConverter
}

// DefaultWorkflowCache keeps the workflows that are active in memory and lets the rest
// replay when they wake: the SDK's default of 10,000 held every open collaboration, about
// 0.2 MiB each (2.1 GiB of RSS at 10,000 open), while most wait days for a person.
const DefaultWorkflowCache = 1000

// The SDK's own defaults, named so that the settings table can show them and a
// deployment knows what it changes.
const (
	// DefaultMaxConcurrentActivities is the SDK's default: far above what the database
	// pool and SendGrid take at once, so the rate limits, not this, bound the sends.
	DefaultMaxConcurrentActivities = 1000
	// DefaultMaxConcurrentWorkflowTasks is the SDK's default.
	DefaultMaxConcurrentWorkflowTasks = 1000
	// DefaultMaxPollers is the SDK's default ceiling for autoscaling pollers.
	DefaultMaxPollers = 100
)

// Workers are the three workers of a process: the main task queue (workflows and all other
// activities), the rate-limited email task queue (outreach) and the rate-limited notice
// task queue (transactional notices).
type Workers struct {
	Main, Email, Notice sdkworker.Worker
}

// New builds the workers with everything registered.
func New(c client.Client, acts *activities.Activities, opts Options) Workers {
	mainOpts, emailOpts, noticeOpts := opts.sdk()
	// The cache is the SDK's, per process, and takes its size when the first worker
	// starts.
	sdkworker.SetStickyWorkflowCacheSize(cmp.Or(opts.WorkflowCache, DefaultWorkflowCache))
	main := sdkworker.New(c, workflows.TaskQueue, mainOpts)
	workflows.Register(main)
	main.RegisterActivity(acts)

	email := sdkworker.New(c, workflows.EmailTaskQueue, emailOpts)
	email.RegisterActivity(acts)

	notice := sdkworker.New(c, workflows.NoticeTaskQueue, noticeOpts)
	notice.RegisterActivity(acts)
	return Workers{Main: main, Email: email, Notice: notice}
}

// sdk turns Options into the SDK's options of the main, the email and the notice worker.
func (o Options) sdk() (main, email, notice sdkworker.Options) {
	if o.EmailsPerSecond == 0 {
		o.EmailsPerSecond = 10
	}
	if o.NoticesPerSecond == 0 {
		o.NoticesPerSecond = 10
	}
	activities := cmp.Or(o.MaxConcurrentActivities, DefaultMaxConcurrentActivities)
	pollers := sdkworker.PollerBehaviorAutoscalingOptions{MaximumNumberOfPollers: cmp.Or(o.MaxPollers, DefaultMaxPollers)}
	main = sdkworker.Options{
		MaxConcurrentActivityExecutionSize:     activities,
		MaxConcurrentWorkflowTaskExecutionSize: cmp.Or(o.MaxConcurrentWorkflowTasks, DefaultMaxConcurrentWorkflowTasks),
		// The default two pollers favour the sticky queue while it has a backlog, so a
		// new workflow waited ~17 s for its first task with 50 in flight; autoscaling
		// pollers take the normal queue's tasks as they come.
		WorkflowTaskPollerBehavior: sdkworker.NewPollerBehaviorAutoscaling(pollers),
		// Only this worker runs workflows. With tracing on, the activities an update
		// causes join its trace; without, it changes nothing.
		// A refused signal is rerouted before anything else sees it.
		Interceptors:      []interceptor.WorkerInterceptor{&RefusePlain{DataConverter: o.DataConverter}, &UpdateCause{}},
		WorkerStopTimeout: o.StopTimeout,
	}
	email = sdkworker.Options{
		MaxConcurrentActivityExecutionSize: activities,
		TaskQueueActivitiesPerSecond:       o.EmailsPerSecond,
		// The rate limit turns off eager dispatch, so every send is polled for; two
		// pollers held first emails seconds behind their rate with 200 collaborations in
		// flight. Autoscaling pollers follow the backlog.
		ActivityTaskPollerBehavior: sdkworker.NewPollerBehaviorAutoscaling(pollers),
		// No workflow runs on the email queue: its pollers would only hold connections
		// and server resources.
		DisableWorkflowWorker: true,
		WorkerStopTimeout:     o.StopTimeout,
	}
	notice = email
	notice.TaskQueueActivitiesPerSecond = o.NoticesPerSecond
	return main, email, notice
}

// Start starts the workers.
func (w Workers) Start() error {
	if err := w.Main.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if err := w.Email.Start(); err != nil {
		w.Main.Stop()
		return fmt.Errorf("start email worker: %w", err)
	}
	if err := w.Notice.Start(); err != nil {
		w.Email.Stop()
		w.Main.Stop()
		return fmt.Errorf("start notice worker: %w", err)
	}
	return nil
}

// Stop stops the workers, letting running activities finish within the stop timeout.
func (w Workers) Stop() {
	w.Notice.Stop()
	w.Email.Stop()
	w.Main.Stop()
}

// Run polls until ctx ends, then stops the workers.
func Run(ctx context.Context, c client.Client, acts *activities.Activities, opts Options) error {
	if acts.Store == nil || acts.Mailer == nil || acts.Links == nil || acts.Verifier == nil || acts.Payouts == nil || acts.Collaborations == nil {
		// Without Collaborations an email would go out after a reply or cancel.
		return errors.New("worker: activities need a store, a mailer, a link signer, a verifier, a payout provider and collaborations to ask before a send")
	}
	w := New(c, acts, opts)
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
