package api_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/collabflow/collabflow/audit"
)

// exportHistory saves a finished collaboration's history into the replay corpus when
// COLLABFLOW_WRITE_HISTORIES is set (see README: adding a history to the corpus), and
// always checks that it replays.
func exportHistory(t *testing.T, id, name string) {
	t.Helper()
	waitClosed(t, id)
	runs, err := audit.Fetch(context.Background(), temporalClient, id)
	if err != nil {
		t.Fatal(err)
	}
	if res := audit.Replay(nil, audit.Histories(runs)); !res.Deterministic {
		t.Fatalf("history of %s does not replay: %s", id, res.Mismatch)
	}
	if os.Getenv("COLLABFLOW_WRITE_HISTORIES") == "" {
		return
	}
	b, err := audit.MarshalExport(id, runs)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "workflows", "testdata", "histories", name+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// waitClosed waits until the workflow's run has closed: an update's answer can come
// before the run records its completion.
func waitClosed(t *testing.T, id string) {
	t.Helper()
	eventually(t, id+" to close", func() bool {
		desc, err := temporalClient.DescribeWorkflowExecution(context.Background(), id, "")
		return err == nil && desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
}

func TestHistoryTimelineAndReplayEndpoints(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{"note":"by phone"}`))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/decline", opsKey, `{"reason":"budget too small"}`))
	waitForStage(t, id, "declined")
	waitClosed(t, id)

	must(t, 403, call(t, "GET", "/v1/collaborations/"+id+"/history", reviewerKey, nil))
	h := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/history", auditorKey, nil))
	runs := h.Body["runs"].([]any)
	if len(runs) != 1 || h.str("workflowId") != id {
		t.Fatalf("history %s", h.Raw[:min(len(h.Raw), 300)])
	}
	events := runs[0].(map[string]any)["events"].([]any)
	first := events[0].(map[string]any)
	if first["eventId"] == nil || !strings.Contains(fmt.Sprint(first["eventType"]), "WORKFLOW_EXECUTION_STARTED") {
		t.Fatalf("not the temporal show format: %v", first)
	}
	// The export reads back with the SDK and replays.
	hs, err := audit.Parse(h.Raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res := audit.Replay(nil, hs); !res.Deterministic || res.Final == nil || res.Final.Stage != "declined" {
		t.Fatalf("replay %+v", res)
	}
	r := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replay", auditorKey, nil))
	if !strings.Contains(r.str("summary"), "deterministic") {
		t.Fatalf("replay endpoint: %s", r.Raw)
	}

	tl := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/timeline", auditorKey, nil))
	entries := tl.Body["entries"].([]any)
	var declined map[string]any
	for _, e := range entries {
		if m := e.(map[string]any); m["what"] == "declined" {
			declined = m
		}
	}
	if declined == nil || declined["actor"].(map[string]any)["name"] != "ops-team" || declined["request_id"] == "" || declined["from"] != "negotiating" {
		t.Fatalf("timeline %s", tl.Raw)
	}
	if stays := tl.Body["stages"].([]any); len(stays) != 3 {
		t.Fatalf("stages %v", stays)
	}
	// As it was just before the decline: still negotiating.
	declinedAt, err := time.Parse(time.RFC3339Nano, declined["at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	at := declinedAt.Add(-time.Millisecond).Format(time.RFC3339Nano)
	past := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/timeline?at="+at, auditorKey, nil))
	if past.str("stage") != "negotiating" || len(past.Body["entries"].([]any)) >= len(entries) {
		t.Fatalf("timeline at %s: %s", at, past.Raw)
	}
	// The full state then, from history: the reply update's answer.
	if st, _ := past.Body["state"].(map[string]any); st == nil || st["stage"] != "negotiating" {
		t.Fatalf("state at %s: %v", at, past.Body["state"])
	}
	must(t, 400, call(t, "GET", "/v1/collaborations/"+id+"/timeline?at=yesterday", auditorKey, nil))
	must(t, 404, call(t, "GET", "/v1/collaborations/collab-x-y/history", auditorKey, nil))
	exportHistory(t, id, "declined-in-negotiation")

	// The export job writes every collaboration of the campaign; the file replays offline.
	campaign := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).str("campaign_id")
	dir := t.TempDir()
	n, err := audit.ExportCampaign(context.Background(), st, temporalClient, campaign, dir)
	if err != nil || n != 1 {
		t.Fatalf("export: %d %v", n, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	exported, err := audit.Parse(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res := audit.Replay(nil, exported); !res.Deterministic || res.Final.Stage != "declined" {
		t.Fatalf("exported file replay: %+v", res)
	}
}

func TestTakedownHoldsThePayout(t *testing.T) {
	id := approvedCollaboration(t, map[string]any{"live_window": "4s", "verification_interval": "1s"})
	code := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Body["attribution"].(map[string]any)["code"].(string)
	postURL, up := postPage(t, id, code)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/posts", opsKey, fmt.Sprintf(`{"url":%q}`, postURL)))
	waitForStage(t, id, "live")
	up.Store(false)
	eventually(t, "the hold", func() bool {
		return must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).str("hold") != ""
	})
	waitForStage(t, id, "payout")
	if n := len(must(t, 200, call(t, "GET", "/v1/payouts?collaboration_id="+id, auditorKey, nil)).Body["items"].([]any)); n != 0 {
		t.Fatalf("%d payouts while on hold", n)
	}
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/verification/override", opsKey, `{"post":0,"reason":"creator reposted, checked by hand"}`))
	var payoutID string
	eventually(t, "the payout", func() bool {
		items := must(t, 200, call(t, "GET", "/v1/payouts?status=pending&collaboration_id="+id, financeKey, nil)).Body["items"].([]any)
		if len(items) == 1 {
			payoutID = items[0].(map[string]any)["id"].(string)
		}
		return payoutID != ""
	})
	must(t, 200, call(t, "POST", "/v1/payouts/"+payoutID+"/confirm", financeKey, `{"reference":"BANK-7"}`))
	waitForStage(t, id, "completed")
	exportHistory(t, id, "post-taken-down")
}
