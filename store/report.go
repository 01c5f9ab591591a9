package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/collabflow/collabflow/payout"
	"github.com/collabflow/collabflow/report"
)

// ReportRows loads everything a campaign's report needs in four queries, each over the
// campaign's collaborations by index (collaborations by campaign, payouts by
// collaboration, the newest metrics snapshot per collaboration, the stage history by
// collaboration): no query per collaboration, so 10,000 cost the same four round trips.
// Rows are in collaboration id order. The queries share one read-only snapshot, so a
// payout written between them cannot appear without its collaboration.
func (s *Store) ReportRows(ctx context.Context, campaignID string) ([]report.Row, error) {
	var list []report.Row
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		list, err = reportRows(ctx, tx, campaignID)
		return err
	})
	return list, err
}

func reportRows(ctx context.Context, tx pgx.Tx, campaignID string) ([]report.Row, error) {
	rows, err := tx.Query(ctx, `SELECT c.id, c.creator_id, COALESCE(k.name, ''), c.tier, c.variant, c.stage
		FROM collaborations c LEFT JOIN creators k ON k.id = c.creator_id
		WHERE c.campaign_id = $1 ORDER BY c.id`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("report rows of %s: %w", campaignID, err)
	}
	var (
		list  []report.Row
		index = map[string]int{}
		r     report.Row
	)
	_, err = pgx.ForEachRow(rows, []any{&r.CollaborationID, &r.CreatorID, &r.CreatorName, &r.Tier, &r.Variant, &r.Stage}, func() error {
		index[r.CollaborationID] = len(list)
		list = append(list, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report rows of %s: %w", campaignID, err)
	}
	if len(list) == 0 {
		return list, nil
	}

	rows, err = tx.Query(ctx, `SELECT p.collaboration_id, p.kind, p.status, p.currency, p.amount, p.breakdown
		FROM payouts p JOIN collaborations c ON c.id = p.collaboration_id
		WHERE c.campaign_id = $1 ORDER BY p.collaboration_id, p.id`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("payouts of %s: %w", campaignID, err)
	}
	var (
		id        string
		p         report.Payout
		breakdown []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &p.Kind, &p.Status, &p.Currency, &p.Amount, &breakdown}, func() error {
		p.Breakdown = payout.Breakdown{}
		if err := json.Unmarshal(breakdown, &p.Breakdown); err != nil {
			return fmt.Errorf("breakdown of a payout of %s: %w", id, err)
		}
		if i, ok := index[id]; ok {
			list[i].Payouts = append(list[i].Payouts, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("payouts of %s: %w", campaignID, err)
	}

	// DISTINCT ON keeps the first row of each collaboration in (collaboration, at DESC)
	// order, which the metrics (collaboration_id, at) index yields: the newest snapshot.
	rows, err = tx.Query(ctx, `SELECT DISTINCT ON (m.collaboration_id) m.collaboration_id, m.at, m.impressions, m.reach,
			m.likes, m.comments, m.saves, m.shares, m.clicks, m.conversions, m.revenue, m.currency
		FROM metrics m JOIN collaborations c ON c.id = m.collaboration_id
		WHERE c.campaign_id = $1 ORDER BY m.collaboration_id, m.at DESC`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("metrics of %s: %w", campaignID, err)
	}
	var m payout.Metrics
	_, err = pgx.ForEachRow(rows, []any{&id, &m.At, &m.Impressions, &m.Reach, &m.Likes, &m.Comments, &m.Saves, &m.Shares,
		&m.Clicks, &m.Conversions, &m.Revenue, &m.Currency}, func() error {
		if i, ok := index[id]; ok {
			latest := m
			list[i].Metrics = &latest
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("metrics of %s: %w", campaignID, err)
	}

	rows, err = tx.Query(ctx, `SELECT h.collaboration_id, h.stage, h.entered_at
		FROM stage_history h JOIN collaborations c ON c.id = h.collaboration_id
		WHERE c.campaign_id = $1 ORDER BY h.collaboration_id, h.seq`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("stage history of %s: %w", campaignID, err)
	}
	var e report.Entry
	_, err = pgx.ForEachRow(rows, []any{&id, &e.Stage, &e.EnteredAt}, func() error {
		if i, ok := index[id]; ok {
			list[i].History = append(list[i].History, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stage history of %s: %w", campaignID, err)
	}
	return list, nil
}
