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

// SeedReportForBenchmark gives every collaboration of campaignID what a report reads: a
// fee payout, three metrics snapshots and four stage-history entries, in three statements.
func (s *Store) SeedReportForBenchmark(ctx context.Context, campaignID string) error {
	for _, q := range []string{
		`INSERT INTO payouts (id, collaboration_id, kind, idempotency_key, currency, amount, breakdown, provider, status, created_at)
			SELECT gen_random_uuid(), id, 'fee', id || '/fee', 'USD', 120000,
				'{"currency":"USD","fixed_fee":100000,"bonus":15000,"bonus_tiers":[],"revenue_share":5000,"total":120000}',
				'manual', CASE WHEN random() < 0.5 THEN 'paid' ELSE 'pending' END, now()
			FROM collaborations WHERE campaign_id = $1`,
		`INSERT INTO metrics (collaboration_id, at, impressions, reach, likes, comments, saves, shares, clicks, conversions, revenue, currency, created_at)
			SELECT c.id, now() - n * interval '1 day', 10000 / n, 8000 / n, 300 / n, 40 / n, 20 / n, 10 / n, 250 / n, 12 / n, 300000 / n, 'USD', now()
			FROM collaborations c, generate_series(1, 3) AS n WHERE c.campaign_id = $1`,
		`INSERT INTO stage_history (collaboration_id, seq, stage, entered_at)
			SELECT c.id, 10 + n, (ARRAY['outreach','negotiating','contracting','in_production'])[n], now() - (5 - n) * interval '1 day' * random()
			FROM collaborations c, generate_series(1, 4) AS n WHERE c.campaign_id = $1`,
	} {
		if _, err := s.pool.Exec(ctx, q, campaignID); err != nil {
			return fmt.Errorf("seed report of %s: %w", campaignID, err)
		}
	}
	return nil
}
