package api_test

import (
	"testing"
)

func TestCreateCampaignAcceptsTheMinimalBody(t *testing.T) {
	r := must(t, 201, call(t, "POST", "/v1/campaigns", opsKey,
		`{"name":"Spring launch","brand":"Acme","sender_email":"collabs@acme.test","timings":{"reply_wait":"2s"}}`))
	timings := r.Body["timings"].(map[string]any)
	if r.str("id") == "" || timings["reply_wait"] != "2s" || timings["contract_expiry"] != "168h0m0s" ||
		len(timings["follow_up_delays"].([]any)) != 2 || r.str("disclosure_text") != "#ad" ||
		len(r.Body["sequence"].([]any)) != 3 || r.Body["send_window"].(map[string]any)["start"] != "09:00" {
		t.Fatalf("created %s", r.Raw)
	}
	got := must(t, 200, call(t, "GET", "/v1/campaigns/"+r.str("id"), auditorKey, nil))
	if got.Body["timings"].(map[string]any)["reply_wait"] != "2s" {
		t.Fatalf("read back %s", got.Raw)
	}
	list := must(t, 200, call(t, "GET", "/v1/campaigns?limit=200", auditorKey, nil))
	if len(list.Body["items"].([]any)) == 0 {
		t.Fatal("list is empty")
	}
}

func TestCreateCampaignWithFullBrief(t *testing.T) {
	r := must(t, 201, call(t, "POST", "/v1/campaigns", opsKey, map[string]any{
		"name": "Full", "brand": "Acme", "sender_email": "collabs@acme.test", "landing_url": "https://acme.test/spring",
		"brief": map[string]any{
			"objectives": []string{"awareness"}, "audience": "runners 25-40", "key_messages": []string{"light"},
			"dos": []string{"show the shoe"}, "donts": []string{"no competitors"},
			"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 2}},
			"timeline":     map[string]string{"start": "2027-03-01", "end": "2027-04-30"},
		},
		"compensation": map[string]any{"currency": "eur", "fixed_fee": 150000, "revenue_share_percent": 5,
			"bonus_tiers": []map[string]any{{"metric": "conversions", "threshold": 100, "amount": 20000}}},
		"usage_rights_days": 90, "disclosure_text": "#ad #sponsored",
	}))
	comp := r.Body["compensation"].(map[string]any)
	if comp["currency"] != "EUR" || comp["fixed_fee"].(float64) != 150000 || r.Body["usage_rights_days"].(float64) != 90 {
		t.Fatalf("created %s", r.Raw)
	}
}

func TestCreateCampaignWithOwnSequence(t *testing.T) {
	r := must(t, 201, call(t, "POST", "/v1/campaigns", opsKey, `{"name":"Own","brand":"Acme","sender_email":"s@acme.test",
		"sequence":[{"subject":"Hi {{.Creator.FirstName}}","body":"See {{.Creator.RecentPost}}"},{"subject":"Re: hi","body":"Bump"}],
		"send_window":{"start":"00:00","end":"24:00","days":["sun","mon","tue","wed","thu","fri","sat"]}}`))
	if delays := r.Body["timings"].(map[string]any)["follow_up_delays"].([]any); len(delays) != 1 || delays[0] != "72h0m0s" {
		t.Fatalf("default delays for a two-email sequence: %v", delays)
	}
}

func TestCreateCampaignRefusesBadInput(t *testing.T) {
	base := `"name":"C","brand":"B","sender_email":"s@b.test"`
	tests := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"missing brand", `{"name":"C","sender_email":"s@b.test"}`, 422, "brand"},
		{"bad sender", `{"name":"C","brand":"B","sender_email":"nobody"}`, 422, "sender_email"},
		{"timing not a duration", `{` + base + `,"timings":{"reply_wait":"soon"}}`, 422, "timings.reply_wait"},
		{"timing a number", `{` + base + `,"timings":{"review_sla":3600}}`, 422, "timings.review_sla"},
		{"timing too short", `{` + base + `,"timings":{"draft_deadline":"10ms"}}`, 422, "timings.draft_deadline"},
		{"timing too long", `{` + base + `,"timings":{"live_window":"20000h"}}`, 422, "timings.live_window"},
		{"bad follow-up delay", `{` + base + `,"timings":{"follow_up_delays":["1h","-1h"]}}`, 422, "timings.follow_up_delays[1]"},
		{"unknown timing", `{` + base + `,"timings":{"nap":"1h"}}`, 400, "nap"},
		{"bad currency", `{` + base + `,"compensation":{"currency":"XYZW"}}`, 422, "compensation.currency"},
		{"negative fee", `{` + base + `,"compensation":{"fixed_fee":-5}}`, 422, "compensation.fixed_fee"},
		{"revenue share over 100", `{` + base + `,"compensation":{"revenue_share_percent":150}}`, 422, "compensation.revenue_share_percent"},
		{"bad bonus metric", `{` + base + `,"compensation":{"bonus_tiers":[{"metric":"vibes","threshold":1,"amount":1}]}}`, 422, "compensation.bonus_tiers[0].metric"},
		{"bad deliverable", `{` + base + `,"brief":{"deliverables":[{"platform":"instagram","format":"hologram","count":1}]}}`, 422, "brief.deliverables[0].format"},
		{"zero count", `{` + base + `,"brief":{"deliverables":[{"platform":"tiktok","format":"short","count":0}]}}`, 422, "brief.deliverables[0].count"},
		{"bad date", `{` + base + `,"brief":{"timeline":{"start":"March"}}}`, 422, "brief.timeline.start"},
		{"end before start", `{` + base + `,"brief":{"timeline":{"start":"2027-03-02","end":"2027-03-01"}}}`, 422, "brief.timeline.end"},
		{"bad landing url", `{` + base + `,"landing_url":"ftp://x"}`, 422, "landing_url"},
		{"unknown template field", `{` + base + `,"sequence":[{"subject":"Hi {{.Creator.Nickname}}","body":"x"}],"timings":{"follow_up_delays":[]}}`, 422, "sequence[0].subject"},
		{"broken template", `{` + base + `,"sequence":[{"subject":"Hi","body":"{{if}}"}],"timings":{"follow_up_delays":[]}}`, 422, "sequence[0].body"},
		{"empty body", `{` + base + `,"sequence":[{"subject":"Hi","body":""}],"timings":{"follow_up_delays":[]}}`, 422, "sequence[0].body"},
		{"no emails", `{` + base + `,"sequence":[]}`, 422, "sequence"},
		{"delays do not match the sequence", `{` + base + `,"sequence":[{"subject":"a","body":"b"},{"subject":"c","body":"d"}],"timings":{"follow_up_delays":["1h","2h"]}}`, 422, "timings.follow_up_delays"},
		{"window clock", `{` + base + `,"send_window":{"start":"9","end":"17:00","days":["mon"]}}`, 422, "send_window.start"},
		{"window backwards", `{` + base + `,"send_window":{"start":"18:00","end":"17:00","days":["mon"]}}`, 422, "send_window.end"},
		{"window day", `{` + base + `,"send_window":{"start":"09:00","end":"17:00","days":["funday"]}}`, 422, "send_window.days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "POST", "/v1/campaigns", opsKey, tt.body)
			if r.Status != tt.status || r.field(tt.field) == "" {
				t.Fatalf("got %d %s, want %d naming %q", r.Status, r.Raw, tt.status, tt.field)
			}
		})
	}
}
