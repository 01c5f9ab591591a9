package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/verify"
)

// outage is a retryable provider failure (SendGrid 503, a post host timing out).
var outage = errors.New("503 service unavailable")

// M-1: a reply accepted while an email is retried through an outage stops it: no attempt
// after the reply, and the reply is answered at once.
func (s *collaborationSuite) TestReplyStopsAnEmailRetriedThroughAnOutage() {
	var replyAt time.Time
	s.sendErr = func() error {
		if !replyAt.IsZero() {
			s.Failf("send attempt after the reply", "at %s", s.env.Now())
		}
		return outage
	}
	s.at(2*time.Minute, func() { replyAt = s.env.Now() })
	st, err := s.update(2*time.Minute, UpdateRecordReply, "r", ReplyRequest{Actor: ops})
	s.update(3*time.Minute, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "test over"})

	s.env.ExecuteWorkflow(Collaboration, input())

	s.result()
	s.Require().NoError(*err)
	s.Equal(StageNegotiating, st.Stage)
	s.Empty(s.sent, "an email went out after the reply")
	s.Equal([]string{"default-test-workflow-id/outreach/1"}, s.stoppedKeys, "the abandoned email is marked stopped in the log")
	// The reply's answer carries what it recorded: the dropped email, then the reply.
	var kinds []string
	for _, e := range st.Events {
		kinds = append(kinds, e.Kind)
	}
	s.Equal([]string{EventEmailStopped, EventReplyReceived}, kinds, "the dropped email is on record: %+v", st.Events)
}

// An email whose SendGrid answer was lost went out before the reply stopped its retry:
// when the log knows it at the stop, the collaboration counts it sent, once.
func (s *collaborationSuite) TestAStoppedEmailTheLogHadSentIsCounted() {
	s.sendErr = func() error { return outage }
	s.wentOut = true
	s.update(2*time.Minute, UpdateRecordReply, "r", ReplyRequest{Actor: ops})
	s.update(3*time.Minute, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "test over"})

	s.env.ExecuteWorkflow(Collaboration, input())

	final := s.result()
	s.Equal(1, final.Outreach.EmailsSent, "the email SendGrid took is counted")
	s.Equal(1, countEvents(final, EventEmailSent, "went out before it was stopped (the email log had it sent)"))
}

// The log learns later (SendGrid's events after the stop): the webhook's news counts the
// email once however often it comes, and stops nothing.
func (s *collaborationSuite) TestSentAfterStopNewsIsCountedOnce() {
	s.sendErr = func() error { return outage }
	key := "default-test-workflow-id/outreach/1"
	s.update(2*time.Minute, UpdateRecordReply, "r", ReplyRequest{Actor: ops})
	for _, d := range []time.Duration{150 * time.Second, 160 * time.Second} {
		s.at(d, func() {
			s.env.SignalWorkflow(SignalOutreachEvent, OutreachEvent{Kind: OutreachSentAfterStop, At: s.env.Now(), MessageKey: key, Ref: "provider event x"})
		})
	}
	var mid CollaborationState
	s.at(170*time.Second, func() {
		v, err := s.env.QueryWorkflow(QueryState)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&mid))
	})
	s.update(3*time.Minute, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "test over"})

	s.env.ExecuteWorkflow(Collaboration, input())

	final := s.result()
	s.Equal(StageNegotiating, mid.Stage, "the news moved nothing")
	s.Equal(1, final.Outreach.EmailsSent)
	s.Equal(1, countEvents(final, EventEmailSent, key+" went out before it was stopped"))
}

// countEvents counts the state's events of a kind whose detail contains text.
func countEvents(st CollaborationState, kind, text string) int {
	n := 0
	for _, e := range st.Events {
		if e.Kind == kind && strings.Contains(e.Detail, text) {
			n++
		}
	}
	return n
}

// M-1: the same for a cancel.
func (s *collaborationSuite) TestCancelStopsAnEmailRetriedThroughAnOutage() {
	cancelled := false
	s.sendErr = func() error {
		if cancelled {
			s.Fail("send attempt after the cancel")
		}
		return outage
	}
	s.at(2*time.Minute, func() { cancelled = true })
	st, err := s.update(2*time.Minute, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "brand pulled out"})

	s.env.ExecuteWorkflow(Collaboration, input())

	final := s.result()
	s.Require().NoError(*err)
	s.Equal(StageCancelled, st.Stage)
	s.Equal(StageCancelled, final.Stage)
	s.Empty(s.sent)
}

// M-2: a reply that came after the deadline, delivered with the timer, is news only.
func (s *collaborationSuite) TestReplyAfterTheDeadlineLosesToTheTimer() {
	in := input()
	in.Outreach.Steps = 1
	deadline := s.start.Add(in.Timings.ReplyWait.Std())
	s.at(in.Timings.ReplyWait.Std(), func() {
		s.env.SignalWorkflow(SignalOutreachEvent, OutreachEvent{Kind: OutreachReply, At: deadline.Add(time.Second), Detail: "too late"})
	})

	s.env.ExecuteWorkflow(Collaboration, in)

	final := s.result()
	s.Equal(StageNoResponse, final.Stage)
}

// Minor 1: a wait that ends early cancels its timer.
func (s *collaborationSuite) TestEarlyEndCancelsTheTimer() {
	s.update(time.Hour, UpdateRecordReply, "r", ReplyRequest{Actor: ops})
	s.update(2*time.Hour, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "done"})
	var cancelledTimers int
	s.env.SetOnTimerCanceledListener(func(string) { cancelledTimers++ })

	s.env.ExecuteWorkflow(Collaboration, input())

	s.result()
	s.Equal(1, cancelledTimers, "the follow-up timer was left running")
}

// C-1: a cancel accepted during the check that triggers Continue-As-New ends the
// collaboration instead of deadlocking it.
func (s *collaborationSuite) TestCancelDuringContinueAsNew() {
	m := s.mockDeal()
	at := s.driveTo(StageAwaitingPost)
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
	checking := false
	m.verifyErr = func() error {
		if checking {
			checking = false
			return outage // the check is retried: the cancel lands meanwhile
		}
		return nil
	}
	s.at(at+day, func() { s.env.SetCurrentHistoryLength(DefaultContinueAsNewAfter); checking = true })
	st, err := s.update(at+day+time.Hour+5*time.Second, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "brand pulled out"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.Require().NoError(*err)
	s.Equal(StageCancelled, st.Stage)
	s.Equal(StageCancelled, final.Stage)
	s.Equal(1, final.Run)
	s.Require().Len(m.payouts, 1)
	s.Equal(activities.PayoutFee, m.payouts[0].Kind, "the posts were live: the fee is owed, not a kill fee")
}

// M-3: a reviewer's decision accepted while ops are told of the SLA is kept.
func (s *collaborationSuite) TestReviewerDecisionIsNotOverwrittenByAutoApproval() {
	m := s.mockDeal()
	in := dealInput()
	in.AutoApprove = true
	at := s.driveTo(StageInReview)
	sla := in.Timings.ReviewSLA.Std()
	failing := true
	m.opsErr = func() error {
		if failing {
			return outage
		}
		return nil
	}
	st, err := s.update(at+sla+2*time.Second, UpdateReview, "rev", ReviewRequest{Actor: reviewer, Draft: 1, Decision: DecisionChanges, Comments: "shorter please"})
	s.at(at+sla+time.Minute, func() { failing = false })
	s.mustUpdate(at+sla+time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, in)

	final := s.result()
	s.Require().NoError(*err)
	s.Equal(StageInProduction, st.Stage, "the reviewer asked for changes")
	s.Equal(DecisionChanges, final.Drafts[0].Review.Decision)
	s.Nil(final.Approved)
}

// The opening offer is offer 1 even when ops offer right after the reply, while the
// stage change is still being written.
func (s *collaborationSuite) TestOpeningOfferComesFirst() {
	s.mockDeal()
	slow := true
	s.recordErr = func(c activities.StageChange) error {
		if c.Stage == string(StageNegotiating) && slow {
			slow = false
			return outage
		}
		return nil
	}
	s.signal(time.Hour, OutreachEvent{Kind: OutreachReply})
	mine := terms(250000)
	s.mustUpdate(time.Hour+100*time.Millisecond, UpdateOffer, OfferRequest{Actor: ops, From: FromBrand, Terms: mine})
	s.mustUpdate(2*time.Hour, UpdateAccept, AcceptRequest{Actor: ops})
	s.mustUpdate(3*time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.Require().Len(final.Offers, 2)
	s.Equal("the campaign's terms", final.Offers[0].Note)
	s.Equal(int64(250000), final.AgreedTerms.FixedFee, "accept agreed to the campaign's terms, not ops' offer")
}

// M-5 / M-6: a payout the provider refuses escalates; ops retry once it is fixed.
func (s *collaborationSuite) TestRefusedPayoutEscalatesAndRetries() {
	m := s.mockDeal()
	refuse := true
	m.payoutErr = func(activities.PayoutInput) error {
		if refuse {
			return temporal.NewNonRetryableApplicationError("metrics in EUR, terms in USD", "BadMetrics", nil)
		}
		return nil
	}
	at := s.driveTo(StageAwaitingPost)
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
	s.at(at+32*day, func() {
		st := s.query()
		s.Equal(StagePayout, st.Stage)
		s.Require().NotNil(st.Attention)
		s.Equal("payout_fee", st.Attention.Step)
		s.Contains(st.Attention.Reason, "EUR")
		s.True(st.Attention.Overridable, "ops may settle a payout by hand")
		refuse = false
	})
	retried := s.mustUpdate(at+32*day+2*time.Minute, UpdateResolve, ResolveRequest{Actor: ops, Decision: ResolveRetry})
	s.mustUpdate(at+33*day, UpdateConfirmPayout, PayoutConfirmation{Actor: ops, PayoutID: "p-fee", Reference: "R1"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.Equal(StageCompleted, final.Stage)
	s.Nil(retried.Attention)
	s.Len(m.payouts, 1)
	s.NotEmpty(m.opsNotes, "ops were emailed")
}

// M-5: a read model that refuses a change (its rows were removed) is an escalation that
// ops may skip; the collaboration goes on.
func (s *collaborationSuite) TestReadModelRefusalEscalatesAndOverrides() {
	s.mockDeal()
	s.recordErr = func(c activities.StageChange) error {
		if c.Stage == string(StageNegotiating) && c.Attention == nil {
			return temporal.NewNonRetryableApplicationError("record stage", "NotFound", nil)
		}
		return nil
	}
	s.signal(time.Hour, OutreachEvent{Kind: OutreachReply})
	s.mustUpdate(2*time.Hour, UpdateResolve, ResolveRequest{Actor: ops, Decision: ResolveOverride, Reason: "row restored by hand"})
	s.mustUpdate(3*time.Hour, UpdateAccept, AcceptRequest{Actor: ops})
	s.mustUpdate(4*time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.Equal(StageCancelled, final.Stage)
	var kinds []string
	for _, e := range final.Events {
		kinds = append(kinds, e.Kind)
	}
	s.Contains(kinds, EventEscalated)
	s.Contains(kinds, EventResolved)
}

// M-8: a post host that cannot be reached emails nobody, escalates after three checks in a
// row, and ops may accept the post.
func (s *collaborationSuite) TestUnreachablePostHostEscalates() {
	m := s.mockDeal()
	m.verifyErr = func() error { return temporal.NewApplicationError("the post host timed out", "PostUnreachable") }
	at := s.driveTo(StageAwaitingPost)
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
	s.at(at+3*day, func() {
		st := s.query()
		s.Equal(StageVerifying, st.Stage)
		s.Require().NotNil(st.Attention)
		s.Equal("verify_posts", st.Attention.Step)
	})
	s.mustUpdate(at+3*day+time.Hour, UpdateResolve, ResolveRequest{Actor: ops, Decision: ResolveOverride, Reason: "checked by hand"})
	s.at(at+3*day+2*time.Hour, func() { s.Equal(StageLive, s.query().Stage) })
	s.mustUpdate(at+4*day, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.Equal("checked by hand", final.Posts[0].Override)
	for _, n := range m.notices {
		s.NotEqual(activities.NoticeVerifyFailed, n.Kind, "the creator was blamed for an unreachable host")
	}
}

// continueInVerifying drives a deal to verifying, with every post check failing, until its
// history is long enough to continue as new, and returns the next run's input. before,
// when set, schedules more at offsets from when the approved draft awaits its post (at).
func (s *collaborationSuite) continueInVerifying(before func(at time.Duration)) CollaborationInput {
	m := s.mockDeal()
	m.postOK = func(string) bool { return false }
	at := s.driveTo(StageAwaitingPost)
	if before != nil {
		before(at)
	}
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
	s.at(at+2*time.Hour, func() { s.env.SetCurrentHistoryLength(DefaultContinueAsNewAfter) })

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	var can *workflow.ContinueAsNewError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &can), "got %v", s.env.GetWorkflowError())
	var next CollaborationInput
	s.Require().NoError(converterFor().FromPayloads(can.Input, &next))
	return next
}

// M-8: verifying continues as new when its history is long, and the next run picks up
// verifying where it was.
func (s *collaborationSuite) TestVerifyingContinuesAsNew() {
	next := s.continueInVerifying(nil)
	s.Equal(StageVerifying, next.Resume.Stage)

	s.Require().NotEmpty(next.AppliedUpdates, "the update IDs were not carried")
	s.SetupTest()
	m2 := s.mockDeal()
	// A client retrying the post submission with its key after the run continued.
	_, again := s.update(time.Minute, UpdateOverride, next.AppliedUpdates[len(next.AppliedUpdates)-1], OverrideRequest{Actor: ops, Post: 1, Reason: "retried"})
	s.mustUpdate(time.Hour, UpdateOverride, OverrideRequest{Actor: ops, Post: 1, Reason: "fine"})
	s.mustUpdate(2*time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})
	s.env.ExecuteWorkflow(Collaboration, next)
	final := s.result()
	var appErr *temporal.ApplicationError
	s.Require().ErrorAs(*again, &appErr, "a retried update was applied again after Continue-As-New")
	s.Equal(AlreadyApplied, appErr.Type())
	s.Equal("fine", final.Posts[0].Override)
	s.Equal(2, final.Run)
	s.Equal(StageCancelled, final.Stage)
	s.Empty(m2.contracts, "the second run redid earlier stages")
	s.Contains(s.stages(), string(StageLive))
}

// Minor 2: a decline after the signature is refused: cancel (with its kill fee) instead.
func TestDeclineAfterSignatureIsRefused(t *testing.T) {
	c := &collaboration{state: CollaborationState{Stage: StageContracting, Contract: &ContractState{Signed: &SignRequest{SignatureID: testSignatureID}}}}
	if err := c.validateDecline(DeclineRequest{Actor: ops, Reason: "changed my mind"}); err == nil {
		t.Fatal("decline of a signed contract accepted")
	}
}

// Minor 3: a cancel after finance confirmed the payout is refused.
func TestCancelAfterConfirmationIsRefused(t *testing.T) {
	c := &collaboration{state: CollaborationState{Stage: StagePayout}, confirmed: &PayoutConfirmation{PayoutID: "p"}}
	if err := c.validateCancel(CancelRequest{Actor: ops, Reason: "oops"}); err == nil {
		t.Fatal("cancel after confirmation accepted")
	}
}

// Minor 6: bad input to a validator is a 422 (InvalidArgument), not a state conflict.
func TestValidatorInputErrorsAreInvalidArgument(t *testing.T) {
	c := &collaboration{state: CollaborationState{Stage: StageOutreach, Outreach: OutreachState{Status: OutreachRunning}}}
	for name, err := range map[string]error{
		"no actor":           c.validateCancel(CancelRequest{Reason: "x"}),
		"no reason":          c.validateCancel(CancelRequest{Actor: ops}),
		"note not an id":     c.validateReply(ReplyRequest{Actor: ops, NoteID: "she said yes"}),
		"note id upper case": c.validateReply(ReplyRequest{Actor: ops, NoteID: strings.ToUpper(testNoteID)}),
	} {
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != InvalidArgument {
			t.Errorf("%s: %v is not InvalidArgument", name, err)
		}
	}
}

// The may_send query: what an email activity asks right before it sends.
func TestMaySend(t *testing.T) {
	running := CollaborationState{Stage: StageOutreach, Outreach: OutreachState{Status: OutreachRunning}}
	replied := CollaborationState{Stage: StageOutreach, Outreach: OutreachState{Status: OutreachReplied}}
	signed := CollaborationState{Stage: StageContracting, Contract: &ContractState{Signed: &SignRequest{}}}
	for _, tc := range []struct {
		name  string
		c     *collaboration
		check activities.SendCheck
		want  bool
	}{
		{"outreach running", &collaboration{state: running}, activities.SendCheck{Kind: "outreach"}, true},
		{"outreach replied", &collaboration{state: replied}, activities.SendCheck{Kind: "outreach"}, false},
		{"cancel accepted", &collaboration{state: running, cancel: &CancelRequest{}}, activities.SendCheck{Kind: "outreach"}, false},
		{"ended", &collaboration{state: CollaborationState{Stage: StageCancelled}}, activities.SendCheck{Kind: activities.NoticeBrief}, false},
		{"contract reminder after signing", &collaboration{state: signed}, activities.SendCheck{Kind: activities.NoticeContractReminder}, false},
		{"contract reminder while out for signature", &collaboration{state: CollaborationState{Stage: StageContracting, Contract: &ContractState{}}}, activities.SendCheck{Kind: activities.NoticeContractReminder}, true},
		{"contract reminder after the contract expired", &collaboration{state: CollaborationState{Stage: StageNegotiating, Contract: &ContractState{}}}, activities.SendCheck{Kind: activities.NoticeContractReminder}, false},
		{"brief", &collaboration{state: CollaborationState{Stage: StageInProduction}}, activities.SendCheck{Kind: activities.NoticeBrief}, true},
		{"draft reminder with a draft in", &collaboration{state: CollaborationState{Stage: StageInProduction}, pendingDraft: true}, activities.SendCheck{Kind: activities.NoticeDraftReminder}, false},
	} {
		v, err := tc.c.maySend(tc.check)
		if err != nil || v.Allowed != tc.want {
			t.Errorf("%s: allowed %v (%q), want %v", tc.name, v.Allowed, v.Reason, tc.want)
		}
	}
}

// A fee the provider keeps refusing can be settled outside collabflow: ops override with
// their reason, and the collaboration completes with it on record.
func (s *collaborationSuite) TestRefusedPayoutSettledByHand() {
	m := s.mockDeal()
	m.payoutErr = func(activities.PayoutInput) error {
		return temporal.NewNonRetryableApplicationError("account closed", "PayoutRefused", nil)
	}
	at := s.driveTo(StageAwaitingPost)
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
	s.mustUpdate(at+32*day, UpdateResolve, ResolveRequest{Actor: ops, Decision: ResolveOverride, Reason: "paid by wire, ref W-1"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.Equal(StageCompleted, final.Stage)
	s.Contains(final.Events[len(final.Events)-1].Detail, "paid by wire, ref W-1")
	s.Empty(m.payouts)
}

// A kill fee the provider refuses does not hold a cancel for ever: ops settle it by hand.
func (s *collaborationSuite) TestRefusedKillFeeDoesNotHoldTheCancel() {
	m := s.mockDeal()
	m.payoutErr = func(activities.PayoutInput) error {
		return temporal.NewNonRetryableApplicationError("account closed", "PayoutRefused", nil)
	}
	at := s.driveTo(StageInProduction)
	s.mustUpdate(at+time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "brand pulled out"})
	s.at(at+2*time.Hour, func() {
		st := s.query()
		s.Require().NotNil(st.Attention)
		s.Equal("payout_kill_fee", st.Attention.Step)
	})
	s.mustUpdate(at+3*time.Hour, UpdateResolve, ResolveRequest{Actor: ops, Decision: ResolveOverride, Reason: "kill fee paid by wire"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	s.Equal(StageCancelled, s.result().Stage)
}

// A failed reminder is settled by what made it moot: the draft arrived.
func (s *collaborationSuite) TestFailedReminderIsSettledByTheDraft() {
	// Registered before mockDeal's, so that it matches first.
	s.env.OnActivity(a.SendNotice, mock.Anything, mock.MatchedBy(func(in activities.NoticeInput) bool {
		return in.Kind == activities.NoticeDraftReminder
	})).Return(activities.SendEmailResult{Status: activities.SendFailed, Reason: "550 mailbox full"}, nil)
	s.mockDeal()
	at := s.driveTo(StageInProduction)
	due := dealInput().Timings.DraftDeadline.Std()
	reminder := due - reminderLead(due)
	s.at(at+reminder+time.Hour, func() {
		st := s.query()
		s.Require().NotNil(st.Attention)
		s.Equal("notice_draft_reminder", st.Attention.Step)
	})
	st := s.mustUpdate(at+reminder+2*time.Hour, UpdateSubmitDraft, DraftRequest{Assets: []string{"https://cdn.example.com/v1.mp4"}, Caption: "New shoes #ad"})
	s.mustUpdate(at+reminder+3*time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	s.result()
	s.Equal(StageInReview, st.Stage, "the draft waited for ops to decide on a moot reminder")
	s.Nil(st.Attention)
}

// An override accepted while its post is being checked is not undone by that check: no
// failure email, and the collaboration goes live.
func (s *collaborationSuite) TestOverrideDuringACheckIsKept() {
	m := s.mockDeal()
	m.postOK = func(string) bool { return false }
	first := true
	m.verifyErr = func() error {
		if first {
			first = false
			return outage // the check is retried in 10 s: the override lands meanwhile
		}
		return nil
	}
	at := s.driveTo(StageAwaitingPost)
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
	s.mustUpdate(at+time.Hour+5*time.Second, UpdateOverride, OverrideRequest{Actor: ops, Post: 1, Reason: "checked by hand"})
	s.at(at+2*time.Hour, func() { s.Equal(StageLive, s.query().Stage) })
	s.mustUpdate(at+3*time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	s.result()
	for _, n := range m.notices {
		s.NotEqual(activities.NoticeVerifyFailed, n.Kind, "the creator was told of a failure ops had accepted")
	}
}

// TestFixesForCreatorSayWhatToFixInWords: the email to a creator names each failed check
// in words, never its evidence; a post on another site or account asks for that alone.
func TestFixesForCreatorSayWhatToFixInWords(t *testing.T) {
	terms := &contract.Terms{DisclosureText: "#ad", Deliverables: []contract.Deliverable{
		{Platform: "instagram", Format: "reel", Count: 1}, {Platform: "tiktok", Format: "video", Count: 1}}}
	check := func(name string, passed bool) PostCheck {
		return PostCheck{Name: name, Passed: passed, Evidence: "HTTP 404 from 10.0.0.7: <html>secret</html>"}
	}
	tests := []struct {
		name   string
		checks []PostCheck
		want   string
	}{
		{"off account", []PostCheck{check(verify.CheckAccount, false), check(verify.CheckLive, false), check(verify.CheckDisclosure, false)},
			"post 1 (https://example.com/p/1): the post must be published on your own account on instagram or tiktok, as the contract names"},
		{"no disclosure", []PostCheck{check(verify.CheckAccount, true), check(verify.CheckLive, true), check(verify.CheckDisclosure, false)},
			`post 1 (https://example.com/p/1): the caption must show the disclosure "#ad" (or #ad, #sponsored, Paid partnership) where people see it`},
		{"not live", []PostCheck{check(verify.CheckLive, false)},
			"post 1 (https://example.com/p/1): we could not open the post: make sure it is published and public"},
		{"all passed", []PostCheck{check(verify.CheckAccount, true), check(verify.CheckLive, true)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &collaboration{state: CollaborationState{AgreedTerms: terms, Posts: []Post{{N: 1, URL: "https://example.com/p/1",
				Verification: &Verification{Checks: tt.checks}}}}}
			got := c.fixesForCreator()
			if got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
			if strings.Contains(got, "10.0.0.7") || strings.Contains(got, "secret") {
				t.Fatalf("evidence reached the creator: %q", got)
			}
		})
	}
}

// TestPausedOutreachSendsNothingAndResumesWhereItWas: paused a day after the first email
// (the follow-up was due two days later) for ten days, the sequence sends nothing; after
// the resume the follow-up goes two days later and the last one its full four days after
// that. Pausing twice, resuming what runs, and pausing outside outreach are refused.
func (s *collaborationSuite) TestPausedOutreachSendsNothingAndResumesWhereItWas() {
	_, noActor := s.update(day, UpdatePause, "p0", PauseRequest{Reason: "x"})
	_, notPaused := s.update(day, UpdateResume, "r0", PauseRequest{Actor: ops})
	paused := s.mustUpdate(day, UpdatePause, PauseRequest{Actor: ops, Reason: "brand asked to wait"})
	_, twice := s.update(day+time.Hour, UpdatePause, "p2", PauseRequest{Actor: ops})
	s.at(10*day, func() {
		st := s.query()
		s.Len(s.sent, 1, "a paused sequence sent an email")
		s.Equal(s.start.Add(day), st.Outreach.PausedAt)
		s.Equal(OutreachRunning, st.Outreach.Status)
	})
	resumed := s.mustUpdate(11*day, UpdateResume, PauseRequest{Actor: ops})
	s.update(18*day, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, input())

	final := s.result()
	s.Require().Error(*noActor)
	s.ErrorContains(*notPaused, "not paused")
	s.ErrorContains(*twice, "already paused")
	s.False(paused.Outreach.PausedAt.IsZero())
	s.True(resumed.Outreach.PausedAt.IsZero())
	s.Equal([]time.Time{s.start, s.start.Add(13 * day), s.start.Add(17 * day)}, s.sentAt)
	var kinds []string
	for _, e := range final.Events {
		if e.Kind == EventOutreachPaused || e.Kind == EventOutreachResumed {
			kinds = append(kinds, e.Kind+": "+e.Detail)
		}
	}
	s.Equal([]string{"outreach_paused: outreach paused: brand asked to wait", "outreach_resumed: outreach resumed after 240h0m0s"}, kinds)
}

// TestMaySendWhilePaused: the email activity hears "later", not "stopped", while paused;
// only a running sequence can be paused.
func TestMaySendWhilePaused(t *testing.T) {
	c := &collaboration{state: CollaborationState{Stage: StageOutreach, Outreach: OutreachState{Status: OutreachRunning, PausedAt: time.Now()}}}
	v, err := c.maySend(activities.SendCheck{Kind: "outreach"})
	if err != nil || v.Allowed || !v.Paused {
		t.Fatalf("verdict %+v, %v", v, err)
	}
	for _, st := range []CollaborationState{
		{Stage: StageNegotiating, Outreach: OutreachState{Status: OutreachReplied}},
		{Stage: StageOutreach, Outreach: OutreachState{Status: OutreachNoResponse}},
		{Stage: StageCancelled, Outreach: OutreachState{Status: OutreachRunning}},
	} {
		c := &collaboration{state: st}
		if err := c.validatePause(PauseRequest{Actor: ops}); err == nil {
			t.Errorf("pause accepted in %s with outreach %s", st.Stage, st.Outreach.Status)
		}
	}
}
