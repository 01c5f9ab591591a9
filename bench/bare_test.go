package bench

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
)

// TestBareLifecycleDoesItsProfile: the bare workflow schedules exactly the profile's
// activities, local activities and timers, and answers each update.
func TestBareLifecycleDoesItsProfile(t *testing.T) {
	p := BareProfile{Activities: 10, LocalActivities: 3, Updates: 4, Timers: []time.Duration{2 * time.Second, time.Second}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(BareLifecycle)
	env.RegisterActivity(BareActivity)
	acts, locals := 0, 0
	env.SetOnActivityStartedListener(func(*activity.Info, context.Context, converter.EncodedValues) { acts++ })
	env.SetOnLocalActivityStartedListener(func(*activity.Info, context.Context, []any) { locals++ })
	answered := 0
	for n := 1; n <= p.Updates; n++ {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(bareUpdate, "", &testsuite.TestUpdateCallback{
				OnReject: func(err error) { t.Errorf("update %d rejected: %v", n, err) },
				OnAccept: func() {},
				OnComplete: func(v any, err error) {
					if err != nil || v.(int) != n {
						t.Errorf("update %d answered %v, %v", n, v, err)
					}
					answered++
				},
			}, n)
		}, time.Duration(n)*time.Millisecond)
	}
	env.ExecuteWorkflow(BareLifecycle, p)
	if err := env.GetWorkflowError(); err != nil || !env.IsWorkflowCompleted() {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), err)
	}
	if acts != p.Activities || locals != p.LocalActivities || answered != p.Updates {
		t.Fatalf("%d activities, %d local activities, %d updates answered; want %d, %d, %d", acts, locals, answered, p.Activities, p.LocalActivities, p.Updates)
	}
}
