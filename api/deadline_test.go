package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// pipelineAttention is how many of campaign's collaborations the pipeline (the board's
// "Waiting for ops") counts as waiting for ops.
func pipelineAttention(t *testing.T, campaign string) float64 {
	t.Helper()
	n, _ := must(t, 200, call(t, "GET", "/v1/campaigns/"+campaign+"/pipeline", opsKey, nil)).Body["attention"].(float64)
	return n
}

// TestOverdueDraftWaitsForOpsWhoExtendIt is newcomer #5: a draft past its deadline is
// waiting for ops in the state (attention with the deadline that passed), in the list's
// attention filter and in the pipeline; ops extend the deadline through the update path
// (validated fields, Idempotency-Key), which ends the wait and records who did it.
func TestOverdueDraftWaitsForOpsWhoExtendIt(t *testing.T) {
	campaign := newCampaign(t, map[string]any{"draft_deadline": "2s"})
	id := signedCollaborationIn(t, campaign)
	loc := "/v1/collaborations/" + id
	var at map[string]any
	eventually(t, "the overdue draft waiting for ops", func() bool {
		at, _ = must(t, 200, call(t, "GET", loc, opsKey, nil)).Body["attention"].(map[string]any)
		return at != nil
	})
	if at["step"] != "draft_deadline" || at["due"] == nil || !strings.Contains(at["reason"].(string), "overdue") {
		t.Fatalf("attention %v", at)
	}
	eventually(t, "the collaboration listed as waiting for ops", func() bool {
		return listed(t, "attention=true&campaign_id="+campaign, id) != nil && pipelineAttention(t, campaign) == 1
	})

	path := loc + "/deadline/extend"
	must(t, 403, call(t, "POST", path, reviewerKey, `{"by":"72h"}`))
	for body, field := range map[string]string{
		`{}`:             "by",
		`{"by":"soon"}`:  "by",
		`{"by":"30m"}`:   "by",
		`{"by":"2161h"}`: "by",
		`{"by":"-72h"}`:  "by",
		fmt.Sprintf(`{"by":"72h","reason":%q}`, strings.Repeat("x", 1001)): "reason",
	} {
		if r := must(t, 422, call(t, "POST", path, opsKey, body)); r.field(field) == "" {
			t.Fatalf("%s: %s", body, r.Raw)
		}
	}
	must(t, 400, call(t, "POST", path, opsKey, `{"by":"72h","until":"tomorrow"}`))

	before := time.Now()
	key := "extend-" + id
	r := must(t, 200, call(t, "POST", path, opsKey, `{"by":"72h","reason":"creator is ill"}`, "Idempotency-Key", key))
	if r.Body["attention"] != nil {
		t.Fatalf("attention after the extension: %s", r.Raw)
	}
	due, err := time.Parse(time.RFC3339, r.str("draft_due"))
	if err != nil || due.Before(before.Add(72*time.Hour-time.Minute)) || due.After(time.Now().Add(72*time.Hour+time.Minute)) {
		t.Fatalf("draft due %q, want 72 hours from now: %v", r.str("draft_due"), err)
	}
	events := r.Body["events"].([]any)
	last := events[len(events)-1].(map[string]any)
	actor, _ := last["actor"].(map[string]any)
	if last["kind"] != "deadline_extended" || actor["role"] != "ops" || !strings.Contains(last["detail"].(string), "creator is ill") {
		t.Fatalf("the extension's event %v", last)
	}
	waitForListed(t, "attention=false&campaign_id="+campaign, id, "in_production")
	if n := pipelineAttention(t, campaign); n != 0 {
		t.Fatalf("the pipeline still counts %v waiting for ops", n)
	}

	// A repeat with the same key is the same extension: answered, not applied again.
	again := must(t, 200, call(t, "POST", path, opsKey, `{"by":"72h","reason":"creator is ill"}`, "Idempotency-Key", key))
	if again.str("draft_due") != r.str("draft_due") {
		t.Fatalf("repeat moved the deadline again: %s", again.Raw)
	}
	n := 0
	for _, e := range must(t, 200, call(t, "GET", loc, opsKey, nil)).Body["events"].([]any) {
		if e.(map[string]any)["kind"] == "deadline_extended" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d extensions recorded, want 1", n)
	}
}

// TestExtendWithoutADeadlineIsAConflict: in outreach no draft, review or post deadline
// runs, so the collaboration refuses an extension with a 409 in its own words.
func TestExtendWithoutADeadlineIsAConflict(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	r := must(t, 409, call(t, "POST", "/v1/collaborations/"+id+"/deadline/extend", opsKey, `{"by":"24h"}`))
	if !strings.Contains(r.str("error"), "no draft, review or post deadline") {
		t.Fatalf("refusal %s", r.Raw)
	}
}

// TestConsoleExtendsAnOverdueDeadline: the overdue draft shows in the collaboration
// page's header and in the board's "Waiting for ops" count and filter; ops get an
// "Extend deadline" form (not retry or override), a reviewer does not; a bad duration is
// refused beside the form, a good one ends the wait.
func TestConsoleExtendsAnOverdueDeadline(t *testing.T) {
	campaign := newCampaign(t, map[string]any{"draft_deadline": "2s"})
	id := signedCollaborationIn(t, campaign)
	u, path, board := signedIn(t, opsKey), "/console/collaborations/"+id, "/console/campaigns/"+campaign
	eventually(t, "the overdue draft in the page's header", func() bool {
		return strings.Contains(u.get(path).body, `id="attention"`)
	})
	page := u.get(path).body
	if !strings.Contains(page, "draft 1 is overdue") || !strings.Contains(page, "overdue since") ||
		!strings.Contains(page, `id="form-extend"`) || strings.Contains(page, `id="form-resolve"`) {
		t.Fatalf("page of the overdue draft: %s", page)
	}
	eventually(t, "the board counting it as waiting for ops", func() bool {
		return strings.Contains(u.get(board).body, "<dt>Waiting for ops</dt><dd>1</dd>")
	})
	if p := u.get(board + "?attention=true"); !strings.Contains(p.body, path) {
		t.Fatalf("the waiting-for-ops filter leaves it out: %s", p.body)
	}
	if p := signedIn(t, reviewerKey).get(path); strings.Contains(p.body, `id="form-extend"`) {
		t.Fatal("a reviewer sees the extend form")
	}
	if r := u.submit(path, path+"/extend", url.Values{"by": {"30m"}}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, `id="extend-error"`) || !strings.Contains(r.body, "<code>by</code>") {
		t.Fatalf("extension by 30 minutes: %d %s", r.status, r.body)
	}
	r := u.submit(path, path+"/extend", url.Values{"by": {"168h"}, "reason": {"creator is ill"}})
	if r.status != http.StatusSeeOther || r.location != path+"?done=extend" {
		t.Fatalf("extend: %d %s %s", r.status, r.location, r.body)
	}
	if p := u.get(r.location).body; !strings.Contains(p, "Deadline extended.") || strings.Contains(p, `id="attention"`) || !strings.Contains(p, "creator is ill") {
		t.Fatalf("page after the extension: %s", p)
	}
	eventually(t, "the board counting none waiting for ops", func() bool {
		return strings.Contains(u.get(board).body, "<dt>Waiting for ops</dt><dd>0</dd>")
	})
}
