package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/worker"

	"github.com/collabflow/collabflow/workflows"
)

// approvedCollaboration takes a new collaboration to awaiting_post through the API.
func approvedCollaboration(t *testing.T, timings map[string]any) (id string) {
	t.Helper()
	id = draftedCollaboration(t, timings)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/drafts/1/review", reviewerKey, `{"decision":"approve"}`))
	return id
}

// draftedCollaboration takes a new collaboration to in_review through the API: its first
// draft waits for review.
func draftedCollaboration(t *testing.T, timings map[string]any) (id string) {
	t.Helper()
	tm := map[string]any{"reply_wait": "1h", "follow_up_delays": []string{"1h", "1h"}}
	for k, v := range timings {
		tm[k] = v
	}
	r := must(t, 201, call(t, "POST", "/v1/campaigns", opsKey, map[string]any{
		"name": "Payout " + t.Name(), "brand": "Acme", "sender_email": "collabs@acme.test", "landing_url": "https://acme.test/spring",
		"compensation": map[string]any{"fixed_fee": 100000, "bonus_tiers": []map[string]any{{"metric": "conversions", "threshold": 100, "amount": 25000}}, "revenue_share_percent": 10},
		"brief":        map[string]any{"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 1}}},
		"timings":      tm,
		"send_window":  map[string]any{"start": "00:00", "end": "24:00", "days": []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
	}))
	id = start(t, r.str("id"), newCreatorWithHandle(t))
	signOpeningOffer(t, id)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/drafts", opsKey, `{"assets":["https://cdn.example.com/a.mp4"],"caption":"#ad hello"}`))
	return id
}

// postPage serves the collaboration's live post, on its creator's account (the instagram
// handle in the address), that carries the disclosure and the discount code, until the
// returned switch takes it down. It stops when the test ends.
func postPage(t *testing.T, id, code string) (string, *atomic.Bool) {
	t.Helper()
	return postPageAs(t, handleOf(t, id), code)
}

// handleOf is the instagram handle of the collaboration's creator.
func handleOf(t *testing.T, id string) string {
	t.Helper()
	creator := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).str("creator_id")
	handles, _ := must(t, 200, call(t, "GET", "/v1/creators/"+creator, opsKey, nil)).Body["handles"].(map[string]any)
	handle, _ := handles["instagram"].(string)
	if handle == "" {
		t.Fatalf("creator %s has no instagram handle", creator)
	}
	return handle
}

// postPageAs is postPage on the account of handle.
func postPageAs(t *testing.T, handle, code string) (string, *atomic.Bool) {
	t.Helper()
	up := &atomic.Bool{}
	up.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "<p>#ad Loving it! Code %s</p>", code)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + url.PathEscape(handle) + "/p/1", up
}

// TestAwaitingPostToCompletedPaysOnce: the post is verified against a local page, the live
// window re-checks it, metrics earn a bonus, the payout activity fails once after writing
// the ledger and is retried, finance confirms, and the history replays: one payout row.
func TestAwaitingPostToCompletedPaysOnce(t *testing.T) {
	id := approvedCollaboration(t, map[string]any{"live_window": "3s", "verification_interval": "1s"})
	state := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil))
	attr := state.Body["attribution"].(map[string]any)
	code, link := attr["code"].(string), attr["tracking_url"].(string)
	if !strings.HasPrefix(link, "https://acme.test/spring?") || !strings.Contains(link, "utm_medium=influencer") || !strings.HasSuffix(link, "utm_content="+code) {
		t.Fatalf("tracking link %q for code %q", link, code)
	}
	if brief := mailOf(t, id, "brief", 1); !strings.Contains(brief.Text, code) || !strings.Contains(brief.Text, link) {
		t.Fatalf("brief lacks attribution:\n%s", brief.Text)
	}

	postURL, _ := postPage(t, id, code)
	must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/posts", opsKey, `{"url":"not a link"}`))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/posts", opsKey, fmt.Sprintf(`{"url":%q}`, postURL)))
	waitForStage(t, id, "live")
	verified := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, auditorKey, nil))
	post := verified.Body["posts"].([]any)[0].(map[string]any)
	for _, ch := range post["verification"].(map[string]any)["checks"].([]any) {
		c := ch.(map[string]any)
		if c["passed"] != true || c["evidence"] == "" {
			t.Fatalf("check %v", c)
		}
	}

	// Metrics: cumulative snapshots; an older one is refused.
	must(t, 201, call(t, "POST", "/v1/collaborations/"+id+"/metrics", opsKey, `{"at":"2026-01-02T00:00:00Z","conversions":40,"revenue":10000,"currency":"USD"}`))
	must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/metrics", opsKey, `{"at":"2026-01-01T00:00:00Z","conversions":50}`))
	must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/metrics", opsKey, `{"at":"2026-01-03T00:00:00Z","clicks":-3}`))
	must(t, 201, call(t, "POST", "/v1/collaborations/"+id+"/metrics", opsKey, `{"at":"2026-01-05T00:00:00Z","conversions":150,"revenue":200000,"currency":"USD"}`))

	payouts.aim(t, id)
	payouts.failures.Store(1)
	waitForStage(t, id, "payout")
	// The workflow holds the payout once the retried activity succeeded: the payout
	// provider's retry waits 10 seconds.
	eventuallyWithin(t, 40*time.Second, "the payout in the workflow", func() bool {
		st := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil))
		return len(st.Body["payouts"].([]any)) == 1
	})
	if n := payouts.failures.Load(); n != -1 {
		t.Fatalf("the payout provider was called %d time(s) after failing, want one retry", -n)
	}
	var pending []any
	eventually(t, "the pending payout", func() bool {
		r := must(t, 200, call(t, "GET", "/v1/payouts?status=pending&collaboration_id="+id, financeKey, nil))
		pending = r.Body["items"].([]any)
		return len(pending) == 1
	})
	p := pending[0].(map[string]any)
	// 1,000.00 fixed + 250.00 bonus (150 conversions >= 100) + 10% of 2,000.00 revenue.
	if p["amount"].(float64) != 145000 || p["currency"] != "USD" || p["kind"] != "fee" {
		t.Fatalf("payout %v", p)
	}
	must(t, 403, call(t, "POST", "/v1/payouts/"+p["id"].(string)+"/confirm", opsKey, `{"reference":"X"}`))
	must(t, 422, call(t, "POST", "/v1/payouts/"+p["id"].(string)+"/confirm", financeKey, `{}`))
	must(t, 200, call(t, "POST", "/v1/payouts/"+p["id"].(string)+"/confirm", financeKey, `{"reference":"BANK-42"}`))
	waitForStage(t, id, "completed")
	must(t, 200, call(t, "POST", "/v1/payouts/"+p["id"].(string)+"/confirm", financeKey, `{"reference":"BANK-42"}`))
	must(t, 409, call(t, "POST", "/v1/payouts/"+p["id"].(string)+"/confirm", financeKey, `{"reference":"OTHER"}`))

	all := must(t, 200, call(t, "GET", "/v1/payouts?collaboration_id="+id, auditorKey, nil)).Body["items"].([]any)
	if len(all) != 1 || all[0].(map[string]any)["status"] != "paid" {
		t.Fatalf("ledger after completion: %v", all)
	}

	// Replay the whole history against the current code: deterministic, and no activity
	// runs, so still one row.
	if n, err := replayHistory(id); err != nil {
		t.Fatalf("replay: %v", err)
	} else if n < 50 {
		t.Fatalf("replayed only %d events", n)
	}
	again := must(t, 200, call(t, "GET", "/v1/payouts?collaboration_id="+id, auditorKey, nil)).Body["items"].([]any)
	if len(again) != 1 {
		t.Fatalf("%d payout rows after replay", len(again))
	}

	// The timeline lists every human action with its actor.
	tl := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/timeline", auditorKey, nil))
	actors := map[string]string{}
	for _, e := range tl.Body["entries"].([]any) {
		m := e.(map[string]any)
		if a, ok := m["actor"].(map[string]any); ok {
			actors[m["what"].(string)] = a["name"].(string) + "/" + a["role"].(string)
		}
	}
	for what, who := range map[string]string{"started": "ops-team/ops", "reply received": "ops-team/ops", "terms agreed": "ops-team/ops",
		"draft submitted": "ops-team/ops", "draft reviewed": "rev/reviewer", "post submitted": "ops-team/ops", "payout confirmed": "fin/finance"} {
		if actors[what] != who {
			t.Errorf("timeline: %q by %q, want %q (all: %v)", what, actors[what], who, actors)
		}
	}
	exportHistory(t, id, "completed")
}

// replayHistory fetches a workflow's history and replays it against the current code.
func replayHistory(id string) (int, error) {
	ctx := context.Background()
	iter := temporalClient.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return 0, err
		}
		hist.Events = append(hist.Events, ev)
	}
	replayer := worker.NewWorkflowReplayer()
	workflows.Register(replayer)
	return len(hist.Events), replayer.ReplayWorkflowHistory(nil, hist)
}

func TestImportMetricsCSV(t *testing.T) {
	campaign := newCampaign(t)
	id := agreed(t, campaign)
	waitForListed(t, "campaign_id="+campaign, id, "contracting")
	header := "collaboration_id,at,impressions,reach,likes,comments,saves,shares,clicks,conversions,revenue,currency\n"
	post := func(body string) response {
		req, _ := http.NewRequest("POST", baseURL+"/v1/campaigns/"+campaign+"/metrics", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+opsKey)
		req.Header.Set("Content-Type", "text/csv")
		return send(t, req)
	}
	good := id + ",2026-03-01T00:00:00Z,1000,800,50,5,2,1,30,3,4500,USD\n"
	bad := id + ",2026-03-02T00:00:00Z,-5,800,50,5,2,1,30,3,4500,USD\n"
	if r := post(header + good + bad); r.Status != 422 || r.field("row 3.impressions") == "" {
		t.Fatalf("bad row: %d %v", r.Status, r.Body)
	}
	if r := post("wrong,header\n" + good); r.Status != 400 {
		t.Fatalf("bad header: %d %v", r.Status, r.Body)
	}
	if r := post(header + "collab-elsewhere,2026-03-01T00:00:00Z,1,1,1,1,1,1,1,1,1,USD\n"); r.Status != 422 {
		t.Fatalf("foreign collaboration: %d %v", r.Status, r.Body)
	}
	later := id + ",2026-03-03T00:00:00Z,2000,900,60,6,3,2,40,5,9000,USD\n"
	if r := post(header + good + later); r.Status != 201 || r.Body["imported"].(float64) != 2 {
		t.Fatalf("import: %d %v", r.Status, r.Body)
	}
	// The refused batch stored nothing: the same first row is still new enough only if
	// nothing from it was kept before the good import.
	if r := post(header + good); r.Status != 422 {
		t.Fatalf("re-importing an old snapshot: %d %v", r.Status, r.Body)
	}
}

// TestPostOnAnotherAccountFailsUntilOpsOverride: a post on the platform but on someone
// else's account (the M4 finding: any page with "#ad" and the code passed) fails
// platform_account and holds the collaboration in verifying, the creator is told in words
// without the handle, and ops' override with a reason (from the console, which refuses it
// without one) accepts it: the workflow needs no change for the new check.
func TestPostOnAnotherAccountFailsUntilOpsOverride(t *testing.T) {
	id := approvedCollaboration(t, map[string]any{"live_window": "2s", "verification_interval": "1s"})
	code := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Body["attribution"].(map[string]any)["code"].(string)
	postURL, _ := postPageAs(t, "someone.else", code)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/posts", opsKey, fmt.Sprintf(`{"url":%q}`, postURL)))

	var failed map[string]any
	eventually(t, "the failed platform_account check", func() bool {
		st := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil))
		posts, _ := st.Body["posts"].([]any)
		if len(posts) == 0 {
			return false
		}
		v, _ := posts[0].(map[string]any)["verification"].(map[string]any)
		if v == nil {
			return false
		}
		for _, ch := range v["checks"].([]any) {
			if c := ch.(map[string]any); c["name"] == "platform_account" && c["passed"] == false {
				failed = c
			}
		}
		return failed != nil
	})
	if ev := failed["evidence"].(string); !strings.Contains(ev, "not shown as the creator's account") || strings.Contains(ev, handleOf(t, id)) {
		t.Fatalf("evidence %q", ev)
	}
	notice := mailOf(t, id, "verify_failed", 1)
	if strings.Contains(notice.Text, handleOf(t, id)) || strings.Contains(notice.Text, "platform_account failed") {
		t.Fatalf("the creator's email:\n%s", notice.Text)
	}
	if stage := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).str("stage"); stage != "verifying" {
		t.Fatalf("stage %s with a failing post", stage)
	}

	// Ops override from the console, which shows the failed check's evidence first.
	u, path := signedIn(t, opsKey), "/console/collaborations/"+id
	if p := u.get(path); !strings.Contains(p.body, "✗ platform account: ") || !strings.Contains(p.body, `id="form-override"`) {
		t.Fatalf("console page of the failing post: %s", p.body)
	}
	if r := u.submit(path, path+"/override", url.Values{"post": {"1"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="override-error"`) {
		t.Fatalf("override without a reason: %d %s", r.status, r.body)
	}
	if r := u.submit(path, path+"/override", url.Values{"post": {"1"}, "reason": {"posted from the brand's co-account, checked by hand"}}); r.status != http.StatusSeeOther {
		t.Fatalf("override: %d %s", r.status, r.body)
	}
	waitForStage(t, id, "live")
	events := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Body["events"].([]any)
	var overridden bool
	for _, e := range events {
		ev := e.(map[string]any)
		overridden = overridden || (ev["kind"] == "verification_override" && strings.Contains(ev["detail"].(string), "co-account"))
	}
	if !overridden {
		t.Fatalf("no override event in %v", events)
	}
}
