package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/campaigns"
)

// extendBy is ops' extension of the running deadline by d.
func extendBy(d time.Duration, reason string) ExtendRequest {
	return ExtendRequest{Actor: ops, By: campaigns.Duration(d), Reason: reason}
}

// lastRecorded is the read model's latest row.
func (s *collaborationSuite) lastRecorded() activities.StageChange {
	s.Require().NotEmpty(s.recorded)
	return s.recorded[len(s.recorded)-1]
}

// lastEvent is the state's latest event of kind.
func lastEvent(st CollaborationState, kind string) *Event {
	for i := len(st.Events) - 1; i >= 0; i-- {
		if st.Events[i].Kind == kind {
			return &st.Events[i]
		}
	}
	return nil
}

// Newcomer #5: an overdue draft waits for ops (attention, in the state and the read
// model), ops extend its deadline (attention ends, a new timer waits for the new deadline,
// the event names them), it passes again (a second notice), and the late draft still
// wins: the escalation is resolved and the draft goes to review.
func (s *collaborationSuite) TestOverdueDraftWaitsForOpsWhoExtendIt() {
	m := s.mockDeal()
	at := s.driveTo(StageInProduction)
	var due time.Time
	s.at(at+time.Minute, func() { due = s.query().DraftDue })
	s.at(at+14*day+time.Minute, func() {
		st := s.query()
		s.Equal(StageInProduction, st.Stage)
		s.Require().NotNil(st.Attention, "the overdue draft does not wait for ops")
		s.Equal(StepDraftDeadline, st.Attention.Step)
		s.Equal(due, st.Attention.Due)
		s.False(st.Attention.Overridable)
		s.Contains(st.Attention.Reason, "draft 1 is overdue")
		s.Empty(st.Escalation)
		s.Require().NotNil(s.lastRecorded().Attention, "the read model does not list it as waiting for ops")
	})
	extended := s.mustUpdate(at+15*day, UpdateExtendDeadline, extendBy(3*day, "creator is ill"))
	s.at(at+15*day+time.Minute, func() {
		st := s.query()
		s.Nil(st.Attention)
		s.Equal(s.start.Add(at+18*day), st.DraftDue, "three days from now: the old deadline had passed")
		e := lastEvent(st, EventDeadlineExtended)
		s.Require().NotNil(e)
		s.Equal(&ops, e.Actor)
		s.Contains(e.Detail, "creator is ill")
		rec := s.lastRecorded()
		s.Nil(rec.Attention)
		s.Equal(st.DraftDue, rec.DueAt)
	})
	s.at(at+18*day-time.Minute, func() { s.Nil(s.query().Attention, "the old timer fired") })
	s.at(at+18*day+time.Minute, func() {
		st := s.query()
		s.Require().NotNil(st.Attention, "the new deadline passed unnoticed")
		s.Equal(s.start.Add(at+18*day), st.Attention.Due)
	})
	s.mustUpdate(at+19*day, UpdateSubmitDraft, DraftRequest{Assets: []string{"https://cdn.example.com/late.mp4"}, Caption: "#ad late"})
	s.at(at+19*day+time.Minute, func() {
		st := s.query()
		s.Equal(StageInReview, st.Stage)
		s.Nil(st.Attention)
		s.Nil(s.lastRecorded().Attention)
		e := lastEvent(st, EventResolved)
		s.Require().NotNil(e)
		s.Equal("draft_deadline: the draft arrived", e.Detail)
	})
	s.mustUpdate(at+19*day+time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	s.result()
	s.Nil(extended.Attention)
	s.Require().Len(m.opsNotes, 2, "each passed deadline tells ops once")
	s.NotEqual(m.opsNotes[0].Key, m.opsNotes[1].Key)
	s.Equal([]string{activities.NoticeContract, activities.NoticeBrief, activities.NoticeDraftReminder}, m.kinds())
}

// An extension before the deadline cancels the running timer: nothing is overdue at the
// old deadline, the reminder comes a day before the new one.
func (s *collaborationSuite) TestExtensionBeforeTheDeadlineMovesItsTimers() {
	m := s.mockDeal()
	at := s.driveTo(StageInProduction)
	var due time.Time
	s.at(at+time.Minute, func() { due = s.query().DraftDue })
	s.mustUpdate(at+day, UpdateExtendDeadline, extendBy(7*day, ""))
	s.at(at+day+time.Minute, func() { s.Equal(due.Add(7*day), s.query().DraftDue) })
	s.at(at+14*day+time.Hour, func() {
		s.Nil(s.query().Attention, "overdue at the old deadline")
		s.Empty(m.kinds()[2:], "reminded for the old deadline")
	})
	s.at(at+21*day+time.Hour, func() {
		s.NotNil(s.query().Attention)
		s.Equal([]string{activities.NoticeContract, activities.NoticeBrief, activities.NoticeDraftReminder}, m.kinds())
	})
	s.mustUpdate(at+22*day, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	s.result()
}

// A cancel during the overdue wait wins: the escalation ends with the collaboration, and
// the kill fee is paid as before.
func (s *collaborationSuite) TestCancelDuringTheOverdueWaitWins() {
	m := s.mockDeal()
	at := s.driveTo(StageInProduction)
	s.at(at+14*day+time.Minute, func() { s.NotNil(s.query().Attention) })
	s.mustUpdate(at+15*day, UpdateCancel, CancelRequest{Actor: ops, Reason: "creator vanished"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.Equal(StageCancelled, final.Stage)
	s.Nil(final.Attention)
	s.Equal("draft_deadline: the collaboration is ending", lastEvent(final, EventResolved).Detail)
	s.Require().Len(m.payouts, 1)
	s.Equal(activities.PayoutKillFee, m.payouts[0].Kind)
	s.Nil(s.lastRecorded().Attention)
}

// A review past its SLA (no auto-approval) waits for ops too; an extension moves the
// review's deadline, and the reviewer's decision then ends the wait.
func (s *collaborationSuite) TestOverdueReviewWaitsForOpsWhoExtendIt() {
	m := s.mockDeal()
	at := s.driveTo(StageInReview)
	s.at(at+2*day+time.Minute, func() {
		st := s.query()
		s.Require().NotNil(st.Attention)
		s.Equal(StepReviewDeadline, st.Attention.Step)
		s.Equal(s.start.Add(at+2*day), st.ReviewDue)
		s.Equal(st.ReviewDue, s.lastRecorded().DueAt)
	})
	s.mustUpdate(at+3*day, UpdateExtendDeadline, extendBy(2*day, "reviewer away"))
	s.at(at+3*day+time.Minute, func() {
		st := s.query()
		s.Nil(st.Attention)
		s.Equal(s.start.Add(at+5*day), st.ReviewDue)
		s.Equal(st.ReviewDue, s.lastRecorded().DueAt)
	})
	s.mustUpdate(at+4*day, UpdateReview, ReviewRequest{Actor: reviewer, Draft: 1, Decision: DecisionApprove})
	s.at(at+4*day+time.Minute, func() {
		st := s.query()
		s.Equal(StageAwaitingPost, st.Stage)
		s.True(st.ReviewDue.IsZero())
	})
	s.mustUpdate(at+5*day, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	s.result()
	s.Require().Len(m.opsNotes, 1, "the review passed its deadline once")
	s.Equal("Review overdue", m.opsNotes[0].Subject)
}

// Posts past their deadline wait for ops as well.
func (s *collaborationSuite) TestOverduePostsWaitForOps() {
	s.mockDeal()
	at := s.driveTo(StageAwaitingPost)
	var due time.Time
	s.at(at+time.Minute, func() { due = s.query().PostsDue })
	s.at(at+31*day, func() {
		st := s.query()
		s.Require().NotNil(st.Attention, "posts due %s", due)
		s.Equal(StepPostDeadline, st.Attention.Step)
		s.Equal(due, st.Attention.Due)
	})
	s.mustUpdate(at+32*day, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	s.Equal(StageCancelled, s.result().Stage)
}

// An extension is refused where no deadline runs (409, not applied), for a bad duration
// or another role (422 and 409), and a retry of a passed deadline is not a decision.
func (s *collaborationSuite) TestExtensionRefusals() {
	s.mockDeal()
	at := s.driveTo(StageContracting)
	_, inNegotiation := s.update(at-30*time.Minute, UpdateExtendDeadline, "ext-1", extendBy(day, ""))
	s.signAt(at + time.Hour)
	_, tooShort := s.update(at+2*time.Hour, UpdateExtendDeadline, "ext-2", extendBy(30*time.Minute, ""))
	_, tooLong := s.update(at+2*time.Hour, UpdateExtendDeadline, "ext-3", extendBy(91*day, ""))
	byReviewer := ExtendRequest{Actor: reviewer, By: campaigns.Duration(day)}
	_, notOps := s.update(at+2*time.Hour, UpdateExtendDeadline, "ext-4", byReviewer)
	_, retry := s.update(at+15*day, UpdateResolve, "resolve-1", ResolveRequest{Actor: ops, Decision: ResolveRetry})
	s.mustUpdate(at+16*day, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	s.Equal(StageCancelled, s.result().Stage)
	for name, err := range map[string]error{"negotiating": *inNegotiation, "not ops": *notOps} {
		var appErr *temporal.ApplicationError
		s.Require().Error(err, name)
		s.False(errors.As(err, &appErr) && appErr.Type() == InvalidArgument, "%s: %v", name, err)
	}
	for name, err := range map[string]error{"30 minutes": *tooShort, "91 days": *tooLong, "retry of a deadline": *retry} {
		var appErr *temporal.ApplicationError
		s.Require().True(errors.As(err, &appErr) && appErr.Type() == InvalidArgument, "%s: %v", name, err)
	}
	s.Contains((*tooShort).Error(), "by:")
	s.Contains((*retry).Error(), "extend the deadline or cancel")
}
