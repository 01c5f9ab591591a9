package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/collabflow/collabflow/payout"
	"github.com/collabflow/collabflow/store"
)

// TestCampaignReport: the report's shape over read-model fixtures (the arithmetic is the
// report package's table test), the budget set at creation and replaced by PUT, CSV with
// a guarded creator name, 404 for an unknown campaign and 422s naming the field.
func TestCampaignReport(t *testing.T) {
	ctx := context.Background()
	r := must(t, 201, call(t, "POST", "/v1/campaigns", opsKey, map[string]any{
		"name": "Report", "brand": "Acme", "sender_email": "collabs@acme.test",
		"budget": map[string]any{"currency": "usd", "amount": 500000},
	}))
	campaign := r.str("id")
	if b, _ := r.Body["budget"].(map[string]any); b["currency"] != "USD" || b["amount"] != 500000.0 {
		t.Fatalf("budget at creation: %s", r.Raw)
	}
	evil := must(t, 201, call(t, "POST", "/v1/creators", opsKey, map[string]any{
		"name": "=HYPERLINK(\"http://x\")", "email": fmt.Sprintf("evil-%d@example.com", time.Now().UnixNano()), "timezone": "UTC",
	})).str("id")
	plain := newCreator(t)

	now := time.Now().UTC().Truncate(time.Second)
	paid, waiting := "collab-"+campaign+"-"+evil, "collab-"+campaign+"-"+plain
	for _, c := range []store.Collaboration{
		{ID: paid, CreatorID: evil, Stage: "outreach", StageSeq: 1, UpdatedAt: now.Add(-3 * time.Hour), Tier: "micro", Variant: "a"},
		{ID: paid, CreatorID: evil, Stage: "negotiating", StageSeq: 2, UpdatedAt: now.Add(-time.Hour), Tier: "micro", Variant: "a"},
		{ID: waiting, CreatorID: plain, Stage: "outreach", StageSeq: 1, UpdatedAt: now, Tier: "mid", Variant: "b"},
	} {
		c.CampaignID = campaign
		if err := st.RecordCollaboration(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(payout.Breakdown{Currency: "USD", FixedFee: 100000, Bonus: 20000, Total: 120000})
	if _, err := st.CreatePayout(ctx, store.Payout{CollaborationID: paid, Kind: "fee", IdempotencyKey: paid + "/fee",
		Currency: "USD", Amount: 120000, Breakdown: b, Provider: "manual", Status: "pending"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddMetrics(ctx, map[string][]payout.Metrics{paid: {{At: now, Impressions: 2000, Reach: 1000, Likes: 50,
		Clicks: 40, Conversions: 8, Revenue: 240000, Currency: "USD"}}}, []string{paid}); err != nil {
		t.Fatal(err)
	}

	must(t, 200, call(t, "PUT", "/v1/campaigns/"+campaign+"/budget", opsKey, map[string]any{"currency": "USD", "amount": 100000}))
	rep := must(t, 200, call(t, "GET", "/v1/campaigns/"+campaign+"/report", auditorKey, nil))
	var got struct {
		Campaign struct {
			EngagementRate float64 `json:"engagement_rate"`
			CTR            float64 `json:"ctr"`
			Money          []struct {
				Currency string   `json:"currency"`
				Fees     int64    `json:"fees"`
				Bonuses  int64    `json:"bonuses"`
				Cost     int64    `json:"cost"`
				CPA      *int64   `json:"cpa"`
				ROI      *float64 `json:"roi"`
			} `json:"money"`
		} `json:"campaign"`
		ByTier    []struct{ Tier string } `json:"by_tier"`
		ByCreator []struct {
			CreatorName string `json:"creator_name"`
		} `json:"by_creator"`
		ByVariant []struct {
			Variant string   `json:"variant"`
			Rate    *float64 `json:"reply_rate"`
		} `json:"by_variant"`
		Replies struct {
			Rate float64 `json:"reply_rate"`
		} `json:"replies"`
		Budget struct {
			Committed int64 `json:"committed"`
			Remaining int64 `json:"remaining"`
		} `json:"budget"`
		Stages []struct {
			Stage  string `json:"stage"`
			Median *int64 `json:"median_seconds"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(rep.Raw, &got); err != nil {
		t.Fatal(err)
	}
	m := got.Campaign.Money
	// 50/1000 = 0.05; 40/2000 = 0.02; CPA 120000/8 = 15000; ROI (240000−120000)/120000 = 1;
	// one of two replied; budget 100000 − 120000 committed = −20000; outreach left after 2h.
	for _, tt := range []struct{ name, got, want string }{
		{"rates", fmt.Sprintln(got.Campaign.EngagementRate, got.Campaign.CTR), "0.05 0.02"},
		{"money", fmt.Sprintf("%d %s %d %d %d %d %v", len(m), m[0].Currency, m[0].Fees, m[0].Bonuses, m[0].Cost, *m[0].CPA, *m[0].ROI), "1 USD 100000 20000 120000 15000 1"},
		{"tiers", fmt.Sprintln(len(got.ByTier), got.ByTier[0].Tier, got.ByTier[1].Tier), "2 micro mid"},
		{"variants", fmt.Sprintln(len(got.ByVariant), got.ByVariant[0].Variant, *got.ByVariant[0].Rate, got.ByVariant[1].Variant, *got.ByVariant[1].Rate), "2 a 1 b 0"},
		{"reply rate", fmt.Sprintln(got.Replies.Rate), "0.5"},
		{"budget", fmt.Sprintln(got.Budget.Committed, got.Budget.Remaining), "120000 -20000"},
		{"outreach", fmt.Sprintln(got.Stages[0].Stage, *got.Stages[0].Median), "outreach 7200"},
	} {
		if strings.TrimSpace(tt.got) != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}

	res := must(t, 200, call(t, "GET", "/v1/campaigns/"+campaign+"/report", financeKey, nil, "Accept", "text/csv, application/json;q=0.5"))
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("content type %q", ct)
	}
	recs, err := csv.NewReader(strings.NewReader(string(res.Raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var levels []string
	for _, rec := range recs[1:] {
		levels = append(levels, rec[0]+":"+rec[3])
	}
	if want := `creator:'=HYPERLINK("http://x"),tier:,creator:` + recs[3][3] + `,tier:,campaign:`; strings.Join(levels, ",") != want || recs[0][0] != "level" {
		t.Fatalf("csv rows %v", levels)
	}
	if res := call(t, "GET", "/v1/campaigns/"+campaign+"/report", opsKey, nil, "Accept", "text/csv;q=0"); !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("q=0 answered %q", res.Header.Get("Content-Type"))
	}

	must(t, 404, call(t, "GET", "/v1/campaigns/01a22047-fe95-7c2d-9b1d-1367eab1508b/report", opsKey, nil))
	must(t, 404, call(t, "PUT", "/v1/campaigns/01a22047-fe95-7c2d-9b1d-1367eab1508b/budget", opsKey, map[string]any{"currency": "USD", "amount": 1}))
	for _, tt := range []struct {
		body   any
		status int
		field  string
	}{
		{map[string]any{"currency": "XXY", "amount": 1}, 422, "currency"},
		{map[string]any{"currency": "USD", "amount": -1}, 422, "amount"},
		{map[string]any{"currency": "USD", "amount": 1.5}, 400, "amount"},
		{map[string]any{"amount": 1}, 422, "currency"},
	} {
		r := call(t, "PUT", "/v1/campaigns/"+campaign+"/budget", opsKey, tt.body)
		if r.Status != tt.status || r.field(tt.field) == "" {
			t.Errorf("budget %v: %d %s, want %d naming %s", tt.body, r.Status, r.Raw, tt.status, tt.field)
		}
	}
	r = call(t, "POST", "/v1/campaigns", opsKey, map[string]any{"name": "B", "brand": "Acme", "sender_email": "c@acme.test",
		"budget": map[string]any{"currency": "USD", "amount": -5}})
	if r.Status != 422 || r.field("budget.amount") == "" {
		t.Errorf("campaign with a negative budget: %d %s", r.Status, r.Raw)
	}
}

// TestExperiments: an outreach A/B test with two checked sequences, one open per
// campaign (409), the log listed and read, a result and a decision recorded, and the
// refusals naming the field.
func TestExperiments(t *testing.T) {
	campaign := newCampaign(t) // two follow-ups: three emails per sequence
	seq := func(subject string) []map[string]string {
		return []map[string]string{
			{"subject": subject, "body": "Hi {{.Creator.FirstName}}"},
			{"subject": "Re: " + subject, "body": "Following up"},
			{"subject": "Last: " + subject, "body": "Last note"},
		}
	}
	ab := map[string]any{"kind": "outreach_ab", "hypothesis": "A question in the subject gets more replies",
		"variable": "subject", "variants": []map[string]any{{"name": "a", "sequence": seq("Collab?")}, {"name": "b", "sequence": seq("Working together")}}}
	base := "/v1/campaigns/" + campaign + "/experiments"
	e := must(t, 201, call(t, "POST", base, opsKey, ab))
	if e.str("status") != "open" || e.str("created_by") == "" || len(e.Body["variants"].([]any)) != 2 {
		t.Fatalf("created %s", e.Raw)
	}
	if r := must(t, 409, call(t, "POST", base, opsKey, ab)); r.field("kind") == "" {
		t.Fatalf("second open test: %s", r.Raw)
	}
	must(t, 201, call(t, "POST", base, opsKey, map[string]any{"kind": "other", "hypothesis": "Reels beat posts",
		"variable": "format", "variants": []map[string]any{{"name": "reel"}, {"name": "post"}},
		"result": "reels 2x reach", "decision": "reels from now on"}))

	bad := func(mut func(map[string]any)) map[string]any {
		b, _ := json.Marshal(ab)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mut(m)
		return m
	}
	for _, tt := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"unknown kind", bad(func(m map[string]any) { m["kind"] = "mystery" }), 422, "kind"},
		{"no hypothesis", bad(func(m map[string]any) { delete(m, "hypothesis") }), 422, "hypothesis"},
		{"one variant", bad(func(m map[string]any) { m["variants"] = m["variants"].([]any)[:1] }), 422, "variants"},
		{"same names", bad(func(m map[string]any) { m["variants"].([]any)[1].(map[string]any)["name"] = "a" }), 422, "variants[1].name"},
		{"name a spreadsheet runs", bad(func(m map[string]any) { m["variants"].([]any)[0].(map[string]any)["name"] = "=a" }), 422, "variants[0].name"},
		{"broken template", bad(func(m map[string]any) {
			m["variants"].([]any)[1].(map[string]any)["sequence"].([]any)[2].(map[string]any)["body"] = "{{.Nope}}"
		}), 422, "variants[1].sequence[2].body"},
		{"too few emails", bad(func(m map[string]any) {
			v := m["variants"].([]any)[0].(map[string]any)
			v["sequence"] = v["sequence"].([]any)[:1]
		}), 422, "variants[0].sequence"},
		{"sequence on other", map[string]any{"kind": "other", "hypothesis": "h", "variable": "v",
			"variants": []map[string]any{{"name": "x", "sequence": seq("s")}}}, 422, "variants[0].sequence"},
		{"unknown field", bad(func(m map[string]any) { m["winner"] = "a" }), 400, "winner"},
	} {
		r := call(t, "POST", base, opsKey, tt.body)
		if r.Status != tt.status || r.field(tt.field) == "" {
			t.Errorf("%s: %d %s, want %d naming %s", tt.name, r.Status, r.Raw, tt.status, tt.field)
		}
	}
	must(t, 404, call(t, "POST", "/v1/campaigns/01a22047-fe95-7c2d-9b1d-1367eab1508b/experiments", opsKey, ab))

	list := must(t, 200, call(t, "GET", base+"?limit=1", reviewerKey, nil))
	if items := list.Body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != e.str("id") || list.str("next") == "" {
		t.Fatalf("first page %s", list.Raw)
	}
	if next := must(t, 200, call(t, "GET", base+"?after="+list.str("next"), reviewerKey, nil)); len(next.Body["items"].([]any)) != 1 || next.str("next") != "" {
		t.Fatalf("second page %s", next.Raw)
	}
	one := base + "/" + e.str("id")
	if got := must(t, 200, call(t, "GET", one, financeKey, nil)); got.str("hypothesis") != ab["hypothesis"] {
		t.Fatalf("one %s", got.Raw)
	}
	must(t, 404, call(t, "GET", base+"/01a22047-fe95-7c2d-9b1d-1367eab1508b", opsKey, nil))
	must(t, 404, call(t, "GET", base+"/not-an-id", opsKey, nil))

	for _, tt := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "body"},
		{map[string]any{"decision": "  "}, "decision"},
		{map[string]any{"result": strings.Repeat("x", 5001)}, "result"},
	} {
		if r := call(t, "PATCH", one, opsKey, tt.body); r.Status != 422 || r.field(tt.field) == "" {
			t.Errorf("patch %v: %d %s", tt.body, r.Status, r.Raw)
		}
	}
	p := must(t, 200, call(t, "PATCH", one, opsKey, map[string]any{"result": "b replied 31% vs 22%"}))
	if p.str("status") != "open" || p.str("result") == "" {
		t.Fatalf("result only %s", p.Raw)
	}
	p = must(t, 200, call(t, "PATCH", one, opsKey, map[string]any{"decision": "adopt b"}))
	if p.str("status") != "decided" || p.str("result") != "b replied 31% vs 22%" {
		t.Fatalf("decision %s", p.Raw)
	}
	must(t, 201, call(t, "POST", base, opsKey, ab)) // decided: the campaign may test again
	must(t, 404, call(t, "PATCH", base+"/01a22047-fe95-7c2d-9b1d-1367eab1508b", opsKey, map[string]any{"decision": "x"}))
}
