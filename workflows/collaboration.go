package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
)

// a is nil: workflows only need the methods' names and signatures to schedule activities.
var a *activities.Activities

// Collaboration runs one brand–creator collaboration from first contact to its end.
// Its state is the system of record; the database only mirrors the stage for listing.
func Collaboration(ctx workflow.Context, in CollaborationInput) (CollaborationState, error) {
	c := &collaboration{}
	if err := c.setup(ctx, in); err != nil {
		return CollaborationState{}, err
	}
	return c.run(ctx)
}

type collaboration struct {
	state     CollaborationState
	startedBy Actor
	// cancel is set by the cancel update; run acts on it.
	cancel *CancelRequest
}

func (c *collaboration) setup(ctx workflow.Context, in CollaborationInput) error {
	info := workflow.GetInfo(ctx)
	now := workflow.Now(ctx).UTC()
	c.startedBy = in.StartedBy
	c.state = CollaborationState{
		ID:         info.WorkflowExecution.ID,
		CampaignID: in.CampaignID,
		CreatorID:  in.CreatorID,
		StartedAt:  now,
		UpdatedAt:  now,
		Timings:    in.Timings,
		Events:     []Event{},
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CollaborationState, error) {
		return c.state, nil
	}); err != nil {
		return fmt.Errorf("register %s query: %w", QueryState, err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCancel, c.handleCancel,
		workflow.UpdateHandlerOptions{Validator: c.validateCancel}); err != nil {
		return fmt.Errorf("register %s update: %w", UpdateCancel, err)
	}
	return nil
}

func (c *collaboration) run(ctx workflow.Context) (CollaborationState, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: time.Minute},
	})
	if err := c.moveTo(ctx, StageOutreach, Event{Kind: EventStarted, Actor: &c.startedBy}); err != nil {
		return c.state, err
	}

	// The outreach sequence is the next slice of this workflow; until it exists a
	// collaboration waits in outreach for a person to act on it.
	if err := workflow.Await(ctx, func() bool { return c.cancel != nil }); err != nil {
		return c.state, err
	}
	c.state.CancelReason = c.cancel.Reason
	if err := c.moveTo(ctx, StageCancelled, Event{Kind: EventCancelled, Actor: &c.cancel.Actor, Detail: c.cancel.Reason}); err != nil {
		return c.state, err
	}
	// Let the cancel update return its result before the run closes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return c.state, err
	}
	return c.state, nil
}

// moveTo enters a stage: the event goes into the state, the stage into the search
// attributes and the read model.
func (c *collaboration) moveTo(ctx workflow.Context, to Stage, e Event) error {
	now := workflow.Now(ctx).UTC()
	e.Seq = len(c.state.Events) + 1
	e.At = now
	e.From, e.To = c.state.Stage, to
	c.state.Events = append(c.state.Events, e)
	c.state.Stage = to
	c.state.UpdatedAt = now

	if err := workflow.UpsertTypedSearchAttributes(ctx,
		SearchStage.ValueSet(string(to)),
		SearchCampaign.ValueSet(c.state.CampaignID),
		SearchCreator.ValueSet(c.state.CreatorID),
	); err != nil {
		return fmt.Errorf("upsert search attributes: %w", err)
	}
	err := workflow.ExecuteActivity(ctx, a.RecordStage, activities.StageChange{
		CollaborationID: c.state.ID,
		CampaignID:      c.state.CampaignID,
		CreatorID:       c.state.CreatorID,
		Stage:           string(to),
		Seq:             e.Seq,
		At:              now,
	}).Get(ctx, nil)
	if err != nil {
		return fmt.Errorf("record stage %s: %w", to, err)
	}
	return nil
}

// validateCancel refuses a cancel that cannot be carried out, before it enters history.
func (c *collaboration) validateCancel(req CancelRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	reason := strings.TrimSpace(req.Reason)
	switch {
	case reason == "":
		return errors.New("reason: required")
	case len(reason) > MaxReasonLength:
		return fmt.Errorf("reason: at most %d characters", MaxReasonLength)
	case c.state.Stage.Terminal():
		return fmt.Errorf("collaboration already ended as %s", c.state.Stage)
	case c.cancel != nil:
		return errors.New("collaboration is already being cancelled")
	}
	return nil
}

func (c *collaboration) handleCancel(ctx workflow.Context, req CancelRequest) (CollaborationState, error) {
	req.Reason = strings.TrimSpace(req.Reason)
	c.cancel = &req
	if err := workflow.Await(ctx, func() bool { return c.state.Stage == StageCancelled }); err != nil {
		return CollaborationState{}, err
	}
	return c.state, nil
}

func validateActor(a Actor) error {
	if a.Name == "" || a.Role == "" {
		return errors.New("actor: name and role required")
	}
	return nil
}
