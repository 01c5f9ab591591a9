package bench

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// bareTaskQueue is the bare workflow's own queue, served by a worker in the bench process.
const bareTaskQueue = "collabflow-bench-bare"

// bareUpdate is the bare workflow's one update: a step that a person took.
const bareUpdate = "step"

// BareProfile is the Temporal work of one lifecycle without its business logic: what the
// median collabflow lifecycle of the same run did.
type BareProfile struct {
	Activities      int             `json:"activities"`
	LocalActivities int             `json:"local_activities"`
	Updates         int             `json:"updates"`
	Timers          []time.Duration `json:"timers"`
}

// BareLifecycle does p's work and nothing else: its local activities at the start, then
// one update after another, each running its share of the activities before it answers
// (a collabflow update answers once the workflow acted on it); the fired timers run
// before the last update, where collabflow's live window is.
func BareLifecycle(ctx workflow.Context, p BareProfile) error {
	ao := workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second}
	received, timersDone := 0, false
	share := func(n int) int {
		per, extra := p.Activities/max(1, p.Updates), 0
		if n <= p.Activities%max(1, p.Updates) {
			extra = 1
		}
		return per + extra
	}
	if err := workflow.SetUpdateHandler(ctx, bareUpdate, func(ctx workflow.Context, n int) (int, error) {
		received++
		if n == p.Updates {
			// Waits for the main coroutine's timers, which do not wait for this handler.
			if err := workflow.Await(ctx, func() bool { return timersDone }); err != nil {
				return 0, err
			}
		}
		ctx = workflow.WithActivityOptions(ctx, ao)
		for range share(n) {
			if err := workflow.ExecuteActivity(ctx, BareActivity, n).Get(ctx, nil); err != nil {
				return 0, err
			}
		}
		return n, nil
	}); err != nil {
		return err
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for range p.LocalActivities {
		if err := workflow.ExecuteLocalActivity(lctx, BareActivity, 0).Get(ctx, nil); err != nil {
			return err
		}
	}
	if err := workflow.Await(ctx, func() bool { return received >= p.Updates-1 }); err != nil {
		return err
	}
	for _, d := range p.Timers {
		if err := workflow.Sleep(ctx, d); err != nil {
			return err
		}
	}
	timersDone = true
	return workflow.Await(ctx, func() bool { return received >= p.Updates && workflow.AllHandlersFinished(ctx) })
}

// BareActivity does nothing: the bare lifecycle measures Temporal's part only.
func BareActivity(context.Context, int) error { return nil }

// runBare runs n bare lifecycles with inflight at once on a worker of its own, configured
// like collabflow's main worker, and returns how long they took.
func runBare(ctx context.Context, c client.Client, p BareProfile, run string, n, inflight int) (time.Duration, []string, error) {
	w := worker.New(c, bareTaskQueue, worker.Options{
		WorkflowTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
	})
	w.RegisterWorkflow(BareLifecycle)
	w.RegisterActivity(BareActivity)
	if err := w.Start(); err != nil {
		return 0, nil, fmt.Errorf("start the bare worker: %w", err)
	}
	defer w.Stop()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "bench-bare-" + run + "-" + strconv.Itoa(i)
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan string)
	for range min(inflight, n) {
		wg.Go(func() {
			for id := range next {
				if err := bareOne(ctx, c, p, id); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return time.Since(t0), ids, first
}

// bareOne starts one bare lifecycle, sends its updates one after another and waits for
// its end, as the API's driver does for a collaboration.
func bareOne(ctx context.Context, c client.Client, p BareProfile, id string) error {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: bareTaskQueue}, BareLifecycle, p)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	for n := 1; n <= p.Updates; n++ {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: id, UpdateName: bareUpdate, Args: []any{n}, WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err != nil {
			return fmt.Errorf("update %d of %s: %w", n, id, err)
		}
		if err := h.Get(ctx, nil); err != nil {
			return fmt.Errorf("update %d of %s: %w", n, id, err)
		}
	}
	if err := run.Get(ctx, nil); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	return nil
}
