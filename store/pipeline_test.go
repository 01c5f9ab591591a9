package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// seedCampaign makes a campaign and n creators for read-model rows.
func seedCampaign(t testing.TB, s *store.Store, n int) (string, []string) {
	t.Helper()
	ctx := context.Background()
	cp := campaigns.Campaign{Name: "Pipeline", Brand: "Acme", SenderEmail: "c@acme.test"}
	cp.ApplyDefaults()
	cp, err := s.CreateCampaign(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		cr, err := s.CreateCreator(ctx, roster.Creator{Name: fmt.Sprintf("P %d", i), Email: fmt.Sprintf("p%d-%d@example.com", i, time.Now().UnixNano()), Timezone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, cr.ID)
	}
	return cp.ID, ids
}

// TestPipelineCountsPerStage: counts, overdue (past due in a waiting stage only), holds,
// attention and agreed fees per currency, per stage and in total; a stage entered twice in
// a row is one entry of the stage history; the list filters by tier, overdue and
// attention, and the filtered pipeline (PipelineOf) counts the rows the list shows.
func TestPipelineCountsPerStage(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	campaign, creators := seedCampaign(t, s, 6)
	now := time.Now().UTC().Truncate(time.Second)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	rows := []store.Collaboration{
		{Stage: "outreach", Tier: "micro", DueAt: &past}, // outreach is nobody's deadline
		{Stage: "in_production", Tier: "micro", DueAt: &past, Fee: 100000, Currency: "USD"},
		{Stage: "in_production", Tier: "mid", DueAt: &future, Fee: 50000, Currency: "USD"},
		{Stage: "in_review", Tier: "mid", DueAt: &past, Fee: 70000, Currency: "EUR", Attention: &store.Attention{Reason: "review overdue", Since: now}},
		{Stage: "live", Tier: "macro", OnHold: true, Fee: 20000, Currency: "USD"},
		{Stage: "cancelled", Tier: "micro"},
	}
	for i, r := range rows {
		r.ID, r.CampaignID, r.CreatorID = fmt.Sprintf("collab-%s-%d", campaign, i), campaign, creators[i]
		r.StageSeq, r.UpdatedAt = 1, now
		if err := s.RecordCollaboration(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.CampaignPipeline(ctx, campaign, []string{"outreach", "in_production", "in_review", "live", "completed", "cancelled"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 6 || p.Overdue != 2 || p.OnHold != 1 || p.Attention != 1 {
		t.Fatalf("totals %+v", p)
	}
	if fmt.Sprint(p.Fees) != "[{EUR 70000} {USD 170000}]" {
		t.Fatalf("fees %v", p.Fees)
	}
	want := map[string]string{
		"outreach":      "1 0 0 0 []",
		"in_production": "2 1 0 0 [{USD 150000}]",
		"in_review":     "1 1 0 1 [{EUR 70000}]",
		"live":          "1 0 1 0 [{USD 20000}]",
		"completed":     "0 0 0 0 []",
		"cancelled":     "1 0 0 0 []",
	}
	for _, sc := range p.Stages {
		if got := fmt.Sprint(sc.Count, sc.Overdue, sc.OnHold, sc.Attention, sc.Fees); got != want[sc.Stage] {
			t.Errorf("%s: %s, want %s", sc.Stage, got, want[sc.Stage])
		}
	}

	overdue, notOverdue := true, false
	for _, tt := range []struct {
		f    store.CollaborationFilter
		want int
	}{
		{store.CollaborationFilter{Tier: "micro"}, 3},
		{store.CollaborationFilter{Overdue: &overdue}, 2},
		{store.CollaborationFilter{Overdue: &notOverdue}, 4},
		{store.CollaborationFilter{Tier: "mid", Overdue: &overdue}, 1},
		{store.CollaborationFilter{Attention: &overdue}, 1},
		{store.CollaborationFilter{Stage: "in_production", Overdue: &notOverdue}, 1},
	} {
		tt.f.CampaignID, tt.f.Now, tt.f.Limit = campaign, now, 50
		list, _, err := s.ListCollaborations(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != tt.want {
			t.Errorf("filter %+v: %d rows, want %d", tt.f, len(list), tt.want)
		}
		fp, err := s.PipelineOf(ctx, tt.f, []string{"outreach", "in_production", "in_review"})
		if err != nil {
			t.Fatal(err)
		}
		perStage := map[string]int{}
		for _, r := range list {
			perStage[r.Stage]++
		}
		for _, sc := range fp.Stages {
			if sc.Count != perStage[sc.Stage] {
				t.Errorf("filter %+v: pipeline counts %d in %s, the list %d", tt.f, sc.Count, sc.Stage, perStage[sc.Stage])
			}
		}
		if fp.Total != tt.want {
			t.Errorf("filter %+v: pipeline total %d, want %d", tt.f, fp.Total, tt.want)
		}
	}

	// The same stage again (an escalation's update) is not a new stage; a new one is.
	r := rows[1]
	r.ID, r.CampaignID, r.CreatorID = fmt.Sprintf("collab-%s-1", campaign), campaign, creators[1]
	for seq, stage := range map[int]string{2: "in_production", 3: "in_review"} {
		r.StageSeq, r.Stage, r.UpdatedAt = seq, stage, now.Add(time.Duration(seq)*time.Minute)
		if err := s.RecordCollaboration(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Collaboration(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stage != "in_review" || !got.StageSince.Equal(now.Add(3*time.Minute)) || got.Tier != "micro" {
		t.Fatalf("row after changes: %+v", got)
	}
	history, err := s.StageHistory(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 2 || history[0].Seq != 1 || history[0].Stage != "in_production" || !history[0].EnteredAt.Equal(now) ||
		history[1].Seq != 3 || history[1].Stage != "in_review" || !history[1].EnteredAt.Equal(now.Add(3*time.Minute)) {
		t.Fatalf("stage history %v", history)
	}
}

// BenchmarkCampaignPipeline is the pipeline of a campaign of 10,000 collaborations (the
// target is 50 ms).
func BenchmarkCampaignPipeline(b *testing.B) {
	ctx := context.Background()
	s := storetest.New(b)
	campaign, creators := seedCampaign(b, s, 1)
	if err := s.SeedCollaborationsForBenchmark(ctx, campaign, creators[0], 10_000); err != nil {
		b.Fatal(err)
	}
	stages := []string{"outreach", "negotiating", "contracting", "in_production", "in_review", "awaiting_post", "verifying", "live", "payout", "completed"}
	b.ResetTimer()
	for b.Loop() {
		p, err := s.CampaignPipeline(ctx, campaign, stages, time.Now())
		if err != nil || p.Total != 10_000 {
			b.Fatal(p.Total, err)
		}
	}
}

// TestStageQueueOldestFirst: the queue of a stage lists its collaborations across
// campaigns by how long they have been in it, longest first, up to the limit, and counts
// them all; CreatorNames names the creators in one query.
func TestStageQueueOldestFirst(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	campaign, creators := seedCampaign(t, s, 4)
	now := time.Now().UTC().Truncate(time.Second)
	// Entered in_review 1h, 3h and 2h ago; the fourth is elsewhere.
	for i, r := range []struct {
		stage string
		ago   time.Duration
	}{{"in_review", time.Hour}, {"in_review", 3 * time.Hour}, {"in_review", 2 * time.Hour}, {"live", 5 * time.Hour}} {
		err := s.RecordCollaboration(ctx, store.Collaboration{ID: fmt.Sprintf("collab-%s-%d", campaign, i), CampaignID: campaign,
			CreatorID: creators[i], Stage: r.stage, StageSeq: 1, UpdatedAt: now.Add(-r.ago)})
		if err != nil {
			t.Fatal(err)
		}
	}
	list, total, err := s.StageQueue(ctx, "in_review", 2)
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(list) != 2 || list[0].CreatorID != creators[1] || list[1].CreatorID != creators[2] {
		t.Fatalf("queue: %d in all, %+v", total, list)
	}
	names, err := s.CreatorNames(ctx, []string{creators[0], creators[3], "01a22047-fe95-7c2d-9b1d-1367eab1508b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[creators[0]] != "P 0" || names[creators[3]] != "P 3" {
		t.Fatalf("names: %v", names)
	}
}
