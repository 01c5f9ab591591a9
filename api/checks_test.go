package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/store"
)

// negotiating starts a collaboration and records a reply: it waits in negotiating.
func negotiating(t *testing.T, campaign string) string {
	t.Helper()
	id := start(t, campaign, newCreator(t))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{}`))
	return id
}

// holdCode gives a collaboration a discount code, as the workflow's assignment does.
func holdCode(t *testing.T, collaborationID, code string) {
	t.Helper()
	if _, err := st.AssignAttribution(context.Background(), collaborationID, code, "", ""); err != nil {
		t.Fatal(err)
	}
}

func offerWithCode(code string) map[string]any {
	return map[string]any{"from": "creator", "terms": map[string]any{
		"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 1}},
		"currency":     "USD", "fixed_fee": 120000, "disclosure_text": "#ad", "discount_code": code,
	}}
}

// TestOfferWithAHeldDiscountCodeIsRefused: terms naming a code another collaboration holds
// are refused when offered (422 naming terms.discount_code, in any case), and when accepted
// if the code was taken after the offer; the workflow would only find out after signing.
func TestOfferWithAHeldDiscountCodeIsRefused(t *testing.T) {
	campaign := newCampaign(t)
	holder := start(t, campaign, newCreator(t))
	holdCode(t, holder, "HELD-ADA")

	id := negotiating(t, campaign)
	r := must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/offers", opsKey, offerWithCode("held-ada")))
	if !strings.Contains(r.field("terms.discount_code"), "HELD-ADA") {
		t.Fatalf("held code offered: %s", r.Raw)
	}
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/offers", opsKey, offerWithCode("FREE-ADA")))
	// Another collaboration takes the code before this one accepts.
	holdCode(t, start(t, campaign, newCreator(t)), "FREE-ADA")
	if r := must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/accept", opsKey, `{}`)); r.field("terms.discount_code") == "" {
		t.Fatalf("accepting terms with a code taken since: %s", r.Raw)
	}
	if s := stageOf(t, id); s != "negotiating" {
		t.Fatalf("stage %s after the refused accept", s)
	}
}

// agreed takes a new collaboration of the campaign to contracting: its terms (an offer
// in USD) are agreed.
func agreed(t *testing.T, campaign string) string {
	t.Helper()
	id := negotiating(t, campaign)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/offers", opsKey, offerWithCode("")))
	if s := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/accept", opsKey, `{}`)).str("stage"); s != "contracting" {
		t.Fatalf("accept gave %s", s)
	}
	return id
}

// TestMetricsInAnotherCurrencyAreRefused: a snapshot's currency must be the agreed terms'
// (else the payout cannot count it); before terms are agreed a snapshot is a 409. The CSV
// import names the bad rows and stores nothing.
func TestMetricsInAnotherCurrencyAreRefused(t *testing.T) {
	campaign := newCampaign(t)
	early := start(t, campaign, newCreator(t))
	must(t, 409, call(t, "POST", "/v1/collaborations/"+early+"/metrics", opsKey, `{"at":"2026-01-02T00:00:00Z","clicks":3}`))

	id := agreed(t, campaign)
	r := must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/metrics", opsKey, `{"at":"2026-01-02T00:00:00Z","revenue":5000,"currency":"eur"}`))
	if !strings.Contains(r.field("currency"), "USD") {
		t.Fatalf("EUR snapshot: %s", r.Raw)
	}
	// Three characters that are no currency, such as a spreadsheet formula, are refused as
	// such, not compared with the terms (security review I2).
	r = must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/metrics", opsKey, `{"at":"2026-01-02T00:00:00Z","revenue":5000,"currency":"=A1"}`))
	if !strings.Contains(r.field("currency"), "ISO 4217") {
		t.Fatalf("formula as currency: %s", r.Raw)
	}
	must(t, 201, call(t, "POST", "/v1/collaborations/"+id+"/metrics", opsKey, `{"at":"2026-01-02T00:00:00Z","revenue":5000,"currency":"USD"}`))

	waitForListed(t, "campaign_id="+campaign, early, "outreach")
	waitForListed(t, "campaign_id="+campaign, id, "contracting")
	header := "collaboration_id,at,impressions,reach,likes,comments,saves,shares,clicks,conversions,revenue,currency\n"
	good := id + ",2026-03-01T00:00:00Z,1000,800,50,5,2,1,30,3,4500,USD\n"
	euros := id + ",2026-03-02T00:00:00Z,1000,800,50,5,2,1,30,3,4500,EUR\n"
	noTerms := early + ",2026-03-02T00:00:00Z,1,1,1,1,1,1,1,1,0,\n"
	r = importCSV(t, campaign, header+good+euros+noTerms)
	if r.Status != 422 || !strings.Contains(r.field("row 3.currency"), "USD") || r.field("row 4.collaboration_id") == "" {
		t.Fatalf("import with an EUR row and a row without terms: %d %s", r.Status, r.Raw)
	}
	formula := id + ",2026-03-02T00:00:00Z,1000,800,50,5,2,1,30,3,4500,=A1\n"
	if r := importCSV(t, campaign, header+good+formula); r.Status != 422 || !strings.Contains(r.field("row 3.currency"), "ISO 4217") {
		t.Fatalf("import with a formula as currency: %d %s", r.Status, r.Raw)
	}
	// Nothing of the refused files was kept: the good row is still new.
	if r := importCSV(t, campaign, header+good); r.Status != 201 {
		t.Fatalf("good row after the refused import: %d %s", r.Status, r.Raw)
	}
}

// importCSV posts a metrics CSV for a campaign.
func importCSV(t *testing.T, campaign, body string) response {
	t.Helper()
	req, _ := http.NewRequest("POST", baseURL+"/v1/campaigns/"+campaign+"/metrics", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+opsKey)
	req.Header.Set("Content-Type", "text/csv")
	return send(t, req)
}

// TestListFilterOnAttentionIsValidated: ?attention takes true or false only.
func TestListFilterOnAttentionIsValidated(t *testing.T) {
	for _, v := range []string{"yes", "TRUE", "1"} {
		if r := must(t, 400, call(t, "GET", "/v1/collaborations?attention="+v, opsKey, nil)); r.field("attention") == "" {
			t.Fatalf("attention=%s: %s", v, r.Raw)
		}
	}
	must(t, 200, call(t, "GET", "/v1/collaborations?attention=false&limit=1", auditorKey, nil))
}

// TestResolveIsValidated: ops only; a decision of retry or override; a reason (at most
// 1000 characters) to override; a collaboration with nothing waiting refuses with 409.
func TestResolveIsValidated(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	path := "/v1/collaborations/" + id + "/resolve"
	must(t, 403, call(t, "POST", path, reviewerKey, `{"decision":"retry"}`))
	for body, field := range map[string]string{
		`{}`:                                   "decision",
		`{"decision":"skip"}`:                  "decision",
		`{"decision":"override"}`:              "reason",
		`{"decision":"override","reason":" "}`: "reason",
		fmt.Sprintf(`{"decision":"override","reason":%q}`, strings.Repeat("x", 1001)): "reason",
	} {
		if r := must(t, 422, call(t, "POST", path, opsKey, body)); r.field(field) == "" {
			t.Fatalf("%s: %s", body, r.Raw)
		}
	}
	must(t, 400, call(t, "POST", path, opsKey, `{"decision":"retry","why":"x"}`))
	if r := must(t, 409, call(t, "POST", path, opsKey, `{"decision":"retry"}`)); r.str("error") == "" {
		t.Fatalf("resolve with nothing waiting: %s", r.Raw)
	}
}

// startSpy is the real Temporal client, watching the start: it notes whether the read
// model lists the collaboration when the API starts its workflow, and unsubscribes the
// creator right after the start, before the workflow has recorded a stage of its own.
type startSpy struct {
	client.Client
	t             *testing.T
	creatorID     string
	listedAtStart atomic.Bool
}

func (s *startSpy) ExecuteWorkflow(ctx context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	list, _, err := st.ListCollaborations(ctx, store.CollaborationFilter{ID: opts.ID, Stage: "outreach", Limit: 1})
	s.listedAtStart.Store(err == nil && len(list) == 1)
	run, err := s.Client.ExecuteWorkflow(ctx, opts, wf, args...)
	if err == nil {
		token := signer.Sign(activities.UnsubscribePurpose, s.creatorID+"|"+opts.ID, time.Time{})
		req, _ := http.NewRequest("POST", baseURL+"/u/"+token, nil)
		if r := send(s.t, req); r.Status != 200 {
			s.t.Errorf("unsubscribe: %d %s", r.Status, r.Raw)
		}
	}
	return run, err
}

// TestStartWritesTheReadModelFirst is minor 7: the collaboration is in the read model
// before its workflow starts, so an unsubscribe that arrives before the workflow's first
// stage record still finds and stops it (declined, not left running).
func TestStartWritesTheReadModelFirst(t *testing.T) {
	campaign, creator := newCampaign(t), newCreator(t)
	spy := &startSpy{Client: temporalClient, t: t, creatorID: creator}
	base := newAPI(t, func(cfg *api.Config) { cfg.Temporal = spy })
	id := must(t, 201, callAt(t, base, "POST", "/v1/collaborations", opsKey,
		fmt.Sprintf(`{"campaign_id":%q,"creator_id":%q}`, campaign, creator))).str("id")
	if !spy.listedAtStart.Load() {
		t.Fatal("the collaboration was not in the read model when its workflow started")
	}
	waitForStage(t, id, "declined")
}

// TestConfirmRefusedByTheCollaborationLeavesTheLedgerPending is minor 3: the fee is in
// the ledger, then ops cancel the collaboration; finance's confirmation is refused by the
// workflow, so the answer is 409 and the row stays pending (it answered 200 and marked the
// row paid before).
func TestConfirmRefusedByTheCollaborationLeavesTheLedgerPending(t *testing.T) {
	id := approvedCollaboration(t, map[string]any{"live_window": "2s", "verification_interval": "1s"})
	code := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Body["attribution"].(map[string]any)["code"].(string)
	postURL, _ := postPage(t, id, code)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/posts", opsKey, fmt.Sprintf(`{"url":%q}`, postURL)))
	var fee map[string]any
	eventually(t, "the fee in the ledger", func() bool {
		items := must(t, 200, call(t, "GET", "/v1/payouts?collaboration_id="+id, financeKey, nil)).Body["items"].([]any)
		if len(items) == 1 {
			fee = items[0].(map[string]any)
		}
		return fee != nil
	})
	waitForStage(t, id, "payout")
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/cancel", opsKey, `{"reason":"brand pulled out"}`))

	r := must(t, 409, call(t, "POST", "/v1/payouts/"+fee["id"].(string)+"/confirm", financeKey, `{"reference":"BANK-7"}`))
	if r.str("error") == "" {
		t.Fatalf("refused confirmation: %s", r.Raw)
	}
	row := must(t, 200, call(t, "GET", "/v1/payouts?collaboration_id="+id, financeKey, nil)).Body["items"].([]any)[0].(map[string]any)
	if row["status"] != "pending" || row["reference"] != "" {
		t.Fatalf("ledger row after the refused confirmation: %v", row)
	}
}
