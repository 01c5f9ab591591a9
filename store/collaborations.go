package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Collaboration is the read-model row of one collaboration workflow.
type Collaboration struct {
	ID         string    `json:"id"`
	CampaignID string    `json:"campaign_id"`
	CreatorID  string    `json:"creator_id"`
	Stage      string    `json:"stage"`
	StageSeq   int       `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// RecordCollaboration upserts the row for a stage change. A change older than the stored
// one (a retried or late activity) is ignored, so replays and retries are harmless.
func (s *Store) RecordCollaboration(ctx context.Context, c Collaboration) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO collaborations (id, campaign_id, creator_id, stage, stage_seq, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (id) DO UPDATE SET stage = EXCLUDED.stage, stage_seq = EXCLUDED.stage_seq, updated_at = EXCLUDED.updated_at
		WHERE collaborations.stage_seq < EXCLUDED.stage_seq`,
		c.ID, c.CampaignID, c.CreatorID, c.Stage, c.StageSeq, c.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("record collaboration %s: %w", c.ID, pgError(err, nil))
	}
	return nil
}

// CollaborationFilter narrows a collaboration list. Zero fields do not filter.
type CollaborationFilter struct {
	ID         string
	CampaignID string
	CreatorID  string
	Stage      string
	After      string
	Limit      int
}

// ListCollaborations returns one page of collaborations in id order and the next cursor.
func (s *Store) ListCollaborations(ctx context.Context, f CollaborationFilter) ([]Collaboration, string, error) {
	var q keysetQuery
	if f.ID != "" {
		q.where("id = " + q.arg(f.ID))
	}
	if f.CampaignID != "" {
		q.where("campaign_id = " + q.arg(f.CampaignID))
	}
	if f.CreatorID != "" {
		q.where("creator_id = " + q.arg(f.CreatorID))
	}
	if f.Stage != "" {
		q.where("stage = " + q.arg(f.Stage))
	}
	base := `SELECT id, campaign_id, creator_id, stage, stage_seq, created_at, updated_at FROM collaborations`
	rows, err := s.pool.Query(ctx, q.sql(base, f.After, f.Limit), q.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list collaborations: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Collaboration])
	if err != nil {
		return nil, "", fmt.Errorf("list collaborations: %w", err)
	}
	return page(list, f.Limit, func(c Collaboration) string { return c.ID })
}
