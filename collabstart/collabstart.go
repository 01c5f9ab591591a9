// Package collabstart starts and steers collaboration workflows from outside them: the one
// way the API's single start and a campaign launch begin a (campaign, creator) pair (so
// both write the read model first, derive the same workflow ID and never start a pair
// twice), and the way bulk actions reach each collaboration.
package collabstart

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// ReadModel is the part of the store a start writes: the row comes before the workflow,
// so that an unsubscribe or bounce arriving before the workflow's first stage record
// finds the collaboration and signals it.
type ReadModel interface {
	RecordCollaboration(ctx context.Context, c store.Collaboration) error
	ForgetUnstartedCollaboration(ctx context.Context, id string) error
	RosterTier(ctx context.Context, campaignID, creatorID string) (string, error)
}

// Starter starts collaboration workflows on a Temporal client.
type Starter struct {
	Client client.Client
	Store  ReadModel
}

// Input is the workflow input of a pair: the campaign's timings, outreach plan and opening
// terms as they are now, copied so that the history holds the terms the workflow ran by.
func Input(campaign campaigns.Campaign, creator roster.Creator, by workflows.Actor, arm activities.Arm) workflows.CollaborationInput {
	in := workflows.CollaborationInput{
		CampaignID: campaign.ID,
		CreatorID:  creator.ID,
		Timings:    campaign.Timings,
		Outreach: workflows.OutreachPlan{
			Steps: len(campaign.Sequence), Window: campaign.SendWindow, Timezone: creator.Timezone,
		},
		Opening:     contract.FromCampaign(campaign),
		AutoApprove: campaign.AutoApprove,
		StartedBy:   by,
	}
	if arm.Experiment != "" {
		in.Outreach.Steps, in.Outreach.Experiment, in.Outreach.Variant = arm.Steps, arm.Experiment, arm.Variant
	}
	return in
}

// ErrAlreadyStarted means the pair's workflow exists: one pair, one workflow, ever.
var ErrAlreadyStarted = errors.New("collaboration already started")

// Start starts the pair's workflow and returns its ID. It returns ErrAlreadyStarted (with
// the ID) when the workflow exists, whoever started it; on any other failure the read
// model row written for it is removed again.
func (s Starter) Start(ctx context.Context, campaign campaigns.Campaign, creator roster.Creator, by workflows.Actor, arm activities.Arm) (string, error) {
	id := workflows.CollaborationID(campaign.ID, creator.ID)
	// The campaign works with the creator at its roster's tier, else at their own.
	tier, err := s.Store.RosterTier(ctx, campaign.ID, creator.ID)
	if err != nil {
		return id, err
	}
	if tier == "" {
		tier = string(creator.Tier)
	}
	err = s.Store.RecordCollaboration(ctx, store.Collaboration{ID: id, CampaignID: campaign.ID, CreatorID: creator.ID,
		Stage: string(workflows.StageOutreach), StageSeq: 0, UpdatedAt: time.Now(), Tier: tier, Variant: arm.Variant})
	if err != nil {
		return id, err
	}
	_, err = s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                workflows.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SearchStage.ValueSet(string(workflows.StageOutreach)),
			workflows.SearchCampaign.ValueSet(campaign.ID),
			workflows.SearchCreator.ValueSet(creator.ID),
		),
	}, workflows.CollaborationWorkflow, Input(campaign, creator, by, arm))
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return id, ErrAlreadyStarted
	}
	if err != nil {
		if ferr := s.Store.ForgetUnstartedCollaboration(context.WithoutCancel(ctx), id); ferr != nil {
			err = errors.Join(err, ferr)
		}
		return id, fmt.Errorf("start collaboration %s: %w", id, err)
	}
	return id, nil
}

// StartForLaunch starts a pair for a campaign launch, as the ops key that asked for it,
// with the launch's id as the request id in the history and the outreach test arm the
// launch gave it. It reports whether the pair's
// workflow already existed rather than failing.
func (s Starter) StartForLaunch(ctx context.Context, campaign campaigns.Campaign, creator roster.Creator, launchID, requestedBy string, arm activities.Arm) (string, bool, error) {
	id, err := s.Start(ctx, campaign, creator, workflows.Actor{Name: requestedBy, Role: "ops", RequestID: "launch " + launchID}, arm)
	if errors.Is(err, ErrAlreadyStarted) {
		return id, true, nil
	}
	return id, false, err
}

// Steer applies a bulk action (activities.BulkPause, BulkResume, BulkCancel) to one
// collaboration as the workflow update it stands for, under updateID, and returns once
// the workflow accepted it. The workflow's refusal (its validator's words, or that it has
// ended) is returned as refusal; only a failure to reach Temporal is an error.
func (s Starter) Steer(ctx context.Context, collaborationID, updateID, action, reason, requestedBy string) (string, error) {
	by := workflows.Actor{Name: requestedBy, Role: "ops", RequestID: updateID}
	var (
		name string
		arg  any
	)
	switch action {
	case activities.BulkPause:
		name, arg = workflows.UpdatePause, workflows.PauseRequest{Actor: by, Reason: reason}
	case activities.BulkResume:
		name, arg = workflows.UpdateResume, workflows.PauseRequest{Actor: by, Reason: reason}
	case activities.BulkCancel:
		name, arg = workflows.UpdateCancel, workflows.CancelRequest{Actor: by, Reason: reason}
	default:
		return "", temporal.NewNonRetryableApplicationError("unknown bulk action "+action, "BadInput", nil)
	}
	handle, err := s.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: collaborationID, UpdateID: updateID, UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	if err == nil {
		// A refusal is the update's outcome, there at once; an accepted update's result
		// (a cancel's, once the collaboration has ended) is not waited for long.
		wait, cancel := context.WithTimeout(ctx, steerWait)
		defer cancel()
		// Accepted is applied: a caller whose own bound ends while it waits for the
		// result has still steered the collaboration.
		if err = handle.Get(wait, nil); err != nil && wait.Err() != nil {
			err = nil
		}
	}
	var (
		appErr   *temporal.ApplicationError
		notFound *serviceerror.NotFound
	)
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &appErr):
		return activities.FirstLine(appErr.Message()), nil
	case errors.As(err, &notFound):
		return "the collaboration has ended or does not exist", nil
	}
	return "", fmt.Errorf("%s %s: %w", action, collaborationID, err)
}

// steerWait bounds how long Steer waits for an accepted update to finish.
const steerWait = 10 * time.Second
