package workflows

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/store"
)

const postURL = "https://instagram.com/p/abc"

func (s *collaborationSuite) TestPostToCompletedWithOnePayout() {
	m := s.mockDeal()
	at := s.driveTo(StageAwaitingPost)
	_, badURL := s.update(at+time.Minute, UpdateSubmitPost, "bad", PostRequest{Actor: &ops, URL: "instagram.com/p/abc"})
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
	s.at(at+2*time.Hour, func() {
		st := s.query()
		s.Equal(StageLive, st.Stage)
		s.Equal(at+time.Hour+30*day, st.LiveUntil.Sub(s.start))
	})
	_, early := s.update(at+3*time.Hour, UpdateConfirmPayout, "early", PayoutConfirmation{Actor: ops, PayoutID: "p-fee", Reference: "x"})
	done := s.mustUpdate(at+31*day, UpdateConfirmPayout, PayoutConfirmation{Actor: Actor{Name: "fin", Role: "finance"}, PayoutID: "p-fee", Reference: "BANK-123"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.ErrorContains(*badURL, "url")
	s.ErrorContains(*early, "not waiting for a payout")
	s.Equal(StageCompleted, final.Stage)
	s.Equal(StageCompleted, done.Stage)
	s.Require().Len(m.payouts, 1)
	s.Equal(activities.PayoutFee, m.payouts[0].Kind)
	s.Equal([]activities.PaymentInput{{PayoutID: "p-fee", Reference: "BANK-123", By: "fin"}}, m.payments, "the ledger follows the confirmation")
	s.Equal("paid", final.Payouts[0].Status)
	s.Equal("BANK-123", final.Payouts[0].Reference)
	s.Require().NotNil(final.Rights, "what the brand may do with the content")
	s.Equal(s.start.Add(at+time.Hour+30*day), final.Rights.UsageUntil)
	s.True(final.Rights.ExclusivityUntil.IsZero(), "the terms ask no exclusivity")
	s.Len(m.checks, 7, "one check in verifying; live checks after 1 and 7 days, weekly, and at the window's end")
	s.Equal([]string{"outreach", "negotiating", "contracting", "in_production", "in_review", "awaiting_post", "verifying", "live", "payout", "completed"}, s.stages())
	last := final.Events[len(final.Events)-1]
	s.Equal("fin", last.Actor.Name)
	s.Contains(last.Detail, "BANK-123")
	s.Equal("ADA-TEST", final.Attribution.Code)
	s.Equal("ADA-TEST", m.notices[1].Code, "the brief names the discount code")
}

func (s *collaborationSuite) TestFailedVerificationEmailsTheCreatorUntilOverride() {
	m := s.mockDeal()
	m.postOK = func(string) bool { return false }
	at := s.driveTo(StageAwaitingPost)
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{Actor: &ops, URL: postURL})
	s.at(at+2*day+2*time.Hour, func() { s.Equal(StageVerifying, s.query().Stage) })
	_, byReviewer := s.update(at+3*day, UpdateOverride, "rev", OverrideRequest{Actor: reviewer, Post: 1, Reason: "fine"})
	s.mustUpdate(at+3*day+time.Minute, UpdateOverride, OverrideRequest{Actor: ops, Post: 1, Reason: "disclosure is in the video, checked by hand"})
	s.at(at+3*day+time.Hour, func() { s.Equal(StageLive, s.query().Stage) })
	s.mustUpdate(at+4*day, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.ErrorContains(*byReviewer, "only ops")
	var failedNotices int
	for _, n := range m.notices {
		if n.Kind == activities.NoticeVerifyFailed {
			failedNotices++
			s.Contains(n.Comments, "make sure it is published and public")
			s.NotContains(n.Comments, "HTTP 404", "the creator was sent the check's evidence")
		}
	}
	s.GreaterOrEqual(failedNotices, 3, "one email per failed daily check")
	s.Equal("disclosure is in the video, checked by hand", final.Posts[0].Override)
}

func (s *collaborationSuite) TestTakedownDuringLiveHoldsThePayout() {
	m := s.mockDeal()
	var down bool
	m.postOK = func(string) bool { return !down }
	at := s.driveTo(StageAwaitingPost)
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
	s.at(at+10*day, func() { down = true })
	s.at(at+12*day, func() { s.Empty(s.query().Hold, "no check is due between day 7 and day 14") })
	s.at(at+15*day, func() { s.Contains(s.query().Hold, "HTTP 404") })
	s.at(at+20*day, func() { down = false })
	s.at(at+22*day, func() { s.Empty(s.query().Hold, "a passing check released the hold") })
	s.at(at+25*day, func() { down = true })
	s.at(at+31*day+2*time.Hour, func() {
		st := s.query()
		s.Equal(StagePayout, st.Stage)
		s.Empty(st.Payouts, "a payout was made while on hold")
	})
	s.mustUpdate(at+32*day, UpdateOverride, OverrideRequest{Actor: ops, Reason: "creator reposted; verified by hand"})
	s.mustUpdate(at+33*day, UpdateConfirmPayout, PayoutConfirmation{Actor: ops, PayoutID: "p-fee", Reference: "R1"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.Equal(StageCompleted, final.Stage)
	s.Require().Len(m.payouts, 1)
	var holds int
	for _, e := range final.Events {
		if e.Kind == EventHold {
			holds++
		}
	}
	s.Equal(2, holds)
	s.GreaterOrEqual(len(m.opsNotes), 2, "ops were alerted of each hold")
}

func (s *collaborationSuite) TestLongLiveWindowContinuesAsNew() {
	m := s.mockDeal()
	in := dealInput()
	at := s.driveTo(StageAwaitingPost)
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
	// The test server counts no history; play one that has grown past the limit.
	s.at(at+5*day+time.Minute, func() { s.env.SetCurrentHistoryLength(DefaultContinueAsNewAfter) })

	s.env.ExecuteWorkflow(Collaboration, in)

	s.Require().True(s.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &can), "got %v", s.env.GetWorkflowError())
	checksBefore := len(m.checks)
	s.Equal(3, checksBefore, "verifying, then the day-1 and day-7 live checks; the first run ended there")

	// The next run starts from the carried state, in live, and finishes the window.
	var next CollaborationInput
	s.Require().NoError(converterFor().FromPayloads(can.Input, &next))
	s.Require().NotNil(next.Resume)
	s.Equal(StageLive, next.Resume.Stage)
	s.Len(next.Resume.Posts, 1)

	liveUntil := next.Resume.LiveUntil
	s.SetupTest()
	m2 := s.mockDeal()
	resumedAt := s.start.Add(at + time.Hour + 7*day)
	s.env.SetStartTime(resumedAt)
	s.mustUpdate(liveUntil.Sub(resumedAt)+time.Hour, UpdateConfirmPayout,
		PayoutConfirmation{Actor: ops, PayoutID: "p-fee", Reference: "R2"})
	s.env.ExecuteWorkflow(Collaboration, next)
	final := s.result()
	s.Equal(StageCompleted, final.Stage)
	s.Equal(2, final.Run)
	s.Len(m2.payouts, 1)
	s.Empty(m2.contracts, "the second run redid earlier stages")
	s.Len(m2.checks, 4, "days 14, 21, 28 and the window's end")
}

func (s *collaborationSuite) TestKillFeeOnlyAfterSigning() {
	tests := []struct {
		stage Stage
		want  int
	}{
		{StageNegotiating, 0},
		{StageContracting, 0},
		{StageInProduction, 1},
		{StageAwaitingPost, 1},
	}
	for _, tt := range tests {
		s.Run(string(tt.stage), func() {
			s.SetupTest()
			m := s.mockDeal()
			at := s.driveTo(tt.stage)
			s.mustUpdate(at+time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "campaign cut"})
			s.env.ExecuteWorkflow(Collaboration, dealInput())
			final := s.result()
			s.Equal(StageCancelled, final.Stage)
			s.Len(m.payouts, tt.want)
			if tt.want == 1 {
				s.Equal(activities.PayoutKillFee, m.payouts[0].Kind)
				s.Equal(int64(25000), final.Payouts[0].Amount)
			}
		})
	}
}

func converterFor() converter.DataConverter { return converter.GetDefaultDataConverter() }

func (s *collaborationSuite) TestPostDeadlineFromTheTermsDueDates() {
	s.mockDeal()
	in := dealInput()
	in.Opening.Deliverables = append(in.Opening.Deliverables,
		contract.Deliverable{Platform: "tiktok", Format: "short", Count: 2, DueDate: "2027-01-20"},
		contract.Deliverable{Platform: "youtube", Format: "video", Count: 1, DueDate: "2027-01-05"})
	at := s.driveTo(StageAwaitingPost)
	s.at(at+time.Minute, func() {
		st := s.query()
		s.Equal(time.Date(2027, 1, 21, 0, 0, 0, 0, time.UTC), st.PostsDue)
		s.Equal(4, st.PostsRequired)
	})
	s.mustUpdate(at+time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})
	s.env.ExecuteWorkflow(Collaboration, in)
	s.result()
}

// TestConfirmationBeforeTheWorkflowSeesItsPayout: finance list the ledger row as soon as
// the activity stored it and may confirm before the activity has returned; the
// confirmation waits for it instead of being lost.
func (s *collaborationSuite) TestConfirmationBeforeTheWorkflowSeesItsPayout() {
	m := s.mockDeal(time.Hour)
	// The activity stores the row first, and finance see it at once.
	m.ledger[activities.PayoutFee] = &store.Payout{ID: "p-fee", CollaborationID: testWorkflowID, Kind: activities.PayoutFee, Currency: "USD", Amount: 100000, Status: store.PayoutPending}
	at := s.driveTo(StageAwaitingPost)
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
	// The live window ends 30 days after verification; the payout activity then takes an hour.
	done := s.mustUpdate(at+time.Hour+30*day+30*time.Minute, UpdateConfirmPayout,
		PayoutConfirmation{Actor: Actor{Name: "fin", Role: "finance"}, PayoutID: "p-fee", Reference: "EARLY"})
	s.env.ExecuteWorkflow(Collaboration, dealInput())
	final := s.result()
	s.Equal(StageCompleted, final.Stage)
	s.Equal(StageCompleted, done.Stage)
	s.Equal([]activities.PaymentInput{{PayoutID: "p-fee", Reference: "EARLY", By: "fin", CollaborationID: testWorkflowID, Kind: activities.PayoutFee}}, m.payments)
	s.Require().Len(final.Payouts, 1)
	s.Equal(PayoutState{ID: "p-fee", Kind: activities.PayoutFee, Currency: "USD", Amount: 100000, Status: store.PayoutPaid, Reference: "EARLY"}, final.Payouts[0])
}

// testWorkflowID is the workflow ID the SDK's test environment gives a run.
const testWorkflowID = "default-test-workflow-id"

// TestRightsTellsOpsBeforeAndWhenEachWindowEnds: usage rights of 30 days and exclusivity
// of 10: ops hear of the exclusivity's end 5 days before it (half its length, under a
// week), then when it ends, then of the usage rights a week before and when they end.
func TestRightsTellsOpsBeforeAndWhenEachWindowEnds(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := newTestEnv(&suite)
	start := time.Date(2027, 1, 4, 12, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	env.RegisterWorkflowWithOptions(Rights, workflow.RegisterOptions{Name: RightsWorkflow})
	type sent struct {
		at  time.Duration
		key string
	}
	var notes []sent
	env.OnActivity(a.NotifyOps, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.OpsNoteInput) (activities.SendEmailResult, error) {
			notes = append(notes, sent{env.Now().Sub(start), in.Key})
			return activities.SendEmailResult{Status: activities.SendSent}, nil
		})
	env.ExecuteWorkflow(RightsWorkflow, RightsInput{CollaborationID: "c-1", LiveAt: start,
		Rights: RightsState{UsageUntil: start.Add(30 * day), ExclusivityUntil: start.Add(10 * day)}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := []sent{{5 * day, "rights/exclusivity-ending"}, {10 * day, "rights/exclusivity-ended"},
		{23 * day, "rights/usage-ending"}, {30 * day, "rights/usage-ended"}}
	if !slices.Equal(notes, want) {
		t.Fatalf("notices %v, want %v", notes, want)
	}
}
