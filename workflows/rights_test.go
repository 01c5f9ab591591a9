package workflows

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
)

// N-6: a rights notice waits out an email outage of hours instead of being dropped after
// minutes, and no notice goes out once the collaboration was cancelled (the activity,
// asked with UnlessCancelled, answers stopped, and Rights sends nothing more).
func TestRightsNoticesOutlastAnOutageAndStopWithACancel(t *testing.T) {
	start := time.Date(2027, 1, 4, 12, 0, 0, 0, time.UTC)
	rights := RightsState{UsageUntil: start.Add(30 * day), ExclusivityUntil: start.Add(10 * day)}
	tests := []struct {
		name string
		// failures is how many attempts of each notice the provider fails, each after
		// 25 s: with backoff, several minutes (the SDK's test environment stops at 10).
		failures int32
		// cancelledAt is when the collaboration is cancelled (zero: never).
		cancelledAt time.Duration
		want        []string
	}{
		{name: "an outage of nine attempts", failures: 9,
			want: []string{"rights/exclusivity-ending", "rights/exclusivity-ended", "rights/usage-ending", "rights/usage-ended"}},
		{name: "cancelled after the first notice", cancelledAt: 7 * day,
			want: []string{"rights/exclusivity-ending"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			env := newTestEnv(&suite)
			env.SetStartTime(start)
			env.RegisterWorkflowWithOptions(Rights, workflow.RegisterOptions{Name: RightsWorkflow})
			var sent []string
			stopped := 0
			env.OnActivity(a.NotifyOps, mock.Anything, mock.Anything).Return(
				func(ctx context.Context, in activities.OpsNoteInput) (activities.SendEmailResult, error) {
					if !in.UnlessCancelled {
						t.Errorf("notice %s does not ask about the collaboration", in.Key)
					}
					if tt.cancelledAt > 0 && env.Now().Sub(start) >= tt.cancelledAt {
						stopped++
						return activities.SendEmailResult{Status: activities.SendStopped, Reason: "the collaboration was cancelled"}, nil
					}
					if activity.GetInfo(ctx).Attempt <= tt.failures {
						return activities.SendEmailResult{}, errors.New("sendgrid unavailable")
					}
					sent = append(sent, in.Key)
					return activities.SendEmailResult{Status: activities.SendSent}, nil
				}).After(25 * time.Second)
			env.ExecuteWorkflow(RightsWorkflow, RightsInput{CollaborationID: "c-1", LiveAt: start, Rights: rights})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sent, tt.want) {
				t.Fatalf("sent %v, want %v", sent, tt.want)
			}
			if tt.cancelledAt > 0 && stopped != 1 {
				t.Fatalf("asked %d times after the cancel, want once and then nothing", stopped)
			}
		})
	}
}
