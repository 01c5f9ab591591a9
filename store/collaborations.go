package store

import (
	"context"
	"errors"
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
	// Attention is what ops must decide, nil when nothing waits for them.
	Attention *Attention `json:"attention,omitempty"`
}

// Attention is an escalation: why a collaboration waits for ops, and since when.
type Attention struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// RecordCollaboration upserts the row for a stage change. A change older than the stored
// one (a retried or late activity) is ignored, so replays and retries are harmless.
func (s *Store) RecordCollaboration(ctx context.Context, c Collaboration) error {
	reason, since := "", (*time.Time)(nil)
	if c.Attention != nil {
		reason, since = c.Attention.Reason, &c.Attention.Since
	}
	var err error
	// Two first inserts of one row at once (a double-clicked start) can meet on the
	// (campaign, creator) index before the id arbiter sees the other: PostgreSQL then
	// raises the unique violation instead of taking the update path. The row exists by
	// then, so the second attempt updates it.
	for range 2 {
		_, err = s.pool.Exec(ctx, `INSERT INTO collaborations (id, campaign_id, creator_id, stage, stage_seq, created_at, updated_at, attention_reason, attention_since)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET stage = EXCLUDED.stage, stage_seq = EXCLUDED.stage_seq, updated_at = EXCLUDED.updated_at,
				attention_reason = EXCLUDED.attention_reason, attention_since = EXCLUDED.attention_since
			WHERE collaborations.stage_seq < EXCLUDED.stage_seq`,
			c.ID, c.CampaignID, c.CreatorID, c.Stage, c.StageSeq, c.UpdatedAt.UTC(), reason, since)
		if err = pgError(err, nil); !errors.Is(err, ErrConflict) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("record collaboration %s: %w", c.ID, err)
	}
	return nil
}

// Collaboration returns the read-model row of one collaboration, or ErrNotFound.
func (s *Store) Collaboration(ctx context.Context, id string) (Collaboration, error) {
	list, _, err := s.ListCollaborations(ctx, CollaborationFilter{ID: id, Limit: 1})
	if err != nil {
		return Collaboration{}, err
	}
	if len(list) == 0 {
		return Collaboration{}, fmt.Errorf("collaboration %s: %w", id, ErrNotFound)
	}
	return list[0], nil
}

// CollaborationFilter narrows a collaboration list. Zero fields do not filter.
type CollaborationFilter struct {
	ID         string
	CampaignID string
	CreatorID  string
	Stage      string
	// Attention, when set, keeps only collaborations that do (true) or do not (false)
	// wait for an ops decision.
	Attention *bool
	After     string
	Limit     int
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
	if f.Attention != nil {
		if *f.Attention {
			q.where("attention_reason <> ''")
		} else {
			q.where("attention_reason = ''")
		}
	}
	base := `SELECT id, campaign_id, creator_id, stage, stage_seq, created_at, updated_at, attention_reason, attention_since FROM collaborations`
	rows, err := s.pool.Query(ctx, q.sql(base, f.After, f.Limit), q.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list collaborations: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Collaboration, error) {
		var (
			c      Collaboration
			reason string
			since  *time.Time
		)
		err := row.Scan(&c.ID, &c.CampaignID, &c.CreatorID, &c.Stage, &c.StageSeq, &c.CreatedAt, &c.UpdatedAt, &reason, &since)
		if reason != "" && since != nil {
			c.Attention = &Attention{Reason: reason, Since: since.UTC()}
		}
		return c, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list collaborations: %w", err)
	}
	return page(list, f.Limit, func(c Collaboration) string { return c.ID })
}
