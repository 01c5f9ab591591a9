package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
)

// TestLaunchPacesBatchesToTheEmailRate: 250 creators in batches of 100 at 50 starts a
// second: each batch's starts are followed by a pause of starts ÷ rate, so the third
// batch begins four seconds in; the launch is finished once.
func TestLaunchPacesBatchesToTheEmailRate(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := newTestEnv(&suite)
	env.RegisterWorkflowWithOptions(Launch, workflow.RegisterOptions{Name: LaunchWorkflow})
	start := env.Now()
	var begun []time.Duration
	env.OnActivity(a.StartLaunchBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.LaunchBatchInput) (activities.LaunchBatchResult, error) {
			begun = append(begun, env.Now().Sub(start))
			switch in.AfterSeq {
			case 0:
				return activities.LaunchBatchResult{LastSeq: 100, Started: 100}, nil
			case 100:
				return activities.LaunchBatchResult{LastSeq: 200, Started: 90, Skipped: 10}, nil
			}
			return activities.LaunchBatchResult{LastSeq: 250, Started: 40, Failed: 10, Done: true}, nil
		})
	env.OnActivity(a.FinishLaunch, mock.Anything, "l-1").Return(nil).Once()

	env.ExecuteWorkflow(LaunchWorkflow, LaunchInput{LaunchID: "l-1", CampaignID: "c-1", RequestedBy: "ops", StartsPerSecond: 50})

	var res LaunchResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res != (LaunchResult{Started: 230, Skipped: 10, Failed: 10, Batches: 3}) {
		t.Fatalf("result %+v", res)
	}
	want := []time.Duration{0, 2 * time.Second, 3800 * time.Millisecond}
	if len(begun) != 3 || begun[1] != want[1] || begun[2] != want[2] {
		t.Fatalf("batches began at %v, want %v", begun, want)
	}
	env.AssertExpectations(t)
}

// TestLaunchThatKeepsFailingMarksTheRestFailed: a batch that fails after its retries is
// tried again a minute later, launchRounds times; then the rest of the launch is marked
// failed with the reason and the launch finishes rather than hanging.
func TestLaunchThatKeepsFailingMarksTheRestFailed(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := newTestEnv(&suite)
	env.RegisterWorkflowWithOptions(Launch, workflow.RegisterOptions{Name: LaunchWorkflow})
	calls := 0
	env.OnActivity(a.StartLaunchBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.LaunchBatchInput) (activities.LaunchBatchResult, error) {
			calls++
			if in.AfterSeq == 0 {
				return activities.LaunchBatchResult{LastSeq: 100, Started: 100}, nil
			}
			return activities.LaunchBatchResult{}, temporal.NewNonRetryableApplicationError("temporal unavailable", "Unavailable", errors.New("dial"))
		})
	env.OnActivity(a.FailLaunchRest, mock.Anything, "l-2", "not started: temporal unavailable").Return(nil).Once()
	env.OnActivity(a.FinishLaunch, mock.Anything, "l-2").Return(nil).Once()

	env.ExecuteWorkflow(LaunchWorkflow, LaunchInput{LaunchID: "l-2", CampaignID: "c-1", RequestedBy: "ops"})

	var res LaunchResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if calls != 2+launchRounds || res.Started != 100 {
		t.Fatalf("%d batch calls, result %+v", calls, res)
	}
	env.AssertExpectations(t)
}

// TestBulkAppliesBatchesAndFinishes: a bulk action goes through its batches without
// pausing and finishes once, counting each collaboration's answer.
func TestBulkAppliesBatchesAndFinishes(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := newTestEnv(&suite)
	env.RegisterWorkflowWithOptions(Bulk, workflow.RegisterOptions{Name: BulkWorkflow})
	env.OnActivity(a.ApplyBulkBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.BulkBatchInput) (activities.BulkBatchResult, error) {
			if in.AfterSeq == 0 {
				return activities.BulkBatchResult{LastSeq: 100, Applied: 98, Refused: 2}, nil
			}
			return activities.BulkBatchResult{LastSeq: 130, Applied: 30, Done: true}, nil
		})
	env.OnActivity(a.FinishBulkAction, mock.Anything, "b-1").Return(nil).Once()

	env.ExecuteWorkflow(BulkWorkflow, BulkInput{BulkID: "b-1", Action: activities.BulkPause, RequestedBy: "ops"})

	var res BulkResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res != (BulkResult{Applied: 128, Refused: 2, Batches: 2}) {
		t.Fatalf("result %+v", res)
	}
	env.AssertExpectations(t)
}
