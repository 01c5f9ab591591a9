package api_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/collabflow/collabflow/payout"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// fitCreator adds a creator named "<tag> <label>" with the given figures and returns its id.
func fitCreator(t *testing.T, tag, label string, followers, avgEngagement int64, niches []string, countries map[string]float64) string {
	t.Helper()
	seq++
	r := must(t, 201, call(t, "POST", "/v1/creators", opsKey, map[string]any{
		"name": tag + " " + label, "email": fmt.Sprintf("fit%d-%s@example.com", seq, tag), "timezone": "Europe/London",
		"followers": followers, "avg_engagement": avgEngagement, "niches": niches, "audience_countries": countries,
		"handles": map[string]string{"instagram": fmt.Sprintf("%s.%s", tag, strings.ToLower(label))},
	}))
	return r.str("id")
}

// fitTag is a name part no other test's creators carry, so that ?q= isolates a test's own.
func fitTag() string {
	seq++
	return fmt.Sprintf("Qz%dx%d", seq, time.Now().UnixNano()%1_000_000)
}

// candidatesOf returns the candidates' creator ids, scores and the raw items.
func candidatesOf(t *testing.T, campaign, query string) ([]string, []int, []map[string]any, string) {
	t.Helper()
	r := must(t, 200, call(t, "GET", "/v1/campaigns/"+campaign+"/candidates?"+query, auditorKey, nil))
	var (
		ids    []string
		scores []int
		items  []map[string]any
	)
	for _, it := range r.Body["items"].([]any) {
		item := it.(map[string]any)
		ids = append(ids, item["creator_id"].(string))
		scores = append(scores, int(item["score"].(float64)))
		items = append(items, item)
	}
	return ids, scores, items, r.str("next")
}

func reasonCodes(item map[string]any) []string {
	var out []string
	for _, r := range item["reasons"].([]any) {
		out = append(out, r.(map[string]any)["code"].(string))
	}
	return out
}

// qualifiedCampaign is a campaign looking for micro and mid fitness creators above a 2 %
// engagement rate with a GB audience, and four creators: a (37 points: niche 20, 60 % GB
// 12, 1.25 points above the minimum 5), b (14: no niche, 10 % GB 2, 3 points above 12),
// c (excluded) and d (nano, a tier not allowed).
func qualifiedCampaign(t *testing.T) (campaign, tag string, a, b, c, d string) {
	t.Helper()
	tag = fitTag()
	a = fitCreator(t, tag, "A", 48_000, 1_560, []string{"fitness"}, map[string]float64{"GB": 60, "US": 20})
	b = fitCreator(t, tag, "B", 200_000, 10_000, []string{"travel"}, map[string]float64{"GB": 10})
	c = fitCreator(t, tag, "C", 20_000, 1_000, []string{"fitness"}, map[string]float64{"GB": 100})
	d = fitCreator(t, tag, "D", 5_000, 500, []string{"fitness"}, map[string]float64{"GB": 100})
	campaign = newCampaign(t)
	r := must(t, 200, call(t, "PUT", "/v1/campaigns/"+campaign+"/fit", opsKey, map[string]any{
		"tiers": []string{"micro", "mid"}, "niches": []string{"fitness"}, "min_engagement_rate": 0.02,
		"audience_countries": []string{"gb"}, "excluded_creators": []string{strings.ToUpper(c)},
	}))
	rules := r.Body["fit"].(map[string]any)
	if !reflect.DeepEqual(rules["audience_countries"], []any{"GB"}) || !reflect.DeepEqual(rules["excluded_creators"], []any{c}) {
		t.Fatalf("rules stored as %s", r.Raw)
	}
	return campaign, tag, a, b, c, d
}

func TestCandidatesAreScoredSortedAndFiltered(t *testing.T) {
	campaign, tag, a, b, c, d := qualifiedCampaign(t)
	ineligible := []string{c, d}
	if d < c {
		ineligible = []string{d, c}
	}

	ids, scores, items, next := candidatesOf(t, campaign, "q="+tag)
	if want := append([]string{a, b}, ineligible...); !reflect.DeepEqual(ids, want) || !reflect.DeepEqual(scores, []int{37, 14, 0, 0}) || next != "" {
		t.Fatalf("candidates %v scores %v, want %v [37 14 0 0]", ids, scores, want)
	}
	if got := reasonCodes(items[0]); !reflect.DeepEqual(got, []string{"niche_match", "audience_share", "engagement_above_minimum"}) {
		t.Fatalf("reasons of a: %v", got)
	}
	if items[0]["eligible"] != true || items[0]["tier"] != "micro" || items[0]["followers"].(float64) != 48_000 ||
		items[0]["engagement_rate"].(float64) != 0.0325 || items[0]["history"].(map[string]any)["collaborations"].(float64) != 0 ||
		items[0]["on_roster"] != false || items[0]["handles"].(map[string]any)["instagram"] == "" {
		t.Fatalf("item a: %v", items[0])
	}
	for _, it := range items[2:] {
		want := "excluded"
		if it["creator_id"] == d {
			want = "tier_not_allowed"
		}
		if it["eligible"] != false || !reflect.DeepEqual(reasonCodes(it), []string{want}) {
			t.Fatalf("ineligible %v", it)
		}
	}

	tests := []struct {
		query string
		want  []string
	}{
		{"eligible=true", []string{a, b}},
		{"eligible=false", ineligible},
		{"tier=mid", []string{b}},
		{"niche=fitness&eligible=true", []string{a}},
		{"min_score=20", []string{a}},
		{"min_score=14", []string{a, b}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if ids, _, _, _ := candidatesOf(t, campaign, "q="+tag+"&"+tt.query); !reflect.DeepEqual(ids, tt.want) {
				t.Fatalf("got %v, want %v", ids, tt.want)
			}
		})
	}

	// One at a time, the pages give the same order.
	var paged []string
	cursor := ""
	for range 5 {
		ids, _, _, next := candidatesOf(t, campaign, "q="+tag+"&limit=1&after="+cursor)
		paged = append(paged, ids...)
		if cursor = next; cursor == "" {
			break
		}
	}
	if want := append([]string{a, b}, ineligible...); !reflect.DeepEqual(paged, want) {
		t.Fatalf("paged %v, want %v", paged, want)
	}

	for query, field := range map[string]string{
		"eligible=maybe": "eligible", "min_score=101": "min_score", "tier=giga": "tier",
		"after=nonsense": "after", "after=7." + a + "x": "after", "limit=0": "limit",
	} {
		if r := call(t, "GET", "/v1/campaigns/"+campaign+"/candidates?"+query, opsKey, nil); r.Status != 400 || r.field(field) == "" {
			t.Errorf("%s: %d %s, want 400 naming %s", query, r.Status, r.Raw, field)
		}
	}
	must(t, 404, call(t, "GET", "/v1/campaigns/01a22047-fe95-7c2d-9b1d-1367eab1508b/candidates", opsKey, nil))
}

func TestFitRulesAreValidated(t *testing.T) {
	campaign := newCampaign(t)
	tests := []struct {
		body  string
		field string
	}{
		{`{"tiers":["giga"]}`, "tiers[0]"},
		{`{"audience_countries":["XX"]}`, "audience_countries[0]"},
		{`{"excluded_creators":["{01a22047-fe95-7c2d-9b1d-1367eab1508b}"]}`, "excluded_creators[0]"},
		{`{"min_engagement_rate":1.5}`, "min_engagement_rate"},
		{`{"min_audience_share":-1,"audience_countries":["GB"]}`, "min_audience_share"},
		{`{"min_audience_share":30}`, "min_audience_share"},
		{`{"niches":[""]}`, "niches[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			r := call(t, "PUT", "/v1/campaigns/"+campaign+"/fit", opsKey, tt.body)
			if r.Status != 422 || r.field(tt.field) == "" {
				t.Fatalf("PUT: %d %s, want 422 naming %s", r.Status, r.Raw, tt.field)
			}
			r = call(t, "POST", "/v1/campaigns", opsKey, `{"name":"C","brand":"B","sender_email":"s@b.test","fit":`+tt.body+`}`)
			if r.Status != 422 || r.field("fit."+tt.field) == "" {
				t.Fatalf("POST: %d %s, want 422 naming fit.%s", r.Status, r.Raw, tt.field)
			}
		})
	}
	if r := call(t, "PUT", "/v1/campaigns/"+campaign+"/fit", opsKey, `{"tier":["micro"]}`); r.Status != 400 || r.field("tier") == "" {
		t.Fatalf("unknown field: %d %s", r.Status, r.Raw)
	}
	r := must(t, 201, call(t, "POST", "/v1/campaigns", opsKey, `{"name":"C","brand":"B","sender_email":"s@b.test",
		"fit":{"tiers":["micro"],"audience_countries":["de"],"min_audience_share":25}}`))
	if got := must(t, 200, call(t, "GET", "/v1/campaigns/"+r.str("id"), auditorKey, nil)).Body["fit"].(map[string]any); got["min_audience_share"].(float64) != 25 ||
		!reflect.DeepEqual(got["audience_countries"], []any{"DE"}) {
		t.Fatalf("fit read back %v", got)
	}
}

func TestRosterApprovalIsAllOrNothingAndIdempotent(t *testing.T) {
	campaign, tag, a, b, c, d := qualifiedCampaign(t)
	erased := fitCreator(t, tag, "E", 30_000, 3_000, []string{"fitness"}, map[string]float64{"GB": 50})
	must(t, 200, call(t, "DELETE", "/v1/creators/"+erased, opsKey, nil))
	path := "/v1/campaigns/" + campaign + "/roster"
	entry := func(id, tier string) map[string]string { return map[string]string{"creator_id": id, "tier": tier} }
	unknown := "01a22047-fe95-7c2d-9b1d-1367eab1508b"

	refusals := []struct {
		name    string
		entries []map[string]string
		field   string
		why     string
	}{
		{"excluded", []map[string]string{entry(a, "micro"), entry(b, ""), entry(c, "micro")}, "creators[2].creator_id", "excluded by the campaign"},
		{"tier not allowed", []map[string]string{entry(a, "micro"), entry(d, "nano")}, "creators[1].creator_id", "tier nano is not one of micro, mid"},
		{"erased", []map[string]string{entry(a, "micro"), entry(erased, "micro")}, "creators[1].creator_id", "erased"},
		{"unknown", []map[string]string{entry(unknown, "micro"), entry(a, "micro")}, "creators[0].creator_id", "no creator"},
		{"listed twice", []map[string]string{entry(a, "micro"), entry(a, "mid")}, "creators[1].creator_id", "listed twice"},
		{"bad tier", []map[string]string{entry(a, "huge")}, "creators[0].tier", "must be one of"},
		{"bad id", []map[string]string{entry("urn:uuid:"+a, "micro")}, "creators[0].creator_id", "canonical"},
		{"empty", []map[string]string{}, "creators", "at least one"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "POST", path, opsKey, map[string]any{"creators": tt.entries})
			if r.Status != 422 || !strings.Contains(r.field(tt.field), tt.why) {
				t.Fatalf("%d %s, want 422 with %s: %q", r.Status, r.Raw, tt.field, tt.why)
			}
		})
	}
	if r := must(t, 200, call(t, "GET", path, auditorKey, nil)); len(r.Body["items"].([]any)) != 0 {
		t.Fatalf("a refused approval stored %s", r.Raw)
	}

	first := must(t, 200, call(t, "POST", path, opsKey, map[string]any{"creators": []any{entry(a, "micro"), entry(b, "")}}))
	items := first.Body["items"].([]any)
	if first.Body["changed"].(float64) != 2 || len(items) != 2 {
		t.Fatalf("approved %s", first.Raw)
	}
	byID := map[string]map[string]any{}
	for _, it := range items {
		byID[it.(map[string]any)["creator_id"].(string)] = it.(map[string]any)
	}
	if ea := byID[a]; ea["tier"] != "micro" || ea["score"].(float64) != 37 || ea["approved_by"] != "ops-team" || len(ea["reasons"].([]any)) != 3 {
		t.Fatalf("entry a %v", ea)
	}
	if byID[b]["tier"] != "mid" {
		t.Fatalf("entry b takes its own tier: %v", byID[b])
	}
	again := must(t, 200, call(t, "POST", path, opsKey, map[string]any{"creators": []any{entry(b, ""), entry(a, "micro")}}))
	if again.Body["changed"].(float64) != 0 || !reflect.DeepEqual(again.Body["items"], first.Body["items"]) {
		t.Fatalf("repeat %s, first %s", again.Raw, first.Raw)
	}
	if r := must(t, 200, call(t, "POST", path, opsKey, map[string]any{"creators": []any{entry(a, "mid")}})); r.Body["changed"].(float64) != 1 {
		t.Fatalf("tier change %s", r.Raw)
	}

	var listed []string
	cursor := ""
	for range 3 {
		r := must(t, 200, call(t, "GET", path+"?limit=1&after="+cursor, auditorKey, nil))
		for _, it := range r.Body["items"].([]any) {
			listed = append(listed, it.(map[string]any)["creator_id"].(string)+"@"+it.(map[string]any)["tier"].(string))
		}
		if cursor = r.str("next"); cursor == "" {
			break
		}
	}
	want := []string{a + "@mid", b + "@mid"}
	if b < a {
		want = []string{b + "@mid", a + "@mid"}
	}
	if !reflect.DeepEqual(listed, want) {
		t.Fatalf("roster %v, want %v", listed, want)
	}
	_, _, cands, _ := candidatesOf(t, campaign, "q="+tag+"&eligible=true")
	if cands[0]["creator_id"] != a || cands[0]["on_roster"] != true || cands[0]["roster_tier"] != "mid" {
		t.Fatalf("candidate a %v", cands[0])
	}

	must(t, 204, call(t, "DELETE", path+"/"+a, opsKey, nil))
	must(t, 404, call(t, "DELETE", path+"/"+a, opsKey, nil))
	must(t, 403, call(t, "POST", path, reviewerKey, map[string]any{"creators": []any{entry(a, "micro")}}))
	must(t, 404, call(t, "POST", "/v1/campaigns/"+unknown+"/roster", opsKey, map[string]any{"creators": []any{entry(a, "micro")}}))
}

// TestHistoryFeedsCreatorAndScore: a finished collaboration in one campaign (its read-model
// row, a paid fee and metrics, written as the workflow's activities would) shows in the
// creator's history and adds points in another campaign's candidates.
func TestHistoryFeedsCreatorAndScore(t *testing.T) {
	ctx := context.Background()
	tag := fitTag()
	id := fitCreator(t, tag, "H", 48_000, 1_560, []string{"fitness"}, map[string]float64{"GB": 60})
	past := newCampaign(t)
	collab := workflows.CollaborationID(past, id)
	if err := st.RecordCollaboration(ctx, store.Collaboration{ID: collab, CampaignID: past, CreatorID: id,
		Stage: string(workflows.StageCompleted), StageSeq: 1, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	fee, err := st.CreatePayout(ctx, store.Payout{CollaborationID: collab, Kind: "fee", IdempotencyKey: collab + "/fee",
		Currency: "USD", Amount: 100_000, Breakdown: []byte(`{}`), Provider: "manual", Status: store.PayoutPending})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConfirmPayout(ctx, fee.ID, "ref-"+tag, "fin"); err != nil {
		t.Fatal(err)
	}
	err = st.AddMetrics(ctx, map[string][]payout.Metrics{collab: {{At: time.Now().Add(-time.Hour), Impressions: 9_000,
		Clicks: 300, Conversions: 12, Revenue: 250_000, Currency: "USD"}}}, []string{collab})
	if err != nil {
		t.Fatal(err)
	}

	r := must(t, 200, call(t, "GET", "/v1/creators/"+id, reviewerKey, nil))
	h := r.Body["history"].(map[string]any)
	if r.str("name") != tag+" H" || h["collaborations"].(float64) != 1 || h["outcomes"].(map[string]any)["completed"].(float64) != 1 ||
		h["spend"].(map[string]any)["USD"].(float64) != 100_000 || h["results"].(map[string]any)["conversions"].(float64) != 12 {
		t.Fatalf("creator %s", r.Raw)
	}

	// Any niche 20, any audience 20, 3.25 % 13, one completed 10, revenue 2.5× spend 10.
	next := newCampaign(t)
	ids, scores, items, _ := candidatesOf(t, next, "q="+tag)
	if !reflect.DeepEqual(ids, []string{id}) || scores[0] != 73 ||
		!reflect.DeepEqual(reasonCodes(items[0]), []string{"any_niche", "any_audience", "engagement_above_minimum", "completed_before", "past_roi"}) {
		t.Fatalf("candidates %v %v %v", ids, scores, items)
	}
}
