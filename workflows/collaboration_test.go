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

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/campaigns"
)

type collaborationSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment
	// recorded collects the stage changes sent to the read model.
	recorded []activities.StageChange
}

func TestCollaboration(t *testing.T) { suite.Run(t, new(collaborationSuite)) }

func (s *collaborationSuite) SetupTest() {
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflowWithOptions(Collaboration, workflowOptions())
	s.env.RegisterActivity(&activities.Activities{})
	s.recorded = nil
	s.env.OnActivity(a.RecordStage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, c activities.StageChange) error {
			s.recorded = append(s.recorded, c)
			return nil
		})
}

func (s *collaborationSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

var ops = Actor{Name: "ops-1", Role: "ops", RequestID: "req-1"}

func input() CollaborationInput {
	return CollaborationInput{CampaignID: "camp", CreatorID: "crea", Timings: campaigns.DefaultTimings(), StartedBy: ops}
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

func (s *collaborationSuite) TestWaitsInOutreachUntilCancelled() {
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(QueryState)
		s.Require().NoError(err)
		var st CollaborationState
		s.Require().NoError(v.Get(&st))
		s.Equal(StageOutreach, st.Stage)
		s.Equal("camp", st.CampaignID)
		s.Len(st.Events, 1)
	}, 3*24*time.Hour)
	result, updErr := s.update(5*24*time.Hour, UpdateCancel, "req-2", CancelRequest{Actor: ops, Reason: " brand paused the campaign "})

	s.env.ExecuteWorkflow(Collaboration, input())

	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	s.Require().NoError(*updErr)
	var final CollaborationState
	s.Require().NoError(s.env.GetWorkflowResult(&final))
	s.Equal(StageCancelled, final.Stage)
	s.Equal(StageCancelled, result.Stage)
	s.Equal("brand paused the campaign", final.CancelReason)
	s.Require().Len(final.Events, 2)
	s.Equal(EventCancelled, final.Events[1].Kind)
	s.Equal(StageOutreach, final.Events[1].From)
	s.Equal(&ops, final.Events[0].Actor, "the start records who started it")
	s.Equal(&ops, final.Events[1].Actor)
	s.Equal(5*24*time.Hour, final.Events[1].At.Sub(final.Events[0].At))

	s.Require().Len(s.recorded, 2)
	s.Equal(activities.StageChange{CollaborationID: final.ID, CampaignID: "camp", CreatorID: "crea", Stage: "outreach", Seq: 1, At: final.Events[0].At}, s.recorded[0])
	s.Equal("cancelled", s.recorded[1].Stage)
	s.Equal(2, s.recorded[1].Seq)
}

func (s *collaborationSuite) TestCancelValidatorRefusesBadRequests() {
	tests := []struct {
		name string
		req  CancelRequest
	}{
		{"no reason", CancelRequest{Actor: ops}},
		{"blank reason", CancelRequest{Actor: ops, Reason: "   "}},
		{"no actor", CancelRequest{Reason: "x"}},
		{"reason too long", CancelRequest{Actor: ops, Reason: string(make([]byte, MaxReasonLength+1))}},
	}
	var rejections []*error
	for i, tt := range tests {
		_, err := s.update(time.Duration(i+1)*time.Hour, UpdateCancel, tt.name, tt.req)
		rejections = append(rejections, err)
	}
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(QueryState)
		s.Require().NoError(err)
		var st CollaborationState
		s.Require().NoError(v.Get(&st))
		s.Equal(StageOutreach, st.Stage, "a refused cancel changed the stage")
		s.Len(st.Events, 1, "a refused cancel left an event")
	}, 10*time.Hour)
	s.update(11*time.Hour, UpdateCancel, "good", CancelRequest{Actor: ops, Reason: "ok"})

	s.env.ExecuteWorkflow(Collaboration, input())

	for i, err := range rejections {
		s.Errorf(*err, "%s was accepted", tests[i].name)
	}
	var final CollaborationState
	s.Require().NoError(s.env.GetWorkflowResult(&final))
	s.Equal(StageCancelled, final.Stage)
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
	s.env = s.NewTestWorkflowEnvironment()
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
	s.update(time.Hour, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "stop"})
	s.env.ExecuteWorkflow(Collaboration, input())
	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(3, calls, "one failed and two successful stage records")
}
