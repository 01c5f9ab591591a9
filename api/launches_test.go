package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/workflows"
)

// approve puts creators on a campaign's roster.
func approve(t *testing.T, campaign string, creators ...string) {
	t.Helper()
	var entries []map[string]string
	for _, id := range creators {
		entries = append(entries, map[string]string{"creator_id": id, "tier": "micro"})
	}
	must(t, 200, call(t, "POST", "/v1/campaigns/"+campaign+"/roster", opsKey, map[string]any{"creators": entries}))
}

// launched waits for a launch to finish and returns it with every item.
func launched(t *testing.T, id string) (launch map[string]any, items []map[string]any) {
	t.Helper()
	eventually(t, "launch "+id+" to finish", func() bool {
		launch = must(t, 200, call(t, "GET", "/v1/launches/"+id, auditorKey, nil)).Body["launch"].(map[string]any)
		return launch["finished_at"] != nil
	})
	after := ""
	for {
		page := must(t, 200, call(t, "GET", "/v1/launches/"+id+"?limit=4&after="+after, opsKey, nil))
		for _, it := range page.Body["items"].([]any) {
			items = append(items, it.(map[string]any))
		}
		if after = page.str("next"); after == "" {
			return launch, items
		}
	}
}

// TestLaunchStartsTheRosterOnceAndSkipsWithReasons: a launch answers 202 at once and
// starts one collaboration per approved creator; the erased, the suppressed and the one
// already collaborating are skipped with the reason. Launching again starts nothing new,
// and a repeated request with the same Idempotency-Key is the same launch.
func TestLaunchStartsTheRosterOnceAndSkipsWithReasons(t *testing.T) {
	campaign := newCampaign(t)
	var creators []string
	for range 7 {
		creators = append(creators, newCreator(t))
	}
	must(t, 422, call(t, "POST", "/v1/campaigns/"+campaign+"/launch", opsKey, `{}`)) // nobody approved yet
	approve(t, campaign, creators...)
	// Since approval: one erased, one unsubscribed, one started by hand.
	must(t, 200, call(t, "DELETE", "/v1/creators/"+creators[4], opsKey, nil))
	suppressed := must(t, 200, call(t, "GET", "/v1/creators/"+creators[5], opsKey, nil)).str("email")
	if _, err := st.Suppress(context.Background(), suppressed, "unsubscribed", "test"); err != nil {
		t.Fatal(err)
	}
	already := start(t, campaign, creators[6])
	r := must(t, 422, call(t, "POST", "/v1/campaigns/"+campaign+"/launch", opsKey, map[string]any{"creator_ids": []string{creators[0], newCreator(t), "x"}}))
	if r.field("creator_ids[1]") != "not on this campaign's roster" || r.field("creator_ids[2]") == "" {
		t.Fatalf("launch naming strangers: %s", r.Raw)
	}

	first := must(t, 202, call(t, "POST", "/v1/campaigns/"+campaign+"/launch", opsKey, `{}`, "Idempotency-Key", "launch-1"))
	if first.str("id") == "" || first.Body["total"] != float64(7) || first.Header.Get("Location") != "/v1/launches/"+first.str("id") {
		t.Fatalf("launch answer: %s", first.Raw)
	}
	if again := must(t, 202, call(t, "POST", "/v1/campaigns/"+campaign+"/launch", opsKey, `{}`, "Idempotency-Key", "launch-1")); again.str("id") != first.str("id") ||
		again.Header.Get("Idempotent-Replayed") != "true" || again.Header.Get("Location") != first.Header.Get("Location") {
		t.Fatalf("a repeated request made launch %s after %s, Location %q", again.str("id"), first.str("id"), again.Header.Get("Location"))
	}
	launch, items := launched(t, first.str("id"))
	if launch["started"] != float64(4) || launch["skipped"] != float64(3) || launch["failed"] != float64(0) || len(items) != 7 {
		t.Fatalf("launch %v items %v", launch, items)
	}
	reasons := map[string]string{}
	for _, it := range items {
		reason, _ := it["reason"].(string)
		reasons[it["creator_id"].(string)] = strings.TrimSuffix(it["status"].(string)+": "+reason, ": ")
		if it["status"] == "started" {
			if s := stageOf(t, it["collaboration_id"].(string)); s != "outreach" {
				t.Fatalf("started collaboration in %s", s)
			}
		}
	}
	for creator, want := range map[string]string{creators[4]: "skipped: creator erased", creators[5]: "skipped: address suppressed: unsubscribed",
		creators[6]: "skipped: already collaborating in this campaign", creators[0]: "started"} {
		if reasons[creator] != want {
			t.Errorf("creator %s: %q, want %q", creator, reasons[creator], want)
		}
	}
	if stageOf(t, already) != "outreach" {
		t.Fatal("the launch disturbed the existing collaboration")
	}

	second := must(t, 202, call(t, "POST", "/v1/campaigns/"+campaign+"/launch", opsKey, `{}`))
	if l, _ := launched(t, second.str("id")); l["started"] != float64(0) || l["skipped"] != float64(7) {
		t.Fatalf("second launch: %v", l)
	}
	skipped := must(t, 200, call(t, "GET", "/v1/launches/"+second.str("id")+"?status=skipped", opsKey, nil)).Body["items"].([]any)
	if len(skipped) != 7 {
		t.Fatalf("%d skipped items listed", len(skipped))
	}
	must(t, 400, call(t, "GET", "/v1/launches/"+second.str("id")+"?status=bogus", opsKey, nil))
	must(t, 404, call(t, "GET", "/v1/launches/0190a000-0000-7000-8000-000000000000", opsKey, nil))
	must(t, 403, call(t, "POST", "/v1/campaigns/"+campaign+"/launch", reviewerKey, `{}`))
}

// TestPipelineAndListFilters: the pipeline counts a campaign's collaborations per stage in
// the lifecycle's order from the read model; the list filters by tier and overdue.
func TestPipelineAndListFilters(t *testing.T) {
	campaign := newCampaign(t)
	running, ended := start(t, campaign, newCreator(t)), start(t, campaign, newCreator(t))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+ended+"/cancel", opsKey, `{"reason":"budget moved"}`))
	waitForListed(t, "campaign_id="+campaign, ended, "cancelled")
	waitForListed(t, "campaign_id="+campaign, running, "outreach")

	p := must(t, 200, call(t, "GET", "/v1/campaigns/"+campaign+"/pipeline", reviewerKey, nil))
	stages := p.Body["stages"].([]any)
	counts := map[string]float64{}
	for _, sc := range stages {
		sc := sc.(map[string]any)
		counts[sc["stage"].(string)] = sc["count"].(float64)
	}
	if p.Body["total"] != float64(2) || counts["outreach"] != 1 || counts["cancelled"] != 1 || counts["live"] != 0 ||
		stages[0].(map[string]any)["stage"] != "outreach" || len(stages) != 13 {
		t.Fatalf("pipeline %s", p.Raw)
	}
	micro := must(t, 200, call(t, "GET", "/v1/collaborations?campaign_id="+campaign+"&tier=micro", opsKey, nil)).Body["items"].([]any)
	if len(micro) != 2 || micro[0].(map[string]any)["tier"] != "micro" {
		t.Fatalf("micro tier: %v", micro)
	}
	if overdue := must(t, 200, call(t, "GET", "/v1/collaborations?campaign_id="+campaign+"&overdue=true", opsKey, nil)).Body["items"].([]any); len(overdue) != 0 {
		t.Fatalf("overdue: %v", overdue)
	}
	must(t, 400, call(t, "GET", "/v1/collaborations?tier=huge", opsKey, nil))
	must(t, 400, call(t, "GET", "/v1/collaborations?overdue=yes", opsKey, nil))
	must(t, 404, call(t, "GET", "/v1/campaigns/0190a000-0000-7000-8000-000000000000/pipeline", opsKey, nil))
}

// TestPauseAndResumeOutreach: a paused collaboration shows when it was paused, sends
// nothing more, refuses a second pause, and resumes.
func TestPauseAndResumeOutreach(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	paused := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/pause", opsKey, `{"reason":"brand review"}`))
	if paused.Body["outreach"].(map[string]any)["paused_at"] == nil {
		t.Fatalf("paused: %s", paused.Raw)
	}
	must(t, 409, call(t, "POST", "/v1/collaborations/"+id+"/pause", opsKey, `{}`))
	must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/pause", opsKey, map[string]string{"reason": strings.Repeat("x", 1001)}))
	resumed := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/resume", opsKey, `{}`))
	if resumed.Body["outreach"].(map[string]any)["paused_at"] != nil {
		t.Fatalf("resumed: %s", resumed.Raw)
	}
	must(t, 409, call(t, "POST", "/v1/collaborations/"+id+"/resume", opsKey, `{}`))
	must(t, 403, call(t, "POST", "/v1/collaborations/"+id+"/pause", reviewerKey, `{}`))
}

// TestLaunchAssignsTheOpenOutreachTest: with an open outreach A/B test, a launch gives
// its creators the two variants in turn; each gets its variant's first email, the read
// model holds the variant, and the report counts replies per variant.
func TestLaunchAssignsTheOpenOutreachTest(t *testing.T) {
	campaign := newCampaign(t)
	seq := func(subject string) []map[string]string {
		return []map[string]string{
			{"subject": subject, "body": "Hi {{.Creator.FirstName}}"},
			{"subject": "Re: " + subject, "body": "Following up"},
			{"subject": "Last: " + subject, "body": "Last note"},
		}
	}
	must(t, 201, call(t, "POST", "/v1/campaigns/"+campaign+"/experiments", opsKey, map[string]any{
		"kind": "outreach_ab", "hypothesis": "A question gets more replies", "variable": "subject",
		"variants": []map[string]any{{"name": "question", "sequence": seq("Collab?")}, {"name": "plain", "sequence": seq("Working together")}}}))
	var creators []string
	for range 4 {
		creators = append(creators, newCreator(t))
	}
	approve(t, campaign, creators...)
	l := must(t, 202, call(t, "POST", "/v1/campaigns/"+campaign+"/launch", opsKey, `{}`))
	_, items := launched(t, l.str("id"))
	want := map[string]string{"question": "Collab?", "plain": "Working together"}
	for i, it := range items {
		id := it["collaboration_id"].(string)
		variant := map[bool]string{true: "question", false: "plain"}[i%2 == 0]
		eventually(t, "the first email of "+id, func() bool { return len(sentTo(id)) == 1 })
		if subject := sentTo(id)[0].Subject; subject != want[variant] {
			t.Errorf("item %d: first email %q, want variant %s's %q", i+1, subject, variant, want[variant])
		}
		row := must(t, 200, call(t, "GET", "/v1/collaborations?campaign_id="+campaign+"&creator_id="+it["creator_id"].(string), opsKey, nil)).Body["items"].([]any)
		if got := row[0].(map[string]any)["variant"]; got != variant {
			t.Errorf("item %d: read model variant %v, want %s", i+1, got, variant)
		}
	}
	byVariant := must(t, 200, call(t, "GET", "/v1/campaigns/"+campaign+"/report", auditorKey, nil)).Body["by_variant"].([]any)
	if len(byVariant) != 2 {
		t.Fatalf("report by variant: %v", byVariant)
	}
	for _, v := range byVariant {
		if v := v.(map[string]any); v["entered_outreach"] != float64(2) {
			t.Errorf("variant %v", v)
		}
	}
}

// jobStartClient is the real Temporal client, except that the start of a launch's or bulk
// action's workflow goes wrong as fault says: "hang up" cancels the request's context as
// the start is sent (Go's server does so when the client leaves), "lost answer" starts it
// and answers a timeout, "not started" answers that Temporal is unreachable.
type jobStartClient struct {
	client.Client
	fault string
	// hangUp ends the context of the request being served.
	hangUp atomic.Value
	// started is the workflow ID of the last job start.
	started atomic.Value
}

func (c *jobStartClient) ExecuteWorkflow(ctx context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if wf != workflows.LaunchWorkflow && wf != workflows.BulkWorkflow {
		return c.Client.ExecuteWorkflow(ctx, opts, wf, args...)
	}
	c.started.Store(opts.ID)
	switch c.fault {
	case "hang up":
		c.hangUp.Load().(context.CancelFunc)()
	case "lost answer":
		if _, err := c.Client.ExecuteWorkflow(ctx, opts, wf, args...); err != nil {
			return nil, err
		}
		return nil, serviceerror.NewDeadlineExceeded("context deadline exceeded")
	case "not started":
		return nil, serviceerror.NewUnavailable("connection refused")
	}
	return c.Client.ExecuteWorkflow(ctx, opts, wf, args...)
}

// jobStartAPI starts an API instance whose Temporal client is c and whose request
// contexts end when c hangs up. Requests to it go one at a time.
func jobStartAPI(t *testing.T, c *jobStartClient) string {
	t.Helper()
	e, err := api.New(apiConfig(func(cfg *api.Config) { cfg.Temporal = c }))
	if err != nil {
		t.Fatal(err)
	}
	h := contract.validated(e)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		c.hangUp.Store(cancel)
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestJobStartDoesNotDependOnTheClient is N-10: a launch or bulk action whose client hangs
// up while its workflow starts, or whose start's answer is lost after the server took it,
// is started (its items are started or applied), not failed; one whose workflow did not
// start fails its items with the reason.
func TestJobStartDoesNotDependOnTheClient(t *testing.T) {
	for _, fault := range []string{"hang up", "lost answer", "not started"} {
		t.Run(fault, func(t *testing.T) {
			tc := &jobStartClient{Client: temporalClient, fault: fault}
			base := jobStartAPI(t, tc)
			campaign := newCampaign(t)
			creators := []string{newCreator(t), newCreator(t)}
			approve(t, campaign, creators...)
			if fault == "not started" {
				r := callAt(t, base, "POST", "/v1/campaigns/"+campaign+"/launch", opsKey, `{}`)
				if r.Status != 503 {
					t.Fatalf("launch not started: %d %s", r.Status, r.Raw)
				}
				id := strings.TrimPrefix(tc.started.Load().(string), "launch-")
				l, items := launched(t, id)
				if l["failed"] != float64(2) || items[0]["reason"] != "the launch could not start: try again" {
					t.Fatalf("launch %v %v", l, items)
				}
				return
			}
			r := must(t, 202, callAt(t, base, "POST", "/v1/campaigns/"+campaign+"/launch", opsKey, `{}`))
			if l, items := launched(t, r.str("id")); l["started"] != float64(2) {
				t.Fatalf("launch %v %v", l, items)
			}
			b := must(t, 202, callAt(t, base, "POST", "/v1/campaigns/"+campaign+"/bulk", opsKey, `{"action":"pause","reason":"brand review"}`))
			if got, items := bulkDone(t, b.str("id")); got["applied"] != float64(2) {
				t.Fatalf("bulk pause %v %v", got, items)
			}
		})
	}
}
