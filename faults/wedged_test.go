//go:build faults

package faults

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// wedgedHealthy is how many healthy collaborations the wedged phase cancels beside the
// wedged one.
const wedgedHealthy = 3

// wedgedPhase is a bulk cancel whose first collaboration cannot accept an update: its
// workflow task fails every time, as after a bad rollout (a workflow of the
// collaboration's type under its ID, on a task queue whose worker, in this process,
// panics in it). The production worker must record that one failed with why after its
// per-item bound (20 s) and cancel the others, and the bulk action must finish. It runs
// on a campaign of its own after the checks, so the batch's figures do not see it.
func (h *harness) wedgedPhase(t *testing.T) {
	t.Helper()
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := h.wedgedBulk(ctx); err != nil {
		t.Errorf("wedged collaboration in a bulk cancel: %v", err)
		return
	}
	fmt.Printf("wedged phase: a bulk cancel of %d healthy collaborations and one whose workflow task fails finished in %.1fs: %d applied, the wedged one failed with its reason\n",
		wedgedHealthy, time.Since(began).Seconds(), wedgedHealthy)
}

// wedgedBulk runs the wedged phase and says what went wrong.
func (h *harness) wedgedBulk(ctx context.Context) error {
	s := h.stack
	campaign, err := h.created(ctx, "/v1/campaigns", map[string]any{
		"name": "Wedged", "brand": "Acme", "sender_email": "collabs@acme.test", "landing_url": "https://acme.test/wedged",
		// Nothing happens by itself during the phase.
		"timings":     map[string]any{"follow_up_delays": []string{"1h", "1h"}, "reply_wait": "1h"},
		"send_window": map[string]any{"start": "00:00", "end": "24:00", "days": []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
	})
	if err != nil {
		return err
	}
	var creators []string
	for i := range wedgedHealthy + 1 {
		id, err := h.created(ctx, "/v1/creators", map[string]any{
			"name": fmt.Sprintf("Wedged Creator %d", i), "email": fmt.Sprintf("wedged%d@example.com", i), "timezone": "UTC",
		})
		if err != nil {
			return err
		}
		creators = append(creators, id)
	}

	// The wedged one: its read-model row, as a start writes it first, and its workflow.
	wedged := workflows.CollaborationID(campaign, creators[0])
	st, err := store.Open(ctx, s.pg.URL())
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RecordCollaboration(ctx, store.Collaboration{ID: wedged, CampaignID: campaign, CreatorID: creators[0],
		Stage: string(workflows.StageOutreach), UpdatedAt: time.Now()}); err != nil {
		return err
	}
	const queue = "faults-wedged"
	w := worker.New(s.tc, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(workflow.Context, workflows.CollaborationInput) error {
		panic("a bad rollout")
	}, workflow.RegisterOptions{Name: workflows.CollaborationWorkflow})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	if _, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wedged, TaskQueue: queue},
		workflows.CollaborationWorkflow, workflows.CollaborationInput{CampaignID: campaign, CreatorID: creators[0]}); err != nil {
		return fmt.Errorf("start the wedged workflow: %w", err)
	}
	defer func() { _ = s.tc.TerminateWorkflow(context.Background(), wedged, "", "wedged phase over") }()

	ids := []string{wedged}
	for _, creator := range creators[1:] {
		id, err := h.created(ctx, "/v1/collaborations", map[string]any{"campaign_id": campaign, "creator_id": creator})
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	bulkID, err := h.created(ctx, "/v1/campaigns/"+campaign+"/bulk", map[string]any{
		"action": "cancel", "reason": "campaign stopped", "collaboration_ids": ids})
	if err != nil {
		return err
	}
	var got struct {
		BulkAction struct {
			Applied, Failed int
			FinishedAt      *time.Time `json:"finished_at"`
		} `json:"bulk_action"`
		Items []store.BulkItem
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		a, err := h.api.send(ctx, jsonRequest(http.MethodGet, "/v1/bulk-actions/"+bulkID, opsKey, nil))
		if err != nil {
			return err
		}
		if a.Status == http.StatusOK && a.decode(&got) == nil && got.BulkAction.FinishedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bulk action %s did not finish in 2 minutes: %s", bulkID, a)
		}
		if err := sleepUntil(ctx, time.Now().Add(250*time.Millisecond)); err != nil {
			return err
		}
	}
	switch {
	case got.BulkAction.Applied != wedgedHealthy || got.BulkAction.Failed != 1 || len(got.Items) != len(ids):
		return fmt.Errorf("bulk action %s: %+v", bulkID, got)
	}
	first := got.Items[0]
	if first.CollaborationID != wedged || first.Status != store.BulkFailed ||
		!strings.HasPrefix(first.Result, "did not accept the update within 20s; retry later") {
		return fmt.Errorf("wedged item %+v", first)
	}
	for _, it := range got.Items[1:] {
		if it.Status != store.BulkApplied {
			return fmt.Errorf("healthy item %+v", it)
		}
	}
	return nil
}

// created posts body as ops and returns the new resource's id (201 or 202).
func (h *harness) created(ctx context.Context, path string, body any) (string, error) {
	a, err := h.api.send(ctx, jsonRequest(http.MethodPost, path, opsKey, body))
	if err != nil {
		return "", err
	}
	var v struct{ ID string }
	if a.Status != http.StatusCreated && a.Status != http.StatusAccepted {
		return "", fmt.Errorf("POST %s: %s", path, a)
	}
	if err := a.decode(&v); err != nil {
		return "", err
	}
	return v.ID, nil
}
