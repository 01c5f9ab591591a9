package api_test

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestCollaborationLifecycle(t *testing.T) {
	campaign, creator := newCampaign(t), newCreator(t)
	body := fmt.Sprintf(`{"campaign_id":%q,"creator_id":%q}`, campaign, creator)

	started := must(t, 201, call(t, "POST", "/v1/collaborations", opsKey, body))
	id := started.str("id")
	if id == "" || started.str("stage") != "outreach" || started.str("campaign_id") != campaign {
		t.Fatalf("started %s", started.Raw)
	}
	again := must(t, 200, call(t, "POST", "/v1/collaborations", opsKey, body))
	if again.str("id") != id {
		t.Fatalf("second start gave %s", again.Raw)
	}

	got := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, auditorKey, nil))
	if got.str("stage") != "outreach" || got.str("creator_id") != creator || got.str("campaign_id") != campaign {
		t.Fatalf("read %s", got.Raw)
	}
	// The first email may already be in the events: only the start is certain by now.
	if events := got.Body["events"].([]any); len(events) == 0 || events[0].(map[string]any)["kind"] != "started" ||
		events[0].(map[string]any)["actor"].(map[string]any)["name"] != "ops-team" {
		t.Fatalf("events %v", events)
	}

	waitForListed(t, "campaign_id="+campaign, id, "outreach")

	must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/cancel", opsKey, `{"reason":"  "}`))
	must(t, 403, call(t, "POST", "/v1/collaborations/"+id+"/cancel", reviewerKey, `{"reason":"no"}`))
	cancelled := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/cancel", opsKey, `{"reason":"brand paused the launch"}`))
	if cancelled.str("stage") != "cancelled" || cancelled.str("cancel_reason") != "brand paused the launch" {
		t.Fatalf("cancelled %s", cancelled.Raw)
	}
	events := cancelled.Body["events"].([]any)
	last := events[len(events)-1].(map[string]any)
	who := last["actor"].(map[string]any)
	if who["name"] != "ops-team" || who["role"] != "ops" || who["request_id"] != cancelled.Header.Get("X-Request-Id") || who["request_id"] == "" {
		t.Fatalf("cancel event %v, request id %q", last, cancelled.Header.Get("X-Request-Id"))
	}

	twice := must(t, 409, call(t, "POST", "/v1/collaborations/"+id+"/cancel", opsKey, `{"reason":"again"}`))
	if twice.str("error") == "" {
		t.Fatalf("second cancel: %s", twice.Raw)
	}
	closed := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil))
	if closed.str("stage") != "cancelled" {
		t.Fatalf("after close %s", closed.Raw)
	}
	// A closed collaboration is not restarted by a new POST.
	if r := must(t, 200, call(t, "POST", "/v1/collaborations", opsKey, body)); r.str("stage") != "cancelled" {
		t.Fatalf("POST after cancel %s", r.Raw)
	}
	waitForListed(t, "stage=cancelled&creator_id="+creator, id, "cancelled")
	if p := closed.Body["payouts"].([]any); len(p) != 0 {
		t.Fatalf("cancelling before signing paid %v", p)
	}
	exportHistory(t, id, "cancelled-in-outreach")
}

func TestStartCollaborationRefusesBadInput(t *testing.T) {
	campaign, creator := newCampaign(t), newCreator(t)
	missing := "01a21e0c-0000-7000-8000-000000000000"
	tests := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"no campaign", fmt.Sprintf(`{"creator_id":%q}`, creator), 422, "campaign_id"},
		{"campaign not an id", fmt.Sprintf(`{"campaign_id":"x","creator_id":%q}`, creator), 422, "campaign_id"},
		{"unknown campaign", fmt.Sprintf(`{"campaign_id":%q,"creator_id":%q}`, missing, creator), 422, "campaign_id"},
		{"unknown creator", fmt.Sprintf(`{"campaign_id":%q,"creator_id":%q}`, campaign, missing), 422, "creator_id"},
		{"extra field", fmt.Sprintf(`{"campaign_id":%q,"creator_id":%q,"stage":"live"}`, campaign, creator), 400, "stage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "POST", "/v1/collaborations", opsKey, tt.body)
			if r.Status != tt.status || r.field(tt.field) == "" {
				t.Fatalf("got %d %s, want %d naming %q", r.Status, r.Raw, tt.status, tt.field)
			}
		})
	}
	list := must(t, 200, call(t, "GET", "/v1/collaborations?creator_id="+creator, opsKey, nil))
	if len(list.Body["items"].([]any)) != 0 {
		t.Fatal("a refused start left a collaboration")
	}
	must(t, 404, call(t, "GET", "/v1/collaborations/collab-"+missing+"-"+missing, opsKey, nil))
	must(t, 404, call(t, "GET", "/v1/collaborations/whatever", opsKey, nil))
	must(t, 404, call(t, "POST", "/v1/collaborations/collab-"+missing+"-"+missing+"/cancel", opsKey, `{"reason":"x"}`))
	for _, q := range []string{"stage=dancing", "campaign_id=x", "creator_id=y", "limit=-1"} {
		must(t, 400, call(t, "GET", "/v1/collaborations?"+q, opsKey, nil))
	}
}

// TestConcurrentStartsMakeOneCollaboration is the ops team double-clicking: many identical
// POSTs at once give exactly one 201 and one workflow.
func TestConcurrentStartsMakeOneCollaboration(t *testing.T) {
	campaign, creator := newCampaign(t), newCreator(t)
	body := fmt.Sprintf(`{"campaign_id":%q,"creator_id":%q}`, campaign, creator)
	const n = 10
	statuses := make([]int, n)
	ids := make([]string, n)
	bodies := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := call(t, "POST", "/v1/collaborations", opsKey, body)
			statuses[i], ids[i], bodies[i] = r.Status, r.str("id"), r.Raw
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		switch statuses[i] {
		case 201:
			created++
		case 200:
		default:
			t.Fatalf("start %d: status %d: %s", i, statuses[i], bodies[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("ids differ: %v", ids)
		}
	}
	if created != 1 {
		t.Fatalf("%d starts answered 201", created)
	}
}

// waitForListed polls the list until the read model shows the collaboration in stage:
// the worker's activity writes it shortly after the workflow moves.
func waitForListed(t *testing.T, query, id, stage string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := must(t, 200, call(t, "GET", "/v1/collaborations?"+query, opsKey, nil))
		for _, item := range r.Body["items"].([]any) {
			m := item.(map[string]any)
			if m["id"] == id && m["stage"] == stage {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listed as %s: %s", id, stage, r.Raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
