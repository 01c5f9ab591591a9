package store

import (
	"context"
	"fmt"
	"strings"
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
	CampaignID string
	CreatorID  string
	Stage      string
	After      string
	Limit      int
}

// ListCollaborations returns one page of collaborations in id order and the next cursor.
func (s *Store) ListCollaborations(ctx context.Context, f CollaborationFilter) ([]Collaboration, string, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.CampaignID != "" {
		where = append(where, "campaign_id = "+arg(f.CampaignID))
	}
	if f.CreatorID != "" {
		where = append(where, "creator_id = "+arg(f.CreatorID))
	}
	if f.Stage != "" {
		where = append(where, "stage = "+arg(f.Stage))
	}
	if f.After != "" {
		where = append(where, "id > "+arg(f.After))
	}
	q := `SELECT id, campaign_id, creator_id, stage, stage_seq, created_at, updated_at FROM collaborations`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id LIMIT " + arg(f.Limit+1)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list collaborations: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Collaboration])
	if err != nil {
		return nil, "", fmt.Errorf("list collaborations: %w", err)
	}
	return page(list, f.Limit, func(c Collaboration) string { return c.ID })
}
