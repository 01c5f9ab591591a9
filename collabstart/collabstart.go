// Package collabstart starts collaboration workflows: the one way the API's single start
// and a campaign launch begin a (campaign, creator) pair, so both write the read model
// first, derive the same workflow ID and never start a pair twice.
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
func Input(campaign campaigns.Campaign, creator roster.Creator, by workflows.Actor) workflows.CollaborationInput {
	return workflows.CollaborationInput{
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
}

// ErrAlreadyStarted means the pair's workflow exists: one pair, one workflow, ever.
var ErrAlreadyStarted = errors.New("collaboration already started")

// Start starts the pair's workflow and returns its ID. It returns ErrAlreadyStarted (with
// the ID) when the workflow exists, whoever started it; on any other failure the read
// model row written for it is removed again.
func (s Starter) Start(ctx context.Context, campaign campaigns.Campaign, creator roster.Creator, by workflows.Actor) (string, error) {
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
		Stage: string(workflows.StageOutreach), StageSeq: 0, UpdatedAt: time.Now(), Tier: tier})
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
	}, workflows.CollaborationWorkflow, Input(campaign, creator, by))
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
// with the launch's id as the request id in the history. It reports whether the pair's
// workflow already existed rather than failing.
func (s Starter) StartForLaunch(ctx context.Context, campaign campaigns.Campaign, creator roster.Creator, launchID, requestedBy string) (string, bool, error) {
	id, err := s.Start(ctx, campaign, creator, workflows.Actor{Name: requestedBy, Role: "ops", RequestID: "launch " + launchID})
	if errors.Is(err, ErrAlreadyStarted) {
		return id, true, nil
	}
	return id, false, err
}
