package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/store"
)

// Bulk actions on collaborations.
const (
	BulkPause  = "pause"
	BulkResume = "resume"
	BulkCancel = "cancel"
)

// BulkActions lists the bulk actions, for validation.
var BulkActions = []string{BulkPause, BulkResume, BulkCancel}

// Steerer applies one action to one collaboration's workflow as a workflow update with the
// given update ID, so that a retried batch cannot apply it twice. refusal is the
// collaboration's own "no" (ended, not in outreach, already paused), which is final;
// err is a failure to reach Temporal, for a retry. collabstart.Starter implements it.
type Steerer interface {
	Steer(ctx context.Context, collaborationID, updateID, action, reason, requestedBy string) (refusal string, err error)
}

// BulkBatchInput names the next items of a bulk action.
type BulkBatchInput struct {
	BulkID      string `json:"bulk_id"`
	Action      string `json:"action"`
	Reason      string `json:"reason,omitempty"`
	RequestedBy string `json:"requested_by"`
	AfterSeq    int    `json:"after_seq"`
	Limit       int    `json:"limit"`
}

// BulkBatchResult counts what a batch did; LastSeq is where the next one begins.
type BulkBatchResult struct {
	LastSeq int  `json:"last_seq"`
	Applied int  `json:"applied"`
	Refused int  `json:"refused"`
	Failed  int  `json:"failed"`
	Done    bool `json:"done"`
}

// ApplyBulkBatch applies a bulk action to the next items, in order, and records each
// collaboration's answer. The update ID of an item is the bulk action's ID and the item's
// number, so a retry after a crash (which finds the item still pending) is the same update
// and Temporal applies it once.
func (a *Activities) ApplyBulkBatch(ctx context.Context, in BulkBatchInput) (BulkBatchResult, error) {
	res := BulkBatchResult{LastSeq: in.AfterSeq}
	switch {
	case in.Limit < 1 || in.Limit > store.MaxBulk:
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("batch limit %d", in.Limit), "BadInput", nil)
	case a.Steerer == nil:
		return res, temporal.NewNonRetryableApplicationError("no collaboration steerer configured", "BadInput", nil)
	}
	items, err := a.Store.BulkItems(ctx, in.BulkID, in.AfterSeq, in.Limit, "")
	if err != nil {
		return res, err
	}
	for _, it := range items {
		activity.RecordHeartbeat(ctx, it.Seq)
		if it.Status == store.BulkPending {
			refusal, err := a.Steerer.Steer(ctx, it.CollaborationID, fmt.Sprintf("bulk-%s-%d", in.BulkID, it.Seq), in.Action, in.Reason, in.RequestedBy)
			if err != nil {
				return res, err
			}
			it.Status, it.Result = store.BulkApplied, ""
			if refusal != "" {
				it.Status, it.Result = store.BulkRefused, refusal
			}
			if err := a.Store.SetBulkItem(ctx, in.BulkID, it); err != nil {
				return res, err
			}
		}
		switch it.Status {
		case store.BulkApplied:
			res.Applied++
		case store.BulkRefused:
			res.Refused++
		case store.BulkFailed:
			res.Failed++
		}
		res.LastSeq = it.Seq
	}
	res.Done = len(items) < in.Limit
	return res, nil
}

// FinishBulkAction records that a bulk action went through every item.
func (a *Activities) FinishBulkAction(ctx context.Context, bulkID string) error {
	return a.Store.FinishBulkAction(ctx, bulkID)
}

// FailBulkRest marks what a bulk action could not apply failed with the reason.
func (a *Activities) FailBulkRest(ctx context.Context, bulkID, reason string) error {
	return a.Store.FailPendingBulkItems(ctx, bulkID, reason)
}
