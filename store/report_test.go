package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/experiments"
	"github.com/collabflow/collabflow/payout"
	"github.com/collabflow/collabflow/report"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// TestReportRows: every collaboration of the campaign and none of another, each with its
// payouts (breakdown decoded), only its newest metrics snapshot and its stage history in
// order; a campaign without collaborations has no rows.
func TestReportRows(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	campaign, creators := seedCampaign(t, s, 3)
	other, others := seedCampaign(t, s, 1)
	now := time.Now().UTC().Truncate(time.Second)
	id := func(i int) string { return fmt.Sprintf("collab-%s-%d", campaign, i) }
	record := func(c store.Collaboration) {
		t.Helper()
		if err := s.RecordCollaboration(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for i, stages := range [][]string{{"outreach", "negotiating", "contracting"}, {"outreach"}, {"outreach", "no_response"}} {
		for seq, stage := range stages {
			record(store.Collaboration{ID: id(i), CampaignID: campaign, CreatorID: creators[i], Stage: stage, StageSeq: seq + 1,
				UpdatedAt: now.Add(time.Duration(seq) * time.Hour), Tier: "micro", Variant: []string{"a", "b", ""}[i]})
		}
	}
	record(store.Collaboration{ID: "collab-" + other, CampaignID: other, CreatorID: others[0], Stage: "outreach", StageSeq: 1, UpdatedAt: now})

	b, _ := json.Marshal(payout.Breakdown{Currency: "USD", FixedFee: 1000, Bonus: 200, RevenueShare: 30, Total: 1230})
	for _, p := range []store.Payout{
		{CollaborationID: id(0), Kind: "fee", IdempotencyKey: id(0) + "/fee", Currency: "USD", Amount: 1230, Breakdown: b, Provider: "manual", Status: "pending"},
		{CollaborationID: "collab-" + other, Kind: "fee", IdempotencyKey: other + "/fee", Currency: "USD", Amount: 9, Breakdown: b, Provider: "manual", Status: "pending"},
	} {
		if _, err := s.CreatePayout(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	err := s.AddMetrics(ctx, map[string][]payout.Metrics{id(0): {
		{At: now, Impressions: 10, Reach: 5, Currency: "USD"},
		{At: now.Add(time.Hour), Impressions: 100, Reach: 50, Clicks: 7, Currency: "USD"},
	}}, []string{id(0)})
	if err != nil {
		t.Fatal(err)
	}

	rows, err := s.ReportRows(ctx, campaign)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	first := rows[0]
	for _, tt := range []struct{ name, got, want string }{
		{"row", fmt.Sprintln(first.CollaborationID == id(0), first.CreatorName, first.Tier, first.Variant, first.Stage), "true P 0 micro a contracting"},
		{"payouts", fmt.Sprintf("%+v", first.Payouts), "[{Kind:fee Status:pending Currency:USD Amount:1230 Bonus:200 RevenueShare:30}]"},
		{"latest metrics", fmt.Sprintln(first.Metrics.Impressions, first.Metrics.Reach, first.Metrics.Clicks), "100 50 7"},
		{"history", fmt.Sprintln(len(first.History), first.History[0].Stage, first.History[2].Stage, first.History[2].EnteredAt.Sub(first.History[0].EnteredAt)), "3 outreach contracting 2h0m0s"},
		{"no metrics", fmt.Sprintln(rows[1].Metrics == nil, len(rows[1].Payouts), len(rows[1].History)), "true 0 1"},
		{"third", fmt.Sprintln(rows[2].Stage, rows[2].Variant == "", len(rows[2].History)), "no_response true 2"},
	} {
		if strings.TrimSpace(tt.got) != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}

	empty, _ := seedCampaign(t, s, 0)
	if rows, err := s.ReportRows(ctx, empty); err != nil || len(rows) != 0 {
		t.Fatalf("empty campaign: %v %v", rows, err)
	}
}

// TestBudgetAndExperiments: a budget is stored, read back and removed; a campaign has at
// most one open outreach test, and a decision frees it for the next.
func TestBudgetAndExperiments(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	campaign, _ := seedCampaign(t, s, 0)
	cp, err := s.SetCampaignBudget(ctx, campaign, &campaigns.Budget{Currency: "EUR", Amount: 500000})
	if err != nil || cp.Budget == nil || *cp.Budget != (campaigns.Budget{Currency: "EUR", Amount: 500000}) {
		t.Fatalf("set budget: %+v %v", cp.Budget, err)
	}
	if cp, err = s.SetCampaignBudget(ctx, campaign, nil); err != nil || cp.Budget != nil {
		t.Fatalf("remove budget: %+v %v", cp.Budget, err)
	}
	if _, err := s.SetCampaignBudget(ctx, "00000000-0000-0000-0000-000000000000", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown campaign: %v", err)
	}

	ab := experiments.Experiment{CampaignID: campaign, Kind: experiments.KindOutreachAB, Hypothesis: "h", Variable: "subject",
		Variants: []experiments.Variant{{Name: "a"}, {Name: "b"}}, CreatedBy: "ops"}
	e, err := s.CreateExperiment(ctx, ab)
	if err != nil || e.Status != experiments.StatusOpen {
		t.Fatalf("create: %+v %v", e, err)
	}
	if open, err := s.OpenOutreachTest(ctx, campaign); err != nil || open.ID != e.ID {
		t.Fatalf("open outreach test: %+v %v", open, err)
	}
	var conflict *store.ConflictError
	if _, err := s.CreateExperiment(ctx, ab); !errors.As(err, &conflict) || conflict.Field != "kind" {
		t.Fatalf("second open outreach test: %v", err)
	}
	other := ab
	other.Kind = experiments.KindOther
	if _, err := s.CreateExperiment(ctx, other); err != nil {
		t.Fatalf("another kind beside it: %v", err)
	}
	result, decision := "a replied 12% more", "adopt a"
	got, err := s.RecordExperimentOutcome(ctx, campaign, e.ID, &result, nil)
	if err != nil || got.Status != experiments.StatusOpen || got.Result != result {
		t.Fatalf("result only: %+v %v", got, err)
	}
	if got, err = s.RecordExperimentOutcome(ctx, campaign, e.ID, nil, &decision); err != nil || got.Status != experiments.StatusDecided || got.Result != result {
		t.Fatalf("decision: %+v %v", got, err)
	}
	if _, err := s.OpenOutreachTest(ctx, campaign); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("open outreach test after the decision: %v", err)
	}
	if _, err := s.CreateExperiment(ctx, ab); err != nil {
		t.Fatalf("outreach test after a decision: %v", err)
	}
	list, next, err := s.ListExperiments(ctx, campaign, "", 2)
	if err != nil || len(list) != 2 || next == "" || list[0].ID != e.ID || len(list[0].Variants) != 2 {
		t.Fatalf("first page: %d %q %v", len(list), next, err)
	}
	if list, next, err = s.ListExperiments(ctx, campaign, next, 2); err != nil || len(list) != 1 || next != "" {
		t.Fatalf("second page: %d %q %v", len(list), next, err)
	}
	if _, err := s.Experiment(ctx, campaign, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown experiment: %v", err)
	}
}

// BenchmarkCampaignReport loads and computes the report of 10,000 collaborations, each
// with a payout, three metrics snapshots and four stages of history.
func BenchmarkCampaignReport(b *testing.B) {
	ctx := context.Background()
	s := storetest.New(b)
	campaign, creators := seedCampaign(b, s, 1)
	if err := s.SeedCollaborationsForBenchmark(ctx, campaign, creators[0], 10_000); err != nil {
		b.Fatal(err)
	}
	if err := s.SeedReportForBenchmark(ctx, campaign); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		rows, err := s.ReportRows(ctx, campaign)
		if err != nil || len(rows) != 10_000 || rows[0].Metrics == nil || len(rows[0].History) != 4 {
			b.Fatal(len(rows), err)
		}
		r := report.Build(report.Input{CampaignID: campaign, Rows: rows, Stages: []string{"outreach"}, AsOf: time.Now()})
		if r.Campaign.Collaborations != 10_000 {
			b.Fatal(r.Campaign.Collaborations)
		}
	}
}
