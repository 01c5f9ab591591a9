package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
)

// LaunchWorkflow is the registered name of Launch.
const LaunchWorkflow = "Launch"

// LaunchWorkflowID is the workflow ID of a launch: one workflow per launch row.
func LaunchWorkflowID(launchID string) string { return "launch-" + launchID }

// LaunchInput starts the collaborations of a launch whose items PostgreSQL holds.
type LaunchInput struct {
	LaunchID    string `json:"launch_id"`
	CampaignID  string `json:"campaign_id"`
	RequestedBy string `json:"requested_by"`
	// StartsPerSecond paces the starts so that the first emails, which go out at once,
	// keep to the email rate instead of queueing; zero starts as fast as batches run.
	StartsPerSecond float64 `json:"starts_per_second"`
	// BatchSize is how many items one activity starts; zero means DefaultLaunchBatch.
	BatchSize int `json:"batch_size,omitempty"`
}

// DefaultLaunchBatch keeps a batch's activity well inside its timeout and a launch of
// 5,000 at 50 batches: a few hundred history events.
const DefaultLaunchBatch = 100

// LaunchResult counts what a launch did.
type LaunchResult struct {
	Started int `json:"started"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
	Batches int `json:"batches"`
}

// launchBatchOptions: a batch touches PostgreSQL and Temporal for each item, heartbeating
// as it goes; a retry resumes where the crashed attempt stopped.
var launchBatchOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 5 * time.Minute,
	HeartbeatTimeout:    time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 10,
		NonRetryableErrorTypes: []string{"BadInput"},
	},
}

// launchRounds is how many times a batch whose retries ran out is tried again, a minute
// apart, before the rest of the launch is marked failed: an outage of Temporal's
// frontend or PostgreSQL of about a quarter of an hour is waited out.
const launchRounds = 5

// changeLaunchPace is the version from which the pause after a batch leaves out the time
// the batch itself took: the starts keep to the email rate without waiting twice for it.
const changeLaunchPace = "launch-pace"

// Launch starts one collaboration per item of a launch, in batches, paced to the email
// rate. What each item became is recorded in PostgreSQL by the batch activity, so a crash
// at any point resumes without duplicates: the workflow only keeps where the next batch
// begins. A batch that keeps failing is tried again a few times; after that the rest is
// marked failed with the error, so a launch always finishes.
func Launch(ctx workflow.Context, in LaunchInput) (LaunchResult, error) {
	var res LaunchResult
	size := in.BatchSize
	if size <= 0 {
		size = DefaultLaunchBatch
	}
	bctx := workflow.WithActivityOptions(ctx, launchBatchOptions)
	paceNet := workflow.GetVersion(ctx, changeLaunchPace, workflow.DefaultVersion, 1) >= 1
	batch := func(after int) (int, bool, time.Duration, error) {
		began := workflow.Now(ctx)
		var out activities.LaunchBatchResult
		err := workflow.ExecuteActivity(bctx, a.StartLaunchBatch, activities.LaunchBatchInput{
			LaunchID: in.LaunchID, CampaignID: in.CampaignID, RequestedBy: in.RequestedBy, AfterSeq: after, Limit: size,
		}).Get(ctx, &out)
		if err != nil {
			return after, false, 0, err
		}
		res.Started += out.Started
		res.Skipped += out.Skipped
		res.Failed += out.Failed
		var pause time.Duration
		if in.StartsPerSecond > 0 {
			pause = time.Duration(float64(out.Started) / in.StartsPerSecond * float64(time.Second))
			if paceNet {
				pause -= workflow.Now(ctx).Sub(began)
			}
		}
		return out.LastSeq, out.Done, pause, nil
	}
	failRest := func(err error) error {
		return workflow.ExecuteActivity(bctx, a.FailLaunchRest, in.LaunchID, "not started: "+failureText(err)).Get(ctx, nil)
	}
	n, err := batches(ctx, batch, failRest)
	res.Batches = n
	if err != nil {
		return res, fmt.Errorf("launch %s: %w", in.LaunchID, err)
	}
	if err := workflow.ExecuteActivity(bctx, a.FinishLaunch, in.LaunchID).Get(ctx, nil); err != nil {
		return res, fmt.Errorf("finish launch %s: %w", in.LaunchID, err)
	}
	return res, nil
}

// batches runs batch from sequence 0 until it reports done: each call goes through the
// items after the last one it finished and says how long to pause before the next. The
// items' outcomes are in PostgreSQL, so the workflow keeps only where to go on from. A
// batch that keeps failing past its activity's retries is tried again a minute apart
// (launchRounds times); then failRest marks the rest failed and the job ends, so a job
// always finishes. It returns how many batches succeeded.
func batches(ctx workflow.Context, batch func(after int) (last int, done bool, pause time.Duration, err error), failRest func(error) error) (int, error) {
	after, rounds, n := 0, 0, 0
	for {
		last, done, pause, err := batch(after)
		if err != nil {
			rounds++
			if rounds <= launchRounds && !isBadInput(err) {
				if err := workflow.Sleep(ctx, time.Minute); err != nil {
					return n, err
				}
				continue
			}
			if err := failRest(err); err != nil {
				return n, fmt.Errorf("fail the rest: %w", err)
			}
			return n, nil
		}
		rounds, after = 0, last
		n++
		if done {
			return n, nil
		}
		if pause > 0 {
			if err := workflow.Sleep(ctx, pause); err != nil {
				return n, err
			}
		}
	}
}

// isBadInput reports whether err is an activity's refusal of its input, which no retry
// changes.
func isBadInput(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == "BadInput"
}
