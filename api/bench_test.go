package api_test

import (
	"fmt"
	"sync"
	"testing"
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
