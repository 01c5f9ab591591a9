package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

type bulkInput struct {
	Action string `json:"action"`
	Reason string `json:"reason" validate:"max=1000"`
	// CollaborationIDs is the selection; empty takes every open collaboration of the
	// campaign (in Stage, when set).
	CollaborationIDs []string `json:"collaboration_ids"`
	Stage            string   `json:"stage"`
}

// bulkAction pauses, resumes or cancels a selection of a campaign's collaborations (or all
// its open ones, or those in a stage) through a durable workflow, and answers 202 at once
// with the bulk action: GET /v1/bulk-actions/{id} shows each collaboration's answer.
func (s *Server) bulkAction(c echo.Context) error {
	campaignID, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	var in bulkInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := s.validate.Struct(in); err != nil {
		return validationError(err)
	}
	in.Reason = strings.TrimSpace(in.Reason)
	switch {
	case !slices.Contains(activities.BulkActions, in.Action):
		return invalid(map[string]string{"action": "one of " + strings.Join(activities.BulkActions, ", ")})
	case in.Action == activities.BulkCancel && in.Reason == "":
		return invalid(map[string]string{"reason": "required to cancel"})
	case in.Stage != "" && len(in.CollaborationIDs) > 0:
		return invalid(map[string]string{"stage": "give a stage or collaboration_ids, not both"})
	case in.Stage != "" && !slices.Contains(workflows.Stages, workflows.Stage(in.Stage)):
		return invalid(map[string]string{"stage": "not a stage"})
	case len(in.CollaborationIDs) > store.MaxBulk:
		return invalid(map[string]string{"collaboration_ids": fmt.Sprintf("at most %d", store.MaxBulk)})
	}
	ctx := c.Request().Context()
	if _, err := s.store.Campaign(ctx, campaignID); err != nil {
		return notFoundAs(err, "campaign")
	}
	ids, err := s.bulkSelection(ctx, campaignID, in)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return invalid(map[string]string{"collaboration_ids": "no open collaboration matches"})
	}
	by := actor(c)
	b, err := s.store.CreateBulkAction(ctx, store.BulkAction{CampaignID: campaignID, Action: in.Action, Reason: in.Reason, RequestedBy: by.Name}, ids)
	if err != nil {
		return err
	}
	err = s.startJob(ctx, client.StartWorkflowOptions{
		ID: workflows.BulkWorkflowID(b.ID), TaskQueue: workflows.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.BulkWorkflow, workflows.BulkInput{BulkID: b.ID, Action: in.Action, Reason: in.Reason, RequestedBy: by.Name})
	if err != nil {
		bg := context.WithoutCancel(ctx)
		if ferr := s.store.FailPendingBulkItems(bg, b.ID, "the bulk action could not start: try again"); ferr == nil {
			_ = s.store.FinishBulkAction(bg, b.ID)
		}
		return fmt.Errorf("start bulk action %s: %w", b.ID, err)
	}
	c.Set(finalAnswerKey, true)
	c.Response().Header().Set(echo.HeaderLocation, "/v1/bulk-actions/"+b.ID)
	return c.JSON(http.StatusAccepted, b)
}

// bulkSelection is the named collaborations, each checked to be the campaign's, or the
// campaign's open collaborations (in a stage, when given) from the read model.
func (s *Server) bulkSelection(ctx context.Context, campaignID string, in bulkInput) ([]string, error) {
	if len(in.CollaborationIDs) == 0 {
		var open []string
		for _, st := range workflows.Stages {
			if !st.Terminal() {
				open = append(open, string(st))
			}
		}
		return s.store.CampaignCollaborationIDs(ctx, campaignID, in.Stage, open, store.MaxBulk)
	}
	return pickIDs("collaboration_ids", in.CollaborationIDs, func(raw string) (string, string, error) {
		id := strings.ToLower(raw)
		row, err := s.store.Collaboration(ctx, id)
		switch {
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return "", "", err
		case err != nil || row.CampaignID != campaignID:
			return "", "not a collaboration of this campaign", nil
		}
		return id, "", nil
	})
}

// getBulkAction answers a bulk action's progress and a page of its items in order,
// filtered by ?status=.
func (s *Server) getBulkAction(c echo.Context) error {
	return jobPage(c, "bulk_action", []string{store.BulkPending, store.BulkApplied, store.BulkRefused, store.BulkFailed},
		s.store.BulkActionByID, s.store.BulkItems, func(it store.BulkItem) int { return it.Seq })
}

// seqPage reads limit and an item-number cursor (after).
func seqPage(c echo.Context) (int, int, error) {
	limit, after, err := pageParams(c)
	if err != nil {
		return 0, 0, err
	}
	seq := 0
	if after != "" {
		if seq, err = strconv.Atoi(after); err != nil || seq < 0 {
			return 0, 0, badRequest("after", "the next cursor of the previous page")
		}
	}
	return limit, seq, nil
}

// seqNext trims items fetched with limit+1 to limit and returns the next cursor.
func seqNext[T any](items []T, limit int, seq func(T) int) ([]T, string) {
	if items == nil {
		return []T{}, ""
	}
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, strconv.Itoa(seq(items[limit-1]))
}
