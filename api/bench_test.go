package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// BenchmarkStartCollaborations starts collaborations through the API against the real
// in-process Temporal server and PostgreSQL, 16 at a time, as an ops team launching a
// campaign does. Each op is one POST /v1/collaborations that started a new workflow.
func BenchmarkStartCollaborations(b *testing.B) {
	campaign := newCampaign(b)
	creators := make([]string, b.N)
	for i := range creators {
		r := call(b, "POST", "/v1/creators", opsKey, map[string]any{
			"name": fmt.Sprintf("Bench %d", i), "email": fmt.Sprintf("bench-%d-%d@example.com", b.N, i), "timezone": "UTC",
		})
		if r.Status != 201 {
			b.Fatalf("creator: %d %s", r.Status, r.Raw)
		}
		creators[i] = r.str("id")
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var failed sync.Once
	for i := range creators {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := call(b, "POST", "/v1/collaborations", opsKey, fmt.Sprintf(`{"campaign_id":%q,"creator_id":%q}`, campaign, creators[i]))
			if r.Status != 201 {
				failed.Do(func() { b.Errorf("start: %d %s", r.Status, r.Raw) })
			}
		})
	}
	wg.Wait()
}

// benchRoster is how many creators BenchmarkCandidates scores: a large agency's roster.
const benchRoster = 10_000

// BenchmarkCandidates ranks a roster of benchRoster creators against a campaign's rules and
// answers the first page, as GET /v1/campaigns/{id}/candidates does for every page: one
// scan of the roster, one batch of history queries, scoring and sorting in Go. The roster
// is added through the store once (about ten seconds), outside the timing.
func BenchmarkCandidates(b *testing.B) {
	benchCreators(b)
	campaign := newCampaign(b)
	must(b, 200, call(b, "PUT", "/v1/campaigns/"+campaign+"/fit", opsKey, map[string]any{
		"tiers": []string{"micro", "mid", "macro"}, "niches": []string{"fitness", "travel"}, "min_engagement_rate": 0.02,
		"audience_countries": []string{"GB", "US"},
	}))
	b.ResetTimer()
	for b.Loop() {
		r := call(b, "GET", "/v1/campaigns/"+campaign+"/candidates?limit=50", opsKey, nil)
		if r.Status != 200 || len(r.Body["items"].([]any)) != 50 {
			b.Fatalf("candidates: %d %.200s", r.Status, r.Raw)
		}
	}
}

// benchCreators adds the benchRoster creators of the benchmarks through the store, once
// per database (about ten seconds), and returns their ids.
func benchCreators(b *testing.B) []string {
	ctx := context.Background()
	niches := []string{"fitness", "food", "travel", "tech", "beauty", "gaming"}
	countries := []string{"GB", "US", "DE", "FR", "ES"}
	have, _, err := st.ListCreators(ctx, store.CreatorFilter{Query: "Roster bench", Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	if len(have) == 0 {
		for i := range benchRoster {
			followers := int64(1_000 + (i*7_919)%2_000_000)
			_, err := st.CreateCreator(ctx, roster.Creator{
				Name: fmt.Sprintf("Roster bench %d", i), Email: fmt.Sprintf("roster-bench-%d@example.com", i), Timezone: "UTC",
				Handles:   map[string]string{"instagram": fmt.Sprintf("bench.%d", i)},
				Followers: followers, AvgEngagement: followers * int64(1+i%6) / 100,
				AudienceCountries: map[string]float64{countries[i%5]: 40, countries[(i+1)%5]: 30},
				Niches:            []string{niches[i%6], niches[(i+2)%6]},
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	var ids []string
	for after := ""; ; {
		page, next, err := st.ListCreators(ctx, store.CreatorFilter{Query: "Roster bench", After: after, Limit: 200})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range page {
			ids = append(ids, c.ID)
		}
		if after = next; after == "" {
			return ids
		}
	}
}

// BenchmarkConsoleBoard renders a campaign's console board at benchRoster
// collaborations, spread over the stages with tiers, deadlines, holds and escalations:
// the pipeline's counts, thirteen columns of cards and the creators' names; filtered by
// tier and overdue; and the review queue over them. The read-model rows are written
// through the store once, outside the timing.
func BenchmarkConsoleBoard(b *testing.B) {
	ctx := context.Background()
	creators := benchCreators(b)
	campaign := newCampaign(b)
	now := time.Now().UTC()
	tiers := []string{"nano", "micro", "mid", "macro", "mega"}
	for i, creator := range creators {
		stage := workflows.Stages[i%len(workflows.Stages)]
		c := store.Collaboration{ID: workflows.CollaborationID(campaign, creator), CampaignID: campaign, CreatorID: creator,
			Stage: string(stage), StageSeq: 1, UpdatedAt: now.Add(-time.Duration(i) * time.Minute), Tier: tiers[i%5], OnHold: i%17 == 0}
		if due := now.Add(time.Duration(i%48-24) * time.Hour); !stage.Terminal() {
			c.DueAt = &due
		}
		if i%23 == 0 {
			c.Attention = &store.Attention{Reason: "payout refused", Since: now}
		}
		if err := st.RecordCollaboration(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	u := signedIn(b, opsKey)
	for name, path := range map[string]string{"whole": "/console/campaigns/" + campaign,
		"filtered": "/console/campaigns/" + campaign + "?tier=mid&overdue=true", "review_queue": "/console/reviews"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if p := u.get(path); p.status != 200 {
					b.Fatalf("%s: %d %.200s", path, p.status, p.body)
				}
			}
		})
	}
}
