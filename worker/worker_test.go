package worker

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

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
// workflows otherwise wait behind the sticky queue) and an email worker that polls no
// workflow tasks at the default send rate.
func TestZeroOptions(t *testing.T) {
	main, email := Options{}.sdk()
	if main.WorkflowTaskPollerBehavior == nil || main.DisableWorkflowWorker {
		t.Errorf("main worker %+v, want autoscaling workflow pollers", main)
	}
	if !email.DisableWorkflowWorker || email.TaskQueueActivitiesPerSecond != 10 {
		t.Errorf("email worker %+v, want activities only at 10/s", email)
	}
}

// TestEmailQueueHasNoWorkflowPollers asks a real server who polls which queue once both
// workers run.
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
	}
}
