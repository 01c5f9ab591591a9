package worker

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/devenv/temporalserver"
	"github.com/collabflow/collabflow/links"
	"github.com/collabflow/collabflow/mailer"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/verify"
	"github.com/collabflow/collabflow/workflows"
)

// TestRunRefusesMissingDependencies: a worker without a mailer or a payout provider would
// fail every send or payout at run time, and one that cannot ask a collaboration before a
// send would email after a reply; it refuses to start instead.
func TestRunRefusesMissingDependencies(t *testing.T) {
	err := Run(context.Background(), nil, &activities.Activities{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "mailer") {
		t.Fatalf("Run with no dependencies: %v", err)
	}
	signer, err := links.NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	sg, err := mailer.NewSendGrid("SG.test", "http://127.0.0.1:1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	acts := &activities.Activities{Store: &store.Store{}, Mailer: sg, Links: signer,
		Verifier: verify.NewFetcher(false, time.Second), Payouts: activities.ManualPayouts{}}
	err = Run(context.Background(), nil, acts, Options{})
	if err == nil || !strings.Contains(err.Error(), "collaborations") {
		t.Fatalf("Run without Collaborations: %v", err)
	}
}

// TestZeroOptions: the zero Options give the main worker autoscaling workflow pollers (new
// workflows otherwise wait behind the sticky queue), and email and notice workers that poll
// no workflow tasks at the default rates.
func TestZeroOptions(t *testing.T) {
	main, email, notice := Options{}.sdk()
	if main.WorkflowTaskPollerBehavior == nil || main.DisableWorkflowWorker {
		t.Errorf("main worker %+v, want autoscaling workflow pollers", main)
	}
	if !email.DisableWorkflowWorker || email.TaskQueueActivitiesPerSecond != 10 {
		t.Errorf("email worker %+v, want activities only at 10/s", email)
	}
	if !notice.DisableWorkflowWorker || notice.TaskQueueActivitiesPerSecond != 10 {
		t.Errorf("notice worker %+v, want activities only at 10/s", notice)
	}
}

// TestTuning: the concurrency and poller limits reach the SDK's options of every worker
// they concern, and zero takes the documented defaults (the SDK's own).
func TestTuning(t *testing.T) {
	autoscaling := func(max int) sdkworker.PollerBehavior {
		return sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{MaximumNumberOfPollers: max})
	}
	for _, tc := range []struct {
		name                                string
		opts                                Options
		wantActivities, wantTasks, wantPoll int
	}{
		{"defaults", Options{}, DefaultMaxConcurrentActivities, DefaultMaxConcurrentWorkflowTasks, DefaultMaxPollers},
		{"set", Options{MaxConcurrentActivities: 50, MaxConcurrentWorkflowTasks: 20, MaxPollers: 8}, 50, 20, 8},
		{"one poller", Options{MaxPollers: 1}, DefaultMaxConcurrentActivities, DefaultMaxConcurrentWorkflowTasks, 1},
	} {
		t.Run(tc.name+" stop timeout", func(t *testing.T) {
			opts := tc.opts
			opts.StopTimeout = 42 * time.Second
			main, email, notice := opts.sdk()
			for name, o := range map[string]sdkworker.Options{"main": main, "email": email, "notice": notice} {
				if o.WorkerStopTimeout != 42*time.Second {
					t.Errorf("%s: stop timeout %v, want 42s", name, o.WorkerStopTimeout)
				}
			}
		})
		t.Run(tc.name, func(t *testing.T) {
			main, email, notice := tc.opts.sdk()
			for name, o := range map[string]sdkworker.Options{"main": main, "email": email, "notice": notice} {
				if o.MaxConcurrentActivityExecutionSize != tc.wantActivities {
					t.Errorf("%s: %d concurrent activities, want %d", name, o.MaxConcurrentActivityExecutionSize, tc.wantActivities)
				}
			}
			if main.MaxConcurrentWorkflowTaskExecutionSize != tc.wantTasks {
				t.Errorf("main: %d concurrent workflow tasks, want %d", main.MaxConcurrentWorkflowTaskExecutionSize, tc.wantTasks)
			}
			for name, got := range map[string]sdkworker.PollerBehavior{
				"main workflow": main.WorkflowTaskPollerBehavior, "email activity": email.ActivityTaskPollerBehavior,
				"notice activity": notice.ActivityTaskPollerBehavior,
			} {
				if !reflect.DeepEqual(got, autoscaling(tc.wantPoll)) {
					t.Errorf("%s pollers %+v, want autoscaling up to %d", name, got, tc.wantPoll)
				}
			}
		})
	}
}

// TestRatesAreSeparate: the notice rate limits the notice queue alone, so a low outreach
// rate for a launch leaves notices at theirs.
func TestRatesAreSeparate(t *testing.T) {
	for _, tc := range []struct {
		name                string
		opts                Options
		wantEmail, wantNote float64
	}{
		{"defaults", Options{}, 10, 10},
		{"slow outreach", Options{EmailsPerSecond: 0.5}, 0.5, 10},
		{"fast notices", Options{EmailsPerSecond: 2, NoticesPerSecond: 25}, 2, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, email, notice := tc.opts.sdk()
			if email.TaskQueueActivitiesPerSecond != tc.wantEmail || notice.TaskQueueActivitiesPerSecond != tc.wantNote {
				t.Errorf("email %v/s, notice %v/s; want %v/s, %v/s", email.TaskQueueActivitiesPerSecond,
					notice.TaskQueueActivitiesPerSecond, tc.wantEmail, tc.wantNote)
			}
		})
	}
}

// TestEmailQueueHasNoWorkflowPollers asks a real server who polls which queue once the
// workers run: the email and the notice queue have activity pollers and no workflow ones.
func TestEmailQueueHasNoWorkflowPollers(t *testing.T) {
	ctx := context.Background()
	ts, err := temporalserver.Start(ctx, temporalserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.Stop() })
	tc, err := client.Dial(client.Options{HostPort: ts.Address(), Namespace: ts.Namespace(),
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	w := New(tc, &activities.Activities{}, Options{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	pollers := func(queue string, kind enumspb.TaskQueueType) int {
		resp, err := tc.DescribeTaskQueue(ctx, queue, kind)
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetPollers())
	}
	// The SDK starts a worker's workflow pollers before its activity pollers, so once the
	// email queue's activity pollers show, a workflow poller would show within
	// milliseconds; none may show for a whole second.
	deadline := time.Now().Add(30 * time.Second)
	for pollers(workflows.EmailTaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY) == 0 ||
		pollers(workflows.NoticeTaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY) == 0 ||
		pollers(workflows.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the workers' pollers never showed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for watch := time.Now().Add(time.Second); time.Now().Before(watch); time.Sleep(20 * time.Millisecond) {
		if n := pollers(workflows.EmailTaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW); n != 0 {
			t.Fatalf("%d workflow pollers on the email queue", n)
		}
		if n := pollers(workflows.NoticeTaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW); n != 0 {
			t.Fatalf("%d workflow pollers on the notice queue", n)
		}
	}
}
