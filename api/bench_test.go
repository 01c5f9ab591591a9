package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
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
