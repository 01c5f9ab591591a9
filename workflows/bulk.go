package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
)

// BulkWorkflow is the registered name of Bulk.
const BulkWorkflow = "BulkAction"

// BulkWorkflowID is the workflow ID of a bulk action.
func BulkWorkflowID(bulkID string) string { return "bulk-" + bulkID }

// BulkInput applies an action to the collaborations of a bulk action PostgreSQL holds.
type BulkInput struct {
	BulkID      string `json:"bulk_id"`
	Action      string `json:"action"`
	Reason      string `json:"reason,omitempty"`
	RequestedBy string `json:"requested_by"`
	// BatchSize is how many collaborations one activity handles; zero means 100.
	BatchSize int `json:"batch_size,omitempty"`
}

// BulkResult counts what a bulk action did.
type BulkResult struct {
	Applied int `json:"applied"`
	Refused int `json:"refused"`
	Failed  int `json:"failed"`
	Batches int `json:"batches"`
}

// Bulk applies a pause, resume or cancel to each collaboration of a bulk action, in
// batches, recording each collaboration's answer in PostgreSQL; like Launch, a crash
// resumes at the first pending item, and a batch that keeps failing ends with the rest
// marked failed.
func Bulk(ctx workflow.Context, in BulkInput) (BulkResult, error) {
	var res BulkResult
	size := in.BatchSize
	if size <= 0 {
		size = DefaultLaunchBatch
	}
	bctx := workflow.WithActivityOptions(ctx, launchBatchOptions)
	batch := func(after int) (int, bool, time.Duration, error) {
		var out activities.BulkBatchResult
		err := workflow.ExecuteActivity(bctx, a.ApplyBulkBatch, activities.BulkBatchInput{
			BulkID: in.BulkID, Action: in.Action, Reason: in.Reason, RequestedBy: in.RequestedBy, AfterSeq: after, Limit: size,
		}).Get(ctx, &out)
		if err != nil {
			return after, false, 0, err
		}
		res.Applied += out.Applied
		res.Refused += out.Refused
		res.Failed += out.Failed
		return out.LastSeq, out.Done, 0, nil
	}
	failRest := func(err error) error {
		return workflow.ExecuteActivity(bctx, a.FailBulkRest, in.BulkID, "not applied: "+failureText(err)).Get(ctx, nil)
	}
	n, err := batches(ctx, batch, failRest)
	res.Batches = n
	if err != nil {
		return res, fmt.Errorf("bulk action %s: %w", in.BulkID, err)
	}
	if err := workflow.ExecuteActivity(bctx, a.FinishBulkAction, in.BulkID).Get(ctx, nil); err != nil {
		return res, fmt.Errorf("finish bulk action %s: %w", in.BulkID, err)
	}
	return res, nil
}
