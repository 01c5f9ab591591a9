package workflows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/outreach"
)

type collaborationSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment
	// recorded collects the stage changes sent to the read model.
	recorded []activities.StageChange
	// sent collects the emails sent, with the workflow time they went out.
	sent   []activities.SendEmailInput
	sentAt []time.Time
	// sendResult, when set, decides each send's outcome.
	sendResult func(in activities.SendEmailInput) activities.SendEmailResult
	// sendErr, when set, makes a send attempt fail (a provider outage).
	sendErr func() error
	// stoppedKeys are the emails the workflow abandoned and marked stopped in the log.
	stoppedKeys []string
	// wentOut makes StopEmail answer that the log had the email sent already.
	wentOut bool
	// recordErr, when set, makes a read-model write fail.
	recordErr func(c activities.StageChange) error
	start     time.Time
}

func TestCollaboration(t *testing.T) { suite.Run(t, new(collaborationSuite)) }

// newTestEnv is a test environment whose deadlock detector allows for a busy machine. The
// SDK's default of one second fails a workflow task when a loaded CI machine deschedules
// the coroutine, which is not a deadlock; the replay and server tests still catch a real one.
func newTestEnv(s *testsuite.WorkflowTestSuite) *testsuite.TestWorkflowEnvironment {
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	return env
}

func (s *collaborationSuite) SetupTest() {
	s.env = newTestEnv(&s.WorkflowTestSuite)
	// A Tuesday, 10:00 UTC.
	s.start = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s.env.SetStartTime(s.start)
	s.env.RegisterWorkflowWithOptions(Collaboration, workflowOptions())
	s.env.RegisterWorkflowWithOptions(Rights, workflow.RegisterOptions{Name: RightsWorkflow})
	s.env.RegisterActivity(&activities.Activities{})
	s.recorded, s.sent, s.sentAt, s.sendResult, s.sendErr, s.recordErr, s.stoppedKeys, s.wentOut = nil, nil, nil, nil, nil, nil, nil, false
	s.env.OnActivity(a.StopEmail, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StopEmailInput) (activities.StopEmailResult, error) {
			s.stoppedKeys = append(s.stoppedKeys, in.MessageKey)
			return activities.StopEmailResult{WentOut: s.wentOut}, nil
		}).Maybe()
	s.env.OnActivity(a.RecordStage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, c activities.StageChange) error {
			if s.recordErr != nil {
				if err := s.recordErr(c); err != nil {
					return err
				}
			}
			s.recorded = append(s.recorded, c)
			return nil
		})
	s.env.OnActivity(a.SendOutreachEmail, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
			if s.sendErr != nil {
				if err := s.sendErr(); err != nil {
					return activities.SendEmailResult{}, err
				}
			}
			s.sent = append(s.sent, in)
			s.sentAt = append(s.sentAt, s.env.Now().UTC())
			if s.sendResult != nil {
				return s.sendResult(in), nil
			}
			return activities.SendEmailResult{Status: activities.SendSent, MessageKey: in.MessageKey()}, nil
		}).Maybe()
}

var ops = Actor{Name: "ops-1", Role: "ops", RequestID: "req-1"}

const day = 24 * time.Hour

// input is a three-email sequence (follow-ups after 3 and 4 days, a week for a reply)
// that may send at any time in UTC.
func input() CollaborationInput {
	t := campaigns.DefaultTimings()
	t.FollowUpDelays = []campaigns.Duration{campaigns.Duration(3 * day), campaigns.Duration(4 * day)}
	t.ReplyWait = campaigns.Duration(7 * day)
	return CollaborationInput{
		CampaignID: "camp", CreatorID: "crea", Timings: t, StartedBy: ops,
		Outreach: OutreachPlan{Steps: 3, Window: outreach.Always(), Timezone: "UTC"},
	}
}

// update sends an update after delay and reports its outcome to the returned pointers.
func (s *collaborationSuite) update(delay time.Duration, name, id string, arg any) (*CollaborationState, *error) {
	var (
		result CollaborationState
		outErr error
	)
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
			OnReject: func(err error) { outErr = err },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				if err != nil {
					outErr = err
					return
				}
				result = v.(CollaborationState)
			},
		}, arg)
	}, delay)
	return &result, &outErr
}

func (s *collaborationSuite) signal(delay time.Duration, ev OutreachEvent) {
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(SignalOutreachEvent, ev) }, delay)
}

func (s *collaborationSuite) query() CollaborationState {
	v, err := s.env.QueryWorkflow(QueryState)
	s.Require().NoError(err)
	var st CollaborationState
	s.Require().NoError(v.Get(&st))
	return st
}

func (s *collaborationSuite) result() CollaborationState {
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var final CollaborationState
	s.Require().NoError(s.env.GetWorkflowResult(&final))
	return final
}

// stages lists the stage changes the read model saw; a repeated stage (an escalation
// opened or resolved) is not a change.
func (s *collaborationSuite) stages() []string {
	var out []string
	for _, r := range s.recorded {
		if len(out) == 0 || out[len(out)-1] != r.Stage {
			out = append(out, r.Stage)
		}
	}
	return out
}

func (s *collaborationSuite) TestThreeEmailsThenNoResponse() {
	s.env.ExecuteWorkflow(Collaboration, input())

	final := s.result()
	s.Equal(StageNoResponse, final.Stage)
	s.Equal(OutreachNoResponse, final.Outreach.Status)
	s.Equal(3, final.Outreach.EmailsSent)
	s.Require().Len(s.sent, 3)
	for i, in := range s.sent {
		s.Equal(i, in.Step)
		s.Equal(final.ID, in.CollaborationID)
	}
	s.Equal([]time.Time{s.start, s.start.Add(3 * day), s.start.Add(7 * day)}, s.sentAt)
	s.Equal(s.start.Add(14*day), final.UpdatedAt, "no_response a reply_wait after the last email")
	s.Equal([]string{"outreach", "no_response"}, s.stages())
	s.Contains(final.EndReason, "no reply")
	// Each stage record carries its event's number, the read model's ordering key.
	s.Equal(1, s.recorded[0].Seq)
	s.Equal(final.Events[len(final.Events)-1].Seq, s.recorded[1].Seq)
	s.Equal(final.Events[len(final.Events)-1].At, s.recorded[1].At)
}

func (s *collaborationSuite) TestReplyAfterFirstEmailStopsTheSequence() {
	s.signal(day, OutreachEvent{Kind: OutreachReply, At: s.start.Add(day), Detail: "email received", Ref: "inbound message 7"})
	s.signal(day+time.Minute, OutreachEvent{Kind: OutreachReply, At: s.start.Add(day)}) // SendGrid retried the post
	s.env.RegisterDelayedCallback(func() {
		st := s.query()
		s.Equal(StageNegotiating, st.Stage)
		s.Equal(OutreachReplied, st.Outreach.Status)
	}, 2*day)
	s.update(20*day, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "test over"})

	s.env.ExecuteWorkflow(Collaboration, input())

	final := s.result()
	s.Len(s.sent, 1, "a follow-up went out after the reply")
	s.Equal([]string{"outreach", "negotiating", "cancelled"}, s.stages())
	var replies int
	for _, e := range final.Events {
		if e.Kind == EventReplyReceived {
			replies++
		}
	}
	s.Equal(1, replies, "a duplicate delivery counted as a second reply")
}

func (s *collaborationSuite) TestStopEvents() {
	tests := []struct {
		kind string
		want Stage
	}{
		{OutreachBounce, StageNoResponse},
		{OutreachDropped, StageNoResponse},
		{OutreachSpamReport, StageDeclined},
		{OutreachUnsubscribe, StageDeclined},
	}
	for _, tt := range tests {
		s.Run(tt.kind, func() {
			s.SetupTest()
			// After the second email (day 3) and before the third (day 7).
			s.signal(4*day, OutreachEvent{Kind: tt.kind, MessageKey: "k/outreach/2", Ref: "provider event ev-1"})
			s.env.ExecuteWorkflow(Collaboration, input())
			final := s.result()
			s.Equal(tt.want, final.Stage)
			s.Len(s.sent, 2)
			s.Equal(OutreachStopped, final.Outreach.Status)
			s.Contains(final.EndReason, tt.kind)
			s.Equal(s.start.Add(4*day), final.UpdatedAt, "the stop did not end the collaboration at once")
		})
	}
}

func (s *collaborationSuite) TestSuppressedAddressStopsBeforeSending() {
	s.sendResult = func(in activities.SendEmailInput) activities.SendEmailResult {
		if in.Step == 1 {
			return activities.SendEmailResult{Status: activities.SendSuppressed, Reason: "address suppressed: unsubscribe"}
		}
		return activities.SendEmailResult{Status: activities.SendSent}
	}
	s.env.ExecuteWorkflow(Collaboration, input())
	final := s.result()
	s.Equal(StageNoResponse, final.Stage)
	s.Equal(1, final.Outreach.EmailsSent)
	s.Len(s.sent, 2, "the third email was attempted")
	s.Contains(final.EndReason, "suppressed")
}

func (s *collaborationSuite) TestSendWindowInCreatorTimeZone() {
	in := input()
	in.Outreach.Window = outreach.BusinessHours()
	in.Outreach.Timezone = "America/New_York"
	// Saturday 2026-12-05 15:00 UTC is 10:00 in New York, a weekend.
	s.start = time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	s.env.SetStartTime(s.start)
	s.env.RegisterDelayedCallback(func() {
		st := s.query()
		s.Empty(s.sent)
		s.Equal(time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC), st.Outreach.NextSendAt.UTC())
	}, time.Hour)
	s.update(30*day, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, in)

	s.result()
	s.Require().Len(s.sent, 3)
	// Monday 09:00 New York; +3 days is Thursday 09:00; +4 days is Monday 09:00 again.
	s.Equal(time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC), s.sentAt[0])
	s.Equal(time.Date(2026, 12, 10, 14, 0, 0, 0, time.UTC), s.sentAt[1])
	s.Equal(time.Date(2026, 12, 14, 14, 0, 0, 0, time.UTC), s.sentAt[2])
}

func (s *collaborationSuite) TestFailedSendWaitsForOps() {
	s.sendResult = func(activities.SendEmailInput) activities.SendEmailResult {
		return activities.SendEmailResult{Status: activities.SendFailed, Reason: "sendgrid answered 400: from address not verified"}
	}
	s.env.OnActivity(a.NotifyOps, mock.Anything, mock.Anything).Return(activities.SendEmailResult{Status: activities.SendSent}, nil).Once()
	s.env.RegisterDelayedCallback(func() {
		st := s.query()
		s.Equal(StageOutreach, st.Stage)
		s.Equal(OutreachRunning, st.Outreach.Status, "a reply is still welcome")
		s.Require().NotNil(st.Attention, "the refusal waits for ops")
		s.Equal("outreach_email", st.Attention.Step)
		s.Contains(st.Attention.Reason, "not verified")
		s.Equal(st.Attention.Reason, s.recorded[len(s.recorded)-1].Attention.Reason, "the read model lists it")
	}, 30*day)
	replied, replyErr := s.update(31*day, UpdateRecordReply, "r", ReplyRequest{Actor: ops, NoteID: testNoteID})
	s.update(32*day, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, input())

	s.result()
	s.Require().NoError(*replyErr)
	s.Equal(StageNegotiating, replied.Stage)
	s.Len(s.sent, 1, "kept sending after a refusal")
	s.Nil(replied.Attention, "the reply settled the escalation")
	s.Equal([]string{"outreach", "negotiating", "cancelled"}, s.stages())
}

func (s *collaborationSuite) TestRecordReplyByOps() {
	st, err := s.update(day, UpdateRecordReply, "r1", ReplyRequest{Actor: ops, NoteID: testNoteID})
	_, again := s.update(2*day, UpdateRecordReply, "r2", ReplyRequest{Actor: ops})
	s.update(3*day, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, input())

	s.result()
	s.Require().NoError(*err)
	s.Equal(StageNegotiating, st.Stage)
	last := st.Events[len(st.Events)-1]
	s.Equal(EventReplyReceived, last.Kind)
	s.Equal(&ops, last.Actor)
	s.Equal("reply: recorded by hand (note "+testNoteID+")", last.Detail)
	s.Require().Error(*again, "a second reply in negotiating was accepted")
	s.Len(s.sent, 1)
}

func (s *collaborationSuite) TestCancelDuringOutreach() {
	result, updErr := s.update(5*day, UpdateCancel, "req-2", CancelRequest{Actor: ops, Reason: " brand paused the campaign "})

	s.env.ExecuteWorkflow(Collaboration, input())

	final := s.result()
	s.Require().NoError(*updErr)
	s.Equal(StageCancelled, final.Stage)
	s.Equal(StageCancelled, result.Stage)
	s.Equal("brand paused the campaign", final.CancelReason)
	s.Len(s.sent, 2, "an email went out after the cancel")
	last := final.Events[len(final.Events)-1]
	s.Equal(EventCancelled, last.Kind)
	s.Equal(StageOutreach, last.From)
	s.Equal(&ops, last.Actor)
	s.Equal(&ops, final.Events[0].Actor, "the start records who started it")
	s.Equal(s.start.Add(5*day), last.At)
	s.Equal([]string{"outreach", "cancelled"}, s.stages())
}

func (s *collaborationSuite) TestCancelValidatorRefusesBadRequests() {
	tests := []struct {
		name string
		req  CancelRequest
	}{
		{"no reason", CancelRequest{Actor: ops}},
		{"blank reason", CancelRequest{Actor: ops, Reason: "   "}},
		{"no actor", CancelRequest{Reason: "x"}},
		{"reason too long", CancelRequest{Actor: ops, Reason: strings.Repeat("x", MaxReasonLength+1)}},
	}
	var rejections []*error
	for i, tt := range tests {
		_, err := s.update(time.Duration(i+1)*time.Hour, UpdateCancel, tt.name, tt.req)
		rejections = append(rejections, err)
	}
	s.env.RegisterDelayedCallback(func() {
		st := s.query()
		s.Equal(StageOutreach, st.Stage, "a refused cancel changed the stage")
		s.Len(st.Events, 2, "a refused cancel left an event") // started, first email
	}, 10*time.Hour)
	s.update(11*time.Hour, UpdateCancel, "good", CancelRequest{Actor: ops, Reason: "ok"})

	s.env.ExecuteWorkflow(Collaboration, input())

	for i, err := range rejections {
		s.Errorf(*err, "%s was accepted", tests[i].name)
	}
	s.Equal(StageCancelled, s.result().Stage)
}

func TestValidateCancelRefusesEndedCollaboration(t *testing.T) {
	for _, stage := range []Stage{StageCancelled, StageCompleted, StageDeclined, StageNoResponse} {
		c := &collaboration{state: CollaborationState{Stage: stage}}
		err := c.validateCancel(CancelRequest{Actor: ops, Reason: "again"})
		if err == nil || !strings.Contains(err.Error(), "already ended") {
			t.Errorf("cancel in %s: %v", stage, err)
		}
	}
}

func (s *collaborationSuite) TestReadModelFailureRetries() {
	s.env = newTestEnv(&s.WorkflowTestSuite)
	s.env.RegisterWorkflowWithOptions(Collaboration, workflowOptions())
	s.env.RegisterActivity(&activities.Activities{})
	calls := 0
	s.env.OnActivity(a.RecordStage, mock.Anything, mock.Anything).Return(func(_ context.Context, c activities.StageChange) error {
		calls++
		if calls == 1 {
			return errors.New("database restarting")
		}
		return nil
	})
	in := input()
	in.Outreach.Steps = 0
	s.env.ExecuteWorkflow(Collaboration, in)
	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(3, calls, "one failed and two successful stage records")
}
