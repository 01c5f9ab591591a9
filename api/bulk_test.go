package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// bulkDone waits for a bulk action to finish and returns it with its items.
func bulkDone(t *testing.T, id string) (map[string]any, []any) {
	t.Helper()
	var b map[string]any
	eventually(t, "bulk action "+id+" to finish", func() bool {
		b = must(t, 200, call(t, "GET", "/v1/bulk-actions/"+id, auditorKey, nil)).Body["bulk_action"].(map[string]any)
		return b["finished_at"] != nil
	})
	return b, must(t, 200, call(t, "GET", "/v1/bulk-actions/"+id, opsKey, nil)).Body["items"].([]any)
}

// TestBulkPauseResumeCancel: a bulk pause takes every open collaboration of the campaign
// (not the ended one); a second pause of one is refused by it, with its words; a resume of
// the outreach stage and a cancel of the rest apply to each; bad selections are 422s.
func TestBulkPauseResumeCancel(t *testing.T) {
	campaign := newCampaign(t)
	var ids []string
	for range 3 {
		ids = append(ids, start(t, campaign, newCreator(t)))
	}
	ended := start(t, campaign, newCreator(t))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+ended+"/cancel", opsKey, `{"reason":"not a fit"}`))
	for _, id := range append(ids, ended) {
		waitForListed(t, "campaign_id="+campaign, id, map[bool]string{true: "cancelled", false: "outreach"}[id == ended])
	}

	paused := must(t, 202, call(t, "POST", "/v1/campaigns/"+campaign+"/bulk", opsKey, `{"action":"pause","reason":"brand review"}`))
	if b, items := bulkDone(t, paused.str("id")); b["applied"] != float64(3) || len(items) != 3 {
		t.Fatalf("bulk pause: %v %v", b, items)
	}
	for _, id := range ids {
		if st := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)); st.Body["outreach"].(map[string]any)["paused_at"] == nil {
			t.Fatalf("%s not paused: %s", id, st.Raw)
		}
	}
	again := must(t, 202, call(t, "POST", "/v1/campaigns/"+campaign+"/bulk", opsKey, map[string]any{"action": "pause", "collaboration_ids": ids[:1]}))
	if b, items := bulkDone(t, again.str("id")); b["refused"] != float64(1) || items[0].(map[string]any)["result"] == "" {
		t.Fatalf("second pause: %v %v", b, items)
	}
	resumed := must(t, 202, call(t, "POST", "/v1/campaigns/"+campaign+"/bulk", opsKey, `{"action":"resume","stage":"outreach"}`))
	if b, _ := bulkDone(t, resumed.str("id")); b["applied"] != float64(3) {
		t.Fatalf("bulk resume: %v", b)
	}

	must(t, 422, call(t, "POST", "/v1/campaigns/"+campaign+"/bulk", opsKey, `{"action":"cancel"}`))
	must(t, 422, call(t, "POST", "/v1/campaigns/"+campaign+"/bulk", opsKey, `{"action":"archive","reason":"x"}`))
	r := must(t, 422, call(t, "POST", "/v1/campaigns/"+campaign+"/bulk", opsKey, map[string]any{"action": "cancel", "reason": "x",
		"collaboration_ids": []string{ids[0], start(t, newCampaign(t), newCreator(t))}}))
	if r.field("collaboration_ids[1]") == "" {
		t.Fatalf("foreign collaboration: %s", r.Raw)
	}
	cancelled := must(t, 202, call(t, "POST", "/v1/campaigns/"+campaign+"/bulk", opsKey, `{"action":"cancel","reason":"campaign stopped"}`))
	if b, _ := bulkDone(t, cancelled.str("id")); b["applied"] != float64(3) {
		t.Fatalf("bulk cancel: %v", b)
	}
	for _, id := range ids {
		waitForStage(t, id, "cancelled")
	}
	must(t, 422, call(t, "POST", "/v1/campaigns/"+campaign+"/bulk", opsKey, `{"action":"resume"}`)) // nothing open
	must(t, 403, call(t, "POST", "/v1/campaigns/"+campaign+"/bulk", reviewerKey, `{"action":"pause"}`))
}

// wedge starts, for a new creator of the campaign, a collaboration whose workflow task
// fails every time, as one would after a bad rollout: a workflow of the collaboration's
// type under the collaboration's ID, with its read-model row, on a task queue whose worker
// panics in it. It returns the collaboration's ID; the test's end removes it.
func wedge(t *testing.T, campaign string) string {
	t.Helper()
	ctx := context.Background()
	creator := newCreator(t)
	id := workflows.CollaborationID(campaign, creator)
	if err := st.RecordCollaboration(ctx, store.Collaboration{ID: id, CampaignID: campaign, CreatorID: creator,
		Stage: string(workflows.StageOutreach), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	queue := "wedged-" + t.Name()
	w := worker.New(temporalClient, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(workflow.Context, workflows.CollaborationInput) error {
		panic("a bad rollout")
	}, workflow.RegisterOptions{Name: workflows.CollaborationWorkflow})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	if _, err := temporalClient.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue},
		workflows.CollaborationWorkflow, workflows.CollaborationInput{CampaignID: campaign, CreatorID: creator}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = temporalClient.TerminateWorkflow(context.Background(), id, "", "test over") })
	return id
}

// TestBulkCancelGoesPastAWedgedCollaboration is N-2: a bulk cancel whose first
// collaboration's workflow task keeps failing records that one failed, with why, after the
// per-item bound (short in this package's worker), and cancels every other.
func TestBulkCancelGoesPastAWedgedCollaboration(t *testing.T) {
	campaign := newCampaign(t)
	wedged := wedge(t, campaign)
	var ids []string
	for range 3 {
		ids = append(ids, start(t, campaign, newCreator(t)))
	}
	for _, id := range ids {
		waitForListed(t, "campaign_id="+campaign, id, "outreach")
	}
	r := must(t, 202, call(t, "POST", "/v1/campaigns/"+campaign+"/bulk", opsKey, map[string]any{
		"action": "cancel", "reason": "campaign stopped", "collaboration_ids": append([]string{wedged}, ids...)}))
	b, items := bulkDone(t, r.str("id"))
	if b["applied"] != float64(3) || b["failed"] != float64(1) {
		t.Fatalf("bulk cancel: %v %v", b, items)
	}
	first := items[0].(map[string]any)
	if first["collaboration_id"] != wedged || first["status"] != "failed" ||
		!strings.HasPrefix(first["result"].(string), "did not accept the update within "+bulkItemTimeout.String()+"; retry later") {
		t.Fatalf("wedged item %v", first)
	}
	for _, id := range ids {
		waitForStage(t, id, "cancelled")
	}
}
