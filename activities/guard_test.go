package activities_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/devenv/temporalserver"
	"github.com/collabflow/collabflow/store"
)

// fakeCollaborations answers MaySend with a fixed verdict or error and records each check.
type fakeCollaborations struct {
	mu      sync.Mutex
	verdict activities.SendVerdict
	err     error
	asked   []activities.SendCheck
}

func (f *fakeCollaborations) MaySend(_ context.Context, _ string, check activities.SendCheck) (activities.SendVerdict, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, check)
	return f.verdict, f.err
}

func (f *fakeCollaborations) checks() []activities.SendCheck {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]activities.SendCheck(nil), f.asked...)
}

// TestStoppedOutreachNeverReachesSendGrid: a collaboration that no longer wants its email
// (a reply or cancel was accepted while the send waited) stops it right before the send;
// the log says stopped with the reason, and a retry does not ask again or send.
func TestStoppedOutreachNeverReachesSendGrid(t *testing.T) {
	o := newOutreachEnv(t)
	collabs := &fakeCollaborations{verdict: activities.SendVerdict{Allowed: false, Reason: "the creator replied"}}
	o.acts.Collaborations = collabs
	for range 2 { // the second is a retry of the same step
		res, err := o.send(t)
		if err != nil || res.Status != activities.SendStopped || res.Reason == "" {
			t.Fatalf("send: %+v %v, want stopped with a reason", res, err)
		}
	}
	if n := len(o.sink.Messages()); n != 0 {
		t.Fatalf("SendGrid got %d emails from a stopped collaboration", n)
	}
	if got := collabs.checks(); len(got) != 1 || got[0] != (activities.SendCheck{Kind: "outreach", Step: 0}) {
		t.Fatalf("checks %+v, want one for outreach step 0", got)
	}
	emails, err := o.st.Emails(context.Background(), o.in.CollaborationID)
	if err != nil || len(emails) != 1 {
		t.Fatalf("log %+v %v", emails, err)
	}
	e := emails[0]
	if e.Status != store.EmailStopped || e.SentAt != nil || len(e.Events) != 1 || e.Events[0].Event != "stopped" ||
		e.Events[0].Detail != "the creator replied" {
		t.Fatalf("logged %+v, want stopped with the reason", e)
	}
}

// TestStoppedNoticeNeverReachesSendGrid: transactional notices (a contract after a cancel)
// ask too; ops escalations do not, since ops must hear of them in every state.
func TestStoppedNoticeNeverReachesSendGrid(t *testing.T) {
	o := newOutreachEnv(t)
	collabs := &fakeCollaborations{verdict: activities.SendVerdict{Allowed: false, Reason: "cancelled by ops"}}
	o.acts.Collaborations = collabs
	o.acts.OpsEmail = "ops@acme.test"
	notice := activities.NoticeInput{CollaborationID: o.in.CollaborationID, CampaignID: o.in.CampaignID, CreatorID: o.in.CreatorID,
		Kind: activities.NoticeDraftReminder, Seq: 1, Deadline: time.Now().Add(48 * time.Hour)}
	v, err := o.env.ExecuteActivity(o.acts.SendNotice, notice)
	if err != nil {
		t.Fatal(err)
	}
	var res activities.SendEmailResult
	if err := v.Get(&res); err != nil || res.Status != activities.SendStopped {
		t.Fatalf("notice: %+v %v", res, err)
	}
	if got := collabs.checks(); len(got) != 1 || got[0].Kind != activities.NoticeDraftReminder {
		t.Fatalf("checks %+v", got)
	}
	if n := len(o.sink.Messages()); n != 0 {
		t.Fatalf("SendGrid got %d", n)
	}

	v, err = o.env.ExecuteActivity(o.acts.NotifyOps, activities.OpsNoteInput{CollaborationID: o.in.CollaborationID, Key: "escalation/1",
		Subject: "Needs attention", Text: "payout refused"})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Get(&res); err != nil || res.Status != activities.SendSent {
		t.Fatalf("ops note: %+v %v", res, err)
	}
	if got := collabs.checks(); len(got) != 1 {
		t.Fatalf("the ops note asked the collaboration: %+v", got)
	}
}

// TestExpiredContractEmailNeverReachesSendGrid: a contract or its reminder whose contract
// expired (its Deadline) is stopped right before the send without asking; one still due
// asks the collaboration as any notice.
func TestExpiredContractEmailNeverReachesSendGrid(t *testing.T) {
	o := newOutreachEnv(t)
	collabs := &fakeCollaborations{verdict: activities.SendVerdict{Allowed: true}}
	o.acts.Collaborations = collabs
	for i, kind := range []string{activities.NoticeContractReminder, activities.NoticeContract} {
		notice := activities.NoticeInput{CollaborationID: o.in.CollaborationID, CampaignID: o.in.CampaignID, CreatorID: o.in.CreatorID,
			Kind: kind, Seq: i + 1, ContractID: "k-1", Deadline: time.Now().Add(-time.Minute)}
		v, err := o.env.ExecuteActivity(o.acts.SendNotice, notice)
		if err != nil {
			t.Fatal(err)
		}
		var res activities.SendEmailResult
		if err := v.Get(&res); err != nil || res.Status != activities.SendStopped || !strings.Contains(res.Reason, "deadline passed") {
			t.Fatalf("%s after the expiry: %+v %v, want stopped", kind, res, err)
		}
	}
	if n := len(o.sink.Messages()); n != 0 || len(collabs.checks()) != 0 {
		t.Fatalf("SendGrid got %d, the collaboration was asked %d times", n, len(collabs.checks()))
	}
	notice := activities.NoticeInput{CollaborationID: o.in.CollaborationID, CampaignID: o.in.CampaignID, CreatorID: o.in.CreatorID,
		Kind: activities.NoticeContractReminder, Seq: 3, ContractID: "k-1", Deadline: time.Now().Add(time.Hour)}
	if _, err := o.env.ExecuteActivity(o.acts.SendNotice, notice); err != nil {
		t.Fatal(err)
	}
	if got := collabs.checks(); len(got) != 1 || got[0].Kind != activities.NoticeContractReminder {
		t.Fatalf("a reminder still due: checks %+v", got)
	}
}

// TestSendWaitsForAnAnswer: without an answer from the collaboration nothing is sent; the
// attempt fails retryably and the next one, answered, sends.
func TestSendWaitsForAnAnswer(t *testing.T) {
	o := newOutreachEnv(t)
	collabs := &fakeCollaborations{err: errors.New("temporal unavailable")}
	o.acts.Collaborations = collabs
	_, err := o.send(t)
	var appErr *temporal.ApplicationError
	if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
		t.Fatalf("no answer: %v, want a retryable error", err)
	}
	if n := len(o.sink.Messages()); n != 0 {
		t.Fatalf("sent %d without an answer", n)
	}
	collabs.mu.Lock()
	collabs.err, collabs.verdict = nil, activities.SendVerdict{Allowed: true}
	collabs.mu.Unlock()
	if res, err := o.send(t); err != nil || res.Status != activities.SendSent {
		t.Fatalf("answered: %+v %v", res, err)
	}
	if n := len(o.sink.Messages()); n != 1 {
		t.Fatalf("sink got %d", n)
	}
}

// probe stands in for the collaboration workflow: it answers QueryMaySend as the real one
// would after a reply (only the first outreach step may go) and runs until cancelled.
func probe(ctx workflow.Context) error {
	err := workflow.SetQueryHandler(ctx, activities.QueryMaySend, func(c activities.SendCheck) (activities.SendVerdict, error) {
		if c.Kind == "outreach" && c.Step == 0 {
			return activities.SendVerdict{Allowed: true}, nil
		}
		return activities.SendVerdict{Reason: "the creator replied"}, nil
	})
	if err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return false })
}

// TestTemporalCollaborationsAsksTheWorkflow runs the guard against a real Temporal server:
// the workflow's query decides, and a collaboration Temporal does not know gets nothing.
func TestTemporalCollaborationsAsksTheWorkflow(t *testing.T) {
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
	w := sdkworker.New(tc, "guard-test", sdkworker.Options{})
	w.RegisterWorkflow(probe)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	o := newOutreachEnv(t)
	o.acts.Collaborations = activities.TemporalCollaborations{Client: tc}
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: o.in.CollaborationID, TaskQueue: "guard-test"}, probe)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tc.TerminateWorkflow(context.Background(), run.GetID(), "", "test over") })

	if res, err := o.send(t); err != nil || res.Status != activities.SendSent {
		t.Fatalf("step 1: %+v %v", res, err)
	}
	o.in.Step = 1
	if res, err := o.send(t); err != nil || res.Status != activities.SendStopped || res.Reason != "the creator replied" {
		t.Fatalf("step 2: %+v %v, want stopped by the workflow", res, err)
	}
	if n := len(o.sink.Messages()); n != 1 {
		t.Fatalf("sink got %d, want only step 1", n)
	}

	verdict, err := activities.TemporalCollaborations{Client: tc}.MaySend(ctx, "collab-nobody-started", activities.SendCheck{Kind: "outreach"})
	if err != nil || verdict.Allowed || !strings.Contains(verdict.Reason, "not found") {
		t.Fatalf("unknown collaboration: %+v %v", verdict, err)
	}
}

// TestPausedOutreachWaitsInsteadOfStopping: while ops pause the sequence, the send fails
// for a retry (the workflow cancels it) and leaves the log open; after the resume the same
// step goes out once.
func TestPausedOutreachWaitsInsteadOfStopping(t *testing.T) {
	o := newOutreachEnv(t)
	collabs := &fakeCollaborations{verdict: activities.SendVerdict{Paused: true, Reason: "outreach paused"}}
	o.acts.Collaborations = collabs
	_, err := o.send(t)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "Paused" || appErr.NonRetryable() {
		t.Fatalf("paused send: %v, want a retryable Paused error", err)
	}
	emails, err := o.st.Emails(context.Background(), o.in.CollaborationID)
	if err != nil || len(emails) != 1 || emails[0].Status != store.EmailSending {
		t.Fatalf("log while paused %+v %v, want the email still to send", emails, err)
	}
	collabs.mu.Lock()
	collabs.verdict = activities.SendVerdict{Allowed: true}
	collabs.mu.Unlock()
	if res, err := o.send(t); err != nil || res.Status != activities.SendSent {
		t.Fatalf("send after resume: %+v %v", res, err)
	}
	if n := len(o.sink.Messages()); n != 1 {
		t.Fatalf("SendGrid got %d emails, want 1", n)
	}
}
