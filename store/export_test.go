package store

import (
	"context"
	"fmt"
)

// SeedCollaborationsForBenchmark adds n creators and a read-model row each in campaignID,
// spread over the stages, with fees, deadlines, holds and escalations, in two statements.
func (s *Store) SeedCollaborationsForBenchmark(ctx context.Context, campaignID, _ string, n int) error {
	_, err := s.pool.Exec(ctx, `WITH c AS (
			INSERT INTO creators (id, name, email, timezone, followers, avg_engagement, tier, created_at, updated_at)
			SELECT gen_random_uuid(), 'Bench ' || i, 'bench-' || i || '-' || gen_random_uuid() || '@example.com', 'UTC', 1000, 10, 'micro', now(), now()
			FROM generate_series(1, $2) AS i RETURNING id)
		INSERT INTO collaborations (id, campaign_id, creator_id, stage, stage_seq, created_at, updated_at, tier, due_at, on_hold, fee, currency,
			attention_reason, stage_since)
		SELECT 'collab-' || $1 || '-' || c.id, $1::uuid, c.id,
			(ARRAY['outreach','negotiating','contracting','in_production','in_review','awaiting_post','verifying','live','payout','completed'])[1 + (row_number() OVER () % 10)],
			1, now(), now(), 'micro', now() + (random() - 0.5) * interval '10 days', random() < 0.05, 100000, 'USD',
			CASE WHEN random() < 0.03 THEN 'waiting' ELSE '' END, now()
		FROM c`, campaignID, n)
	if err != nil {
		return fmt.Errorf("seed %d collaborations: %w", n, err)
	}
	return nil
}
