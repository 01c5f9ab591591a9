package workflows_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/audit"
	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/devenv/temporalserver"
	"github.com/collabflow/collabflow/outreach"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/verify"
	"github.com/collabflow/collabflow/workflows"
)

// These tests run the collaboration workflow on a real (embedded, in-memory) Temporal
// server with fake activities: what the SDK's test suite cannot show — history length,
// signals and timers in one workflow task, recorded histories for the replay corpus.
// COLLABFLOW_RECORD_HISTORIES=1 writes each scenario's history to testdata/histories.

var (
	serverOnce sync.Once
	serverErr  error
	tclient    client.Client
)

// temporalClient starts one server for the package's server tests.
func temporalClient(t *testing.T) client.Client {
	t.Helper()
	serverOnce.Do(func() {
		ts, err := temporalserver.Start(context.Background(), temporalserver.Options{SearchAttributes: workflows.SearchAttributeTypes()})
		if err != nil {
			serverErr = err
			return
		}
		tclient, serverErr = client.Dial(client.Options{HostPort: ts.Address(), Namespace: ts.Namespace(),
			Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	})
	if serverErr != nil {
		t.Fatal(serverErr)
	}
	return tclient
}

// fakeActivities stand in for package activities: every side effect succeeds at once,
// except what a test asks to fail.
type fakeActivities struct {
	mu    sync.Mutex
	sends map[string]int // emails sent per collaboration
	// failPayout and failVerify name collaborations whose payouts are refused and whose
	// posts fail their checks.
	failPayout map[string]bool
	failVerify map[string]bool
	// noticeQueues holds the task queue each notice ran on, by collaboration and kind.
	noticeQueues map[string]string
}

func newFakes() *fakeActivities {
	return &fakeActivities{sends: map[string]int{}, failPayout: map[string]bool{}, failVerify: map[string]bool{}, noticeQueues: map[string]string{}}
}

func (f *fakeActivities) set(m map[string]bool, id string, v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m[id] = v
}

func (f *fakeActivities) is(m map[string]bool, id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m[id]
}

func (f *fakeActivities) RecordStage(context.Context, activities.StageChange) error { return nil }

func (f *fakeActivities) NextSendTime(_ context.Context, in activities.NextSendTimeInput) (time.Time, error) {
	return in.After, nil
}

func (f *fakeActivities) SendOutreachEmail(_ context.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends[in.CollaborationID]++
	return activities.SendEmailResult{Status: activities.SendSent, MessageKey: in.MessageKey()}, nil
}

func (f *fakeActivities) emailsSent(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sends[id]
}

func (f *fakeActivities) SendNotice(ctx context.Context, in activities.NoticeInput) (activities.SendEmailResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noticeQueues[in.CollaborationID+"/"+in.Kind] = activity.GetInfo(ctx).TaskQueue
	return activities.SendEmailResult{Status: activities.SendSent, MessageKey: in.MessageKey()}, nil
}

func (f *fakeActivities) NotifyOps(context.Context, activities.OpsNoteInput) (activities.SendEmailResult, error) {
	return activities.SendEmailResult{Status: activities.SendSent}, nil
}

// noticeQueue is the task queue collaboration id's notice of kind ran on, "" before it ran.
func (f *fakeActivities) noticeQueue(id, kind string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.noticeQueues[id+"/"+kind]
}

func (f *fakeActivities) PrepareContract(_ context.Context, in activities.PrepareContractInput) (activities.PreparedContract, error) {
	return activities.PreparedContract{ContractID: fmt.Sprintf("%s/v%d", in.CollaborationID, in.Version), SHA256: "hash"}, nil
}

func (f *fakeActivities) RecordSignature(context.Context, activities.RecordSignatureInput) error {
	return nil
}

func (f *fakeActivities) AssignAttribution(context.Context, activities.AttributionInput) (store.Attribution, error) {
	return store.Attribution{Code: "ADA-TEST", TrackingURL: "https://acme.test/?utm_content=ADA-TEST"}, nil
}

func (f *fakeActivities) VerifyPost(_ context.Context, in activities.VerifyPostInput) (verify.Report, error) {
	// The post URL ends with the collaboration's ID.
	if f.is(f.failVerify, filepath.Base(in.URL)) {
		return verify.Report{URL: in.URL, Status: 404, Checks: []verify.Check{{Name: verify.CheckLive, Evidence: "HTTP 404"}}}, nil
	}
	return verify.Report{URL: in.URL, Status: 200, Passed: true, Checks: []verify.Check{{Name: verify.CheckLive, Passed: true, Evidence: "HTTP 200"}}}, nil
}

func (f *fakeActivities) CreatePayout(_ context.Context, in activities.PayoutInput) (store.Payout, error) {
	if f.is(f.failPayout, in.CollaborationID) {
		return store.Payout{}, temporal.NewNonRetryableApplicationError("the provider refused the payout: account closed", "PayoutRefused", nil)
	}
	return store.Payout{ID: in.CollaborationID + "/" + in.Kind, Kind: in.Kind, Currency: in.Terms.Currency, Amount: in.Terms.FixedFee, Status: store.PayoutPending}, nil
}

func (f *fakeActivities) StopEmail(context.Context, activities.StopEmailInput) (activities.StopEmailResult, error) {
	return activities.StopEmailResult{}, nil
}

func (f *fakeActivities) RecordPayment(_ context.Context, in activities.PaymentInput) (store.Payout, error) {
	id := in.PayoutID
	if id == "" {
		id = in.CollaborationID + "/" + in.Kind
	}
	return store.Payout{ID: id, Kind: in.Kind, Status: store.PayoutPaid, Reference: in.Reference}, nil
}

// startWorkers runs the workflow and the fakes on both task queues until the test ends
// or stop is called.
func startWorkers(t *testing.T, c client.Client, f *fakeActivities) (stop func()) {
	t.Helper()
	main := worker.New(c, workflows.TaskQueue, worker.Options{})
	workflows.Register(main)
	main.RegisterActivity(f)
	email := worker.New(c, workflows.EmailTaskQueue, worker.Options{DisableWorkflowWorker: true})
	email.RegisterActivity(f)
	notice := worker.New(c, workflows.NoticeTaskQueue, worker.Options{DisableWorkflowWorker: true})
	notice.RegisterActivity(f)
	for _, w := range []worker.Worker{main, email, notice} {
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Once
	stop = func() { once.Do(func() { notice.Stop(); email.Stop(); main.Stop() }) }
	t.Cleanup(stop)
	return stop
}

// seconds are the day-scale default timings with a second for each day, and the live
// check cadence scaled the same way.
func seconds() campaigns.Timings {
	t := campaigns.DefaultTimings()
	scale := func(d campaigns.Duration) campaigns.Duration { return campaigns.Duration(d.Std() / (24 * 3600)) }
	for i := range t.FollowUpDelays {
		t.FollowUpDelays[i] = scale(t.FollowUpDelays[i])
	}
	for _, d := range []*campaigns.Duration{&t.ReplyWait, &t.ContractExpiry, &t.DraftDeadline, &t.ReviewSLA,
		&t.PostDeadline, &t.VerificationInterval, &t.LiveWindow, &t.LiveCheckEvery} {
		*d = scale(*d)
	}
	for i := range t.LiveChecks {
		t.LiveChecks[i] = scale(t.LiveChecks[i])
	}
	return t
}

var opsActor = workflows.Actor{Name: "ops-1", Role: "ops", RequestID: "req"}

func dealTerms() contract.Terms {
	return contract.Terms{
		Deliverables: []contract.Deliverable{{Platform: "instagram", Format: "reel", Count: 1}},
		Currency:     "USD", FixedFee: 100000, KillFee: 25000, UsageRightsDays: 30, DisclosureText: "#ad", RevisionRounds: 2,
	}
}

// scenario is one collaboration driven on the real server.
type scenario struct {
	t  *testing.T
	c  client.Client
	f  *fakeActivities
	id string
}

func newScenario(t *testing.T, f *fakeActivities, name string, in workflows.CollaborationInput) *scenario {
	t.Helper()
	c := temporalClient(t)
	id := fmt.Sprintf("collab-test-%s-%d", name, time.Now().UnixNano())
	in.CampaignID, in.CreatorID, in.StartedBy = "camp", "crea", opsActor
	_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflows.CollaborationWorkflow, in)
	if err != nil {
		t.Fatal(err)
	}
	return &scenario{t: t, c: c, f: f, id: id}
}

func (s *scenario) state() workflows.CollaborationState {
	s.t.Helper()
	st, err := s.tryState()
	if err != nil {
		s.t.Fatalf("query %s: %v", s.id, err)
	}
	return st
}

// tryState queries the state. A query can time out while a restarted worker picks the
// workflow up again (its sticky queue is gone), so waits retry it.
func (s *scenario) tryState() (workflows.CollaborationState, error) {
	var st workflows.CollaborationState
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := s.c.QueryWorkflow(ctx, s.id, "", workflows.QueryState)
	if err == nil {
		err = resp.Get(&st)
	}
	return st, err
}

// until polls the state until cond holds, for up to a minute.
func (s *scenario) until(what string, cond func(workflows.CollaborationState) bool) workflows.CollaborationState {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := s.tryState()
		if err == nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: waited two minutes for %s; stage %s, attention %+v, last query error %v", s.id, what, st.Stage, st.Attention, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *scenario) inStage(stage workflows.Stage) workflows.CollaborationState {
	s.t.Helper()
	return s.until("stage "+string(stage), func(st workflows.CollaborationState) bool { return st.Stage == stage })
}

func (s *scenario) update(name string, arg any) workflows.CollaborationState {
	s.t.Helper()
	h, err := s.c.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: s.id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var st workflows.CollaborationState
	if err == nil {
		err = h.Get(context.Background(), &st)
	}
	if err != nil {
		s.t.Fatalf("update %s: %v", name, err)
	}
	return st
}

func (s *scenario) signal(ev workflows.OutreachEvent) {
	s.t.Helper()
	if err := s.c.SignalWorkflow(context.Background(), s.id, "", workflows.SignalOutreachEvent, ev); err != nil {
		s.t.Fatal(err)
	}
}

// result waits for the run chain to end and returns the final state.
func (s *scenario) result() workflows.CollaborationState {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var st workflows.CollaborationState
	if err := s.c.GetWorkflow(ctx, s.id, "").Get(ctx, &st); err != nil {
		s.t.Fatalf("%s: %v", s.id, err)
	}
	return st
}

// events counts the history events of every run, and records the history for the
// corpus when asked to.
func (s *scenario) events(file string) (int, int) {
	s.t.Helper()
	runs, err := audit.Fetch(context.Background(), s.c, s.id)
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, h := range audit.Histories(runs) {
		n += len(h.GetEvents())
	}
	if os.Getenv("COLLABFLOW_RECORD_HISTORIES") != "" {
		data, err := audit.MarshalExport(s.id, runs)
		if err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "histories", file), data, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	return n, len(runs)
}

// toRefusedFee drives the scenario to payout with its fee refused by the provider: the
// collaboration waits for ops.
func (s *scenario) toRefusedFee(f *fakeActivities) {
	s.t.Helper()
	f.set(f.failPayout, s.id, true)
	s.toProduction()
	s.toAwaitingPost()
	s.post()
	s.until("the payout escalation", func(st workflows.CollaborationState) bool { return st.Attention != nil })
}

func (s *scenario) sign() {
	s.t.Helper()
	k := s.until("a contract", func(st workflows.CollaborationState) bool {
		return st.Contract != nil && st.Stage == workflows.StageContracting
	}).Contract
	s.update(workflows.UpdateSign, workflows.SignRequest{ContractID: k.ContractID, SHA256: k.SHA256, SignatureID: "0190a000-0000-7000-8000-000000000001", At: time.Now().UTC(), RequestID: "r"})
}

func (s *scenario) draft(n int) {
	s.t.Helper()
	s.inStage(workflows.StageInProduction)
	s.update(workflows.UpdateSubmitDraft, workflows.DraftRequest{Actor: &opsActor, Assets: []string{"https://cdn.test/v.mp4"}, Caption: fmt.Sprintf("Draft %d #ad", n)})
}

func (s *scenario) post() {
	s.t.Helper()
	s.inStage(workflows.StageAwaitingPost)
	s.update(workflows.UpdateSubmitPost, workflows.PostRequest{Actor: &opsActor, URL: "https://instagram.com/p/" + s.id})
}

// toProduction replies, accepts the opening offer and signs.
func (s *scenario) toProduction() {
	s.t.Helper()
	s.update(workflows.UpdateRecordReply, workflows.ReplyRequest{Actor: opsActor})
	s.update(workflows.UpdateAccept, workflows.AcceptRequest{Actor: opsActor})
	s.sign()
	s.inStage(workflows.StageInProduction)
}

// toAwaitingPost goes on from production with a draft approved at once.
func (s *scenario) toAwaitingPost() {
	s.t.Helper()
	s.draft(1)
	s.inStage(workflows.StageInReview)
	s.update(workflows.UpdateReview, workflows.ReviewRequest{Actor: reviewerActor, Draft: 1, Decision: workflows.DecisionApprove})
}

func (s *scenario) cancel() workflows.CollaborationState {
	s.t.Helper()
	return s.update(workflows.UpdateCancel, workflows.CancelRequest{Actor: opsActor, Reason: "brand pulled out"})
}

var reviewerActor = workflows.Actor{Name: "rev", Role: "reviewer", RequestID: "r"}

// TestDefaultHappyPathHistory drives the default happy path (three emails, a reply after
// the second, a counter-offer, signed in time, one revision round, one post, a 30-day
// live window checked on the default cadence, a manual payout) with day-scale timings
// turned into seconds, and counts its history events: at most 300.
func TestDefaultHappyPathHistory(t *testing.T) {
	c := temporalClient(t)
	f := newFakes()
	startWorkers(t, c, f)
	in := workflows.CollaborationInput{Timings: seconds(), Opening: dealTerms(),
		Outreach: workflows.OutreachPlan{Steps: 3, Window: outreach.Always(), Timezone: "UTC"}}
	s := newScenario(t, f, "happy", in)

	s.until("two emails", func(workflows.CollaborationState) bool { return f.emailsSent(s.id) >= 2 })
	s.signal(workflows.OutreachEvent{Kind: workflows.OutreachReply, At: time.Now().UTC(), Detail: "interested"})
	s.inStage(workflows.StageNegotiating)
	counter := dealTerms()
	counter.FixedFee = 120000
	s.update(workflows.UpdateOffer, workflows.OfferRequest{Actor: opsActor, From: workflows.FromCreator, Terms: counter})
	s.update(workflows.UpdateAccept, workflows.AcceptRequest{Actor: opsActor})
	s.sign()
	s.draft(1)
	s.inStage(workflows.StageInReview)
	s.update(workflows.UpdateReview, workflows.ReviewRequest{Actor: reviewerActor, Draft: 1, Decision: workflows.DecisionChanges, Comments: "shorter"})
	s.draft(2)
	s.inStage(workflows.StageInReview)
	s.update(workflows.UpdateReview, workflows.ReviewRequest{Actor: reviewerActor, Draft: 2, Decision: workflows.DecisionApprove})
	s.inStage(workflows.StageAwaitingPost)
	s.post()
	st := s.until("the fee payout", func(st workflows.CollaborationState) bool { return len(st.Payouts) > 0 })
	s.update(workflows.UpdateConfirmPayout, workflows.PayoutConfirmation{Actor: opsActor, PayoutID: st.Payouts[0].ID, Reference: "BANK-1"})
	final := s.result()
	if final.Stage != workflows.StageCompleted {
		t.Fatalf("ended %s", final.Stage)
	}
	n, runs := s.events("completed-default-cadence.json")
	t.Logf("default happy path: %d history events in %d run(s)", n, runs)
	if n > 300 {
		t.Errorf("default happy path took %d history events, want at most 300", n)
	}
}

// TestReplyDeliveredWithTheTimerWins is M-2 on a real server: the worker is down while the
// reply-wait timer runs; the reply is signalled before the timer fires; both reach the new
// worker in one workflow task, and the reply wins.
func TestReplyDeliveredWithTheTimerWins(t *testing.T) {
	c := temporalClient(t)
	f := newFakes()
	stop := startWorkers(t, c, f)
	tm := seconds()
	tm.ReplyWait = campaigns.Duration(3 * time.Second)
	s := newScenario(t, f, "sametask", workflows.CollaborationInput{Timings: tm, Opening: dealTerms(),
		Outreach: workflows.OutreachPlan{Steps: 1, Window: outreach.Always(), Timezone: "UTC"}})
	s.until("the email", func(st workflows.CollaborationState) bool { return st.Outreach.EmailsSent == 1 })
	stop()
	s.signal(workflows.OutreachEvent{Kind: workflows.OutreachReply, At: time.Now().UTC(), Detail: "yes"})
	waitForEvent(t, c, s.id, enumspb.EVENT_TYPE_TIMER_FIRED)
	startWorkers(t, c, f)
	st := s.until("outreach to end", func(st workflows.CollaborationState) bool { return st.Stage != workflows.StageOutreach })
	if st.Stage != workflows.StageNegotiating {
		t.Fatalf("the timer beat a reply that came first: %s (%s)", st.Stage, st.EndReason)
	}
	s.update(workflows.UpdateCancel, workflows.CancelRequest{Actor: opsActor, Reason: "test over"})
}

// waitForEvent polls a workflow's history until an event of type typ is in it.
func waitForEvent(t *testing.T, c client.Client, id string, typ enumspb.EventType) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if ev.GetEventType() == typ {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: no %s within a minute", id, typ)
}

// quick are timings of a second or two, for scenarios that pass every deadline.
func quick() campaigns.Timings {
	sec := func(n float64) campaigns.Duration { return campaigns.Duration(time.Duration(n * float64(time.Second))) }
	return campaigns.Timings{
		FollowUpDelays: []campaigns.Duration{sec(30)}, ReplyWait: sec(60), ContractExpiry: sec(30), DraftDeadline: sec(2),
		ReviewSLA: sec(1), PostDeadline: sec(30), VerificationInterval: sec(1), LiveWindow: sec(4),
		LiveChecks: []campaigns.Duration{sec(1)}, LiveCheckEvery: sec(1),
	}
}

// TestRecordedPaths drives the paths the replay corpus must hold, each on the real server,
// and checks where each ends. With COLLABFLOW_RECORD_HISTORIES=1 their histories join the
// corpus.
func TestRecordedPaths(t *testing.T) {
	c := temporalClient(t)
	f := newFakes()
	startWorkers(t, c, f)
	input := func(can int) workflows.CollaborationInput {
		return workflows.CollaborationInput{Timings: quick(), Opening: dealTerms(), ContinueAsNewAfter: can,
			Outreach: workflows.OutreachPlan{Steps: 2, Window: outreach.Always(), Timezone: "UTC"}}
	}
	for _, tc := range []struct {
		file string
		can  int
		// expiry, when set, is the contract's lifetime; scenarios that sign have 30 s.
		expiry time.Duration
		want   workflows.Stage
		run    func(s *scenario)
	}{
		{"live-continued-as-new.json", 1, 0, workflows.StageCompleted, func(s *scenario) {
			s.toProduction()
			s.toAwaitingPost()
			s.post()
			st := s.until("the fee payout", func(st workflows.CollaborationState) bool { return len(st.Payouts) > 0 })
			if st.Run < 2 {
				t.Errorf("live did not continue as new: run %d", st.Run)
			}
			s.update(workflows.UpdateConfirmPayout, workflows.PayoutConfirmation{Actor: opsActor, PayoutID: st.Payouts[0].ID, Reference: "R"})
		}},
		{"verifying-continued-as-new.json", 1, 0, workflows.StageCancelled, func(s *scenario) {
			f.set(f.failVerify, s.id, true)
			s.toProduction()
			s.toAwaitingPost()
			s.post()
			s.until("a second run in verifying", func(st workflows.CollaborationState) bool {
				return st.Stage == workflows.StageVerifying && st.Run >= 2
			})
			f.set(f.failVerify, s.id, false)
			s.update(workflows.UpdateOverride, workflows.OverrideRequest{Actor: opsActor, Post: 1, Reason: "checked by hand"})
			s.inStage(workflows.StageLive)
			s.cancel()
		}},
		{"contract-expired.json", 0, 2 * time.Second, workflows.StageDeclined, func(s *scenario) {
			s.update(workflows.UpdateRecordReply, workflows.ReplyRequest{Actor: opsActor})
			s.update(workflows.UpdateAccept, workflows.AcceptRequest{Actor: opsActor})
			s.inStage(workflows.StageContracting)
			s.inStage(workflows.StageNegotiating)
			s.update(workflows.UpdateDecline, workflows.DeclineRequest{Actor: opsActor, Reason: "no answer"})
		}},
		{"draft-overdue-review-sla-kill-fee.json", 0, 0, workflows.StageCancelled, func(s *scenario) {
			s.toProduction()
			s.until("the draft escalation", func(st workflows.CollaborationState) bool { return st.Escalation != "" || st.Attention != nil })
			s.draft(1)
			s.inStage(workflows.StageInReview)
			s.until("the review SLA", func(st workflows.CollaborationState) bool { return hasEvent(st, workflows.EventReviewOverdue) })
			s.update(workflows.UpdateReview, workflows.ReviewRequest{Actor: reviewerActor, Draft: 1, Decision: workflows.DecisionApprove})
			s.inStage(workflows.StageAwaitingPost)
			if final := s.cancel(); len(final.Payouts) != 1 || final.Payouts[0].Kind != activities.PayoutKillFee {
				t.Errorf("cancel after signing paid %+v, want the kill fee", final.Payouts)
			}
		}},
		{"draft-and-review-overdue-extended.json", 0, 0, workflows.StageCancelled, func(s *scenario) {
			// From overdue-attention-1: each passed deadline waits for ops, who extend it.
			extend := workflows.ExtendRequest{Actor: opsActor, By: campaigns.Duration(time.Hour), Reason: "more time"}
			s.toProduction()
			s.until("the overdue draft waiting for ops", func(st workflows.CollaborationState) bool { return st.Attention != nil })
			if st := s.update(workflows.UpdateExtendDeadline, extend); st.Attention != nil || !hasEvent(st, workflows.EventDeadlineExtended) {
				t.Errorf("extended draft deadline: attention %+v, events %+v", st.Attention, st.Events)
			}
			s.draft(1)
			s.inStage(workflows.StageInReview)
			s.until("the overdue review waiting for ops", func(st workflows.CollaborationState) bool {
				return st.Attention != nil && st.Attention.Step == workflows.StepReviewDeadline
			})
			s.update(workflows.UpdateExtendDeadline, extend)
			s.update(workflows.UpdateReview, workflows.ReviewRequest{Actor: reviewerActor, Draft: 1, Decision: workflows.DecisionApprove})
			s.inStage(workflows.StageAwaitingPost)
			s.cancel()
		}},
		{"payout-escalated-and-retried.json", 0, 0, workflows.StageCompleted, func(s *scenario) {
			s.toRefusedFee(f)
			f.set(f.failPayout, s.id, false)
			s.update(workflows.UpdateResolve, workflows.ResolveRequest{Actor: opsActor, Decision: workflows.ResolveRetry, Reason: "account reopened"})
			st := s.until("the fee payout", func(st workflows.CollaborationState) bool { return len(st.Payouts) > 0 })
			s.update(workflows.UpdateConfirmPayout, workflows.PayoutConfirmation{Actor: opsActor, PayoutID: st.Payouts[0].ID, Reference: "R"})
		}},
		{"payout-confirmed-during-escalation.json", 0, 0, workflows.StageCompleted, func(s *scenario) {
			// payout-settle-1: finance confirm the refused fee's pending row while ops are
			// asked; the confirmation settles the escalation and goes to the ledger.
			s.toRefusedFee(f)
			s.update(workflows.UpdateConfirmPayout, workflows.PayoutConfirmation{Actor: opsActor, PayoutID: s.id + "/" + activities.PayoutFee, Reference: "BANK-42"})
		}},
		{"payout-settled-by-hand.json", 0, 0, workflows.StageCompleted, func(s *scenario) {
			// payout-settle-1: ops override the refused fee; its ledger row is marked paid.
			s.toRefusedFee(f)
			s.update(workflows.UpdateResolve, workflows.ResolveRequest{Actor: opsActor, Decision: workflows.ResolveOverride, Reason: "paid by wire W-1"})
		}},
		{"cancelled-while-contracting.json", 0, 0, workflows.StageCancelled, func(s *scenario) {
			s.update(workflows.UpdateRecordReply, workflows.ReplyRequest{Actor: opsActor})
			s.update(workflows.UpdateAccept, workflows.AcceptRequest{Actor: opsActor})
			s.until("a contract", func(st workflows.CollaborationState) bool { return st.Contract != nil })
			s.cancel()
		}},
		{"cancelled-in-review.json", 0, 0, workflows.StageCancelled, func(s *scenario) {
			s.toProduction()
			s.draft(1)
			s.inStage(workflows.StageInReview)
			s.cancel()
		}},
		{"cancelled-in-negotiating.json", 0, 0, workflows.StageCancelled, func(s *scenario) {
			s.update(workflows.UpdateRecordReply, workflows.ReplyRequest{Actor: opsActor})
			s.inStage(workflows.StageNegotiating)
			s.cancel()
		}},
		{"cancelled-in-verifying.json", 0, 0, workflows.StageCancelled, func(s *scenario) {
			f.set(f.failVerify, s.id, true)
			s.toProduction()
			s.toAwaitingPost()
			s.post()
			s.until("a failed check", func(st workflows.CollaborationState) bool { return hasEvent(st, workflows.EventVerifyFailed) })
			s.cancel()
		}},
		{"cancelled-in-payout.json", 0, 0, workflows.StageCancelled, func(s *scenario) {
			s.toProduction()
			s.toAwaitingPost()
			s.post()
			s.until("the fee payout", func(st workflows.CollaborationState) bool { return len(st.Payouts) > 0 })
			if final := s.cancel(); len(final.Payouts) != 1 {
				t.Errorf("cancel in payout paid %+v, want the fee row alone", final.Payouts)
			}
		}},
		{"paused-and-resumed.json", 0, 0, workflows.StageCancelled, func(s *scenario) {
			s.update(workflows.UpdatePause, workflows.PauseRequest{Actor: opsActor, Reason: "brand review"})
			s.update(workflows.UpdateResume, workflows.PauseRequest{Actor: opsActor})
			s.until("the first email", func(st workflows.CollaborationState) bool { return st.Outreach.EmailsSent >= 1 })
			s.update(workflows.UpdateRecordReply, workflows.ReplyRequest{Actor: opsActor})
			s.inStage(workflows.StageNegotiating)
			s.cancel()
		}},
		{"completed-with-rights.json", 0, 0, workflows.StageCompleted, func(s *scenario) {
			s.toProduction()
			s.toAwaitingPost()
			s.post()
			st := s.until("the fee payout", func(st workflows.CollaborationState) bool { return len(st.Payouts) > 0 })
			if st.Rights == nil || st.Rights.UsageUntil.IsZero() {
				t.Errorf("live without its usage rights: %+v", st.Rights)
			}
			s.update(workflows.UpdateConfirmPayout, workflows.PayoutConfirmation{Actor: opsActor, PayoutID: st.Payouts[0].ID, Reference: "R"})
		}},
		{"cancelled-in-live.json", 0, 0, workflows.StageCancelled, func(s *scenario) {
			s.toProduction()
			s.toAwaitingPost()
			s.post()
			s.inStage(workflows.StageLive)
			if final := s.cancel(); len(final.Payouts) != 1 || final.Payouts[0].Kind != activities.PayoutFee {
				t.Errorf("cancel after the posts went live paid %+v, want the fee", final.Payouts)
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			in := input(tc.can)
			if tc.expiry > 0 {
				in.Timings.ContractExpiry = campaigns.Duration(tc.expiry)
			}
			s := newScenario(t, f, strings.TrimSuffix(tc.file, ".json"), in)
			tc.run(s)
			final := s.result()
			if final.Stage != tc.want {
				t.Fatalf("ended %s (%s), want %s", final.Stage, final.EndReason, tc.want)
			}
			s.events(tc.file)
		})
	}
}

func hasEvent(st workflows.CollaborationState, kind string) bool {
	for _, e := range st.Events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// TestNoticesDoNotWaitForTheEmailQueue: with no one serving the email task queue (a
// launch's outreach backlog at its rate limit, taken to the extreme), the first outreach
// email waits, yet the contract notice of a deal agreed meanwhile goes out on the notice
// task queue.
func TestNoticesDoNotWaitForTheEmailQueue(t *testing.T) {
	c := temporalClient(t)
	f := newFakes()
	main := worker.New(c, workflows.TaskQueue, worker.Options{})
	workflows.Register(main)
	main.RegisterActivity(f)
	notice := worker.New(c, workflows.NoticeTaskQueue, worker.Options{DisableWorkflowWorker: true})
	notice.RegisterActivity(f)
	for _, w := range []worker.Worker{main, notice} {
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}
	s := newScenario(t, f, "noticequeue", workflows.CollaborationInput{Timings: quick(), Opening: dealTerms(),
		Outreach: workflows.OutreachPlan{Steps: 1, Window: outreach.Always(), Timezone: "UTC"}})
	s.update(workflows.UpdateRecordReply, workflows.ReplyRequest{Actor: opsActor})
	s.update(workflows.UpdateAccept, workflows.AcceptRequest{Actor: opsActor})
	s.inStage(workflows.StageContracting)
	s.until("the contract notice", func(workflows.CollaborationState) bool { return f.noticeQueue(s.id, activities.NoticeContract) != "" })
	if q := f.noticeQueue(s.id, activities.NoticeContract); q != workflows.NoticeTaskQueue {
		t.Errorf("the contract notice ran on %q, want %q", q, workflows.NoticeTaskQueue)
	}
	if n := f.emailsSent(s.id); n != 0 {
		t.Errorf("%d outreach emails sent with no email worker", n)
	}
	s.cancel()
}

// TestStageChangesUpsertOnlyTheStage: the start sets campaign and creator and they never
// change, so from changeStageOnlyUpsert on a stage change upserts the stage alone.
func TestStageChangesUpsertOnlyTheStage(t *testing.T) {
	c := temporalClient(t)
	f := newFakes()
	startWorkers(t, c, f)
	s := newScenario(t, f, "stageonly", workflows.CollaborationInput{Timings: quick(), Opening: dealTerms(),
		Outreach: workflows.OutreachPlan{Steps: 1, Window: outreach.Always(), Timezone: "UTC"}})
	s.update(workflows.UpdateRecordReply, workflows.ReplyRequest{Actor: opsActor})
	s.inStage(workflows.StageNegotiating)
	s.cancel()
	s.result()

	upserts := 0
	it := c.GetWorkflowHistory(context.Background(), s.id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		attrs := ev.GetUpsertWorkflowSearchAttributesEventAttributes()
		if attrs == nil {
			continue
		}
		for name := range attrs.GetSearchAttributes().GetIndexedFields() {
			if name == workflows.SearchCampaign.GetName() || name == workflows.SearchCreator.GetName() {
				t.Errorf("event %d upserts %s", ev.GetEventId(), name)
			}
			if name == workflows.SearchStage.GetName() {
				upserts++
			}
		}
	}
	if upserts < 2 {
		t.Errorf("%d stage upserts, want one per stage change (at least negotiating and cancelled)", upserts)
	}
}
