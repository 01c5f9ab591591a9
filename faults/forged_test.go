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
	"go.temporal.io/sdk/converter"

	"github.com/collabflow/collabflow/codec"
	"github.com/collabflow/collabflow/workflows"
)

// faultsCodecKeys encrypt the run's payloads, as production's COLLABFLOW_CODEC_KEYS do:
// one key of 32 bytes 0x2a.
const faultsCodecKeys = "faults1:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="

// faultsConverter is the converter of the run's processes, for the test's own client.
func faultsConverter() converter.DataConverter {
	c, err := codec.Parse(faultsCodecKeys)
	if err != nil {
		panic(err) // a constant
	}
	return c.DataConverter()
}

// forgedSignal is the last phase: a reply in plain JSON with a made-up actor, sent
// straight to Temporal by a client without the codec (what the Temporal CLI or a rebound
// Web UI could send), must not move a collaboration out of outreach; the collaboration
// records the refusal instead. An update sent the same way is rejected. It runs after the
// checks, on a collaboration of its own.
func (h *harness) forgedSignal(ctx context.Context, t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	a, err := h.api.send(ctx, jsonRequest(http.MethodPost, "/v1/creators", opsKey, map[string]any{
		"name": "Forged Target", "email": "forged.target@example.com", "timezone": "UTC",
		"handles": map[string]string{"instagram": "forged.target"}, "followers": 20000,
	}))
	var creator struct{ ID string }
	if err := created(a, err, "creator", &creator); err != nil {
		t.Errorf("forged signal phase: %v", err)
		return
	}
	a, err = h.api.send(ctx, jsonRequest(http.MethodPost, "/v1/collaborations", opsKey,
		map[string]string{"campaign_id": h.campaignID, "creator_id": creator.ID}))
	var st workflows.CollaborationState
	if err := created(a, err, "start", &st); err != nil {
		t.Errorf("forged signal phase: %v", err)
		return
	}
	plain, err := client.NewClientFromExisting(h.stack.tc, client.Options{DataConverter: converter.GetDefaultDataConverter()})
	if err != nil {
		t.Errorf("forged signal phase: %v", err)
		return
	}
	defer plain.Close()
	forged := workflows.OutreachEvent{Kind: workflows.OutreachReply, At: time.Now().UTC(), Detail: "email received",
		Ref: "forged via web ui", Actor: &workflows.Actor{Name: "ops-bob", Role: "ops", RequestID: "forged"}}
	if err := plain.SignalWorkflow(ctx, st.ID, "", workflows.SignalOutreachEvent, forged); err != nil {
		t.Errorf("forged signal phase: send the signal: %v", err)
		return
	}
	h2, err := plain.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: st.ID, UpdateName: workflows.UpdateRecordReply,
		WaitForStage: client.WorkflowUpdateStageCompleted, Args: []any{workflows.ReplyRequest{Actor: *forged.Actor}}})
	if err == nil {
		err = h2.Get(ctx, nil)
	}
	updateRefused := err != nil && strings.Contains(err.Error(), "not encrypted")

	var got workflows.CollaborationState
	_, pollErr := pollUntil(ctx, time.Now(), time.Minute, "the refusal recorded", func() bool {
		a, err := h.api.send(ctx, jsonRequest(http.MethodGet, "/v1/collaborations/"+st.ID, auditorKey, nil))
		return err == nil && a.Status == http.StatusOK && a.decode(&got) == nil && hasEventKind(got, workflows.EventInputRefused)
	})
	refused := pollErr == nil
	applied := got.Stage == workflows.StageNegotiating || hasEventKind(got, workflows.EventReplyReceived)
	for _, e := range got.Events {
		applied = applied || e.Actor != nil && e.Actor.Name == "ops-bob"
	}
	fmt.Printf("forged plain-JSON signal and update sent straight to Temporal: signal refused and recorded %v, applied %v, update rejected %v (stage %s)\n",
		refused, applied, updateRefused, got.Stage)
	if !refused || applied || !updateRefused {
		t.Errorf("forged plain-JSON input: refusal recorded %v, applied %v, update rejected %v (%v); events %+v", refused, applied, updateRefused, err, got.Events)
	}
	_, _ = h.api.send(ctx, change("/v1/collaborations/"+st.ID+"/cancel", opsKey, map[string]string{"reason": "forged signal phase done"}))
}

// created decodes the answer a (with the error of sending it) to a POST that creates
// what into v.
func created(a answer, err error, what string, v any) error {
	if err != nil {
		return err
	}
	if a.Status != http.StatusCreated && a.Status != http.StatusOK {
		return fmt.Errorf("%s: %s", what, a)
	}
	return a.decode(v)
}

// hasEventKind reports whether st recorded an event of kind.
func hasEventKind(st workflows.CollaborationState, kind string) bool {
	for _, e := range st.Events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}
