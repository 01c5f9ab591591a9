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
	// Tier is the tier the campaign works with the creator at (its roster's, else the
	// creator's), and Variant the outreach variant; both are set at start.
	Tier    string `json:"tier,omitempty"`
	Variant string `json:"variant,omitempty"`
	// DueAt is the deadline of the step the collaboration waits for (a signature, a
	// draft, a review, the posts), as the workflow last told it; nil when none.
	DueAt *time.Time `json:"due_at,omitempty"`
	// OnHold means the payout is held: a live post fails its checks.
	OnHold bool `json:"on_hold"`
	// Fee is the agreed fixed fee in minor units of Currency, once terms are agreed.
	Fee        int64     `json:"fee"`
	Currency   string    `json:"currency,omitempty"`
	StageSince time.Time `json:"stage_since"`
}

// Attention is an escalation: why a collaboration waits for ops, and since when.
type Attention struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// RecordCollaboration upserts the row for a change and notes a new stage in the stage
// history. A change older than the stored one (a retried or late activity) is ignored, so
// replays and retries are harmless. Tier and variant are kept from the start unless given.
func (s *Store) RecordCollaboration(ctx context.Context, c Collaboration) error {
	reason, since := "", (*time.Time)(nil)
	if c.Attention != nil {
		reason, since = c.Attention.Reason, &c.Attention.Since
	}
	var due *time.Time
	if c.DueAt != nil && !c.DueAt.IsZero() {
		d := c.DueAt.UTC()
		due = &d
	}
	at := c.UpdatedAt.UTC()
	record := func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO collaborations (id, campaign_id, creator_id, stage, stage_seq, created_at, updated_at,
				attention_reason, attention_since, tier, variant, due_at, on_hold, fee, currency, stage_since)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, $13, $14, $6)
			ON CONFLICT (id) DO UPDATE SET stage = EXCLUDED.stage, stage_seq = EXCLUDED.stage_seq, updated_at = EXCLUDED.updated_at,
				attention_reason = EXCLUDED.attention_reason, attention_since = EXCLUDED.attention_since,
				tier = COALESCE(NULLIF(EXCLUDED.tier, ''), collaborations.tier),
				variant = COALESCE(NULLIF(EXCLUDED.variant, ''), collaborations.variant),
				due_at = EXCLUDED.due_at, on_hold = EXCLUDED.on_hold, fee = EXCLUDED.fee, currency = EXCLUDED.currency,
				stage_since = CASE WHEN collaborations.stage = EXCLUDED.stage THEN collaborations.stage_since ELSE EXCLUDED.updated_at END
			WHERE collaborations.stage_seq < EXCLUDED.stage_seq`,
			c.ID, c.CampaignID, c.CreatorID, c.Stage, c.StageSeq, at, reason, since, c.Tier, c.Variant, due, c.OnHold, c.Fee, c.Currency)
		if err != nil {
			return err
		}
		// A stage is history when it differs from the one recorded just before it.
		_, err = tx.Exec(ctx, `INSERT INTO stage_history (collaboration_id, seq, stage, entered_at)
			SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM stage_history h WHERE h.collaboration_id = $1
				AND h.seq = (SELECT max(seq) FROM stage_history WHERE collaboration_id = $1 AND seq < $2) AND h.stage = $3)
			ON CONFLICT DO NOTHING`, c.ID, c.StageSeq, c.Stage, at)
		return err
	}
	var err error
	// Two first inserts of one row at once (a double-clicked start) can meet on the
	// (campaign, creator) index before the id arbiter sees the other: PostgreSQL then
	// raises the unique violation instead of taking the update path. The row exists by
	// then, so the second attempt updates it.
	for range 2 {
		err = pgError(pgx.BeginFunc(ctx, s.pool, record), nil)
		if !errors.Is(err, ErrConflict) {
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
	Tier      string
	// Overdue, when set, keeps only collaborations past (true) or not past (false) the
	// deadline of a waiting stage (WaitingStages) as of Now.
	Overdue *bool
	Now     time.Time
	After   string
	Limit   int
}

// ListCollaborations returns one page of collaborations in id order and the next cursor.
func (s *Store) ListCollaborations(ctx context.Context, f CollaborationFilter) ([]Collaboration, string, error) {
	var q keysetQuery
	f.conditions(&q)
	rows, err := s.pool.Query(ctx, q.sql(collaborationSelect, f.After, f.Limit), q.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list collaborations: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanCollaboration)
	if err != nil {
		return nil, "", fmt.Errorf("list collaborations: %w", err)
	}
	return page(list, f.Limit, func(c Collaboration) string { return c.ID })
}

// conditions adds the filter's conditions (all but the cursor and limit) to q: the list
// and the pipeline's counts (PipelineOf) select the same rows.
func (f CollaborationFilter) conditions(q *keysetQuery) {
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
	if f.Tier != "" {
		q.where("tier = " + q.arg(f.Tier))
	}
	if f.Overdue != nil {
		cond := "(due_at < " + q.arg(f.Now) + " AND stage = ANY (" + q.arg(WaitingStages) + "))"
		if !*f.Overdue {
			cond = "NOT " + cond + " IS TRUE"
		}
		q.where(cond)
	}
}

// collaborationSelect reads the columns scanCollaboration scans.
const collaborationSelect = `SELECT id, campaign_id, creator_id, stage, stage_seq, created_at, updated_at, attention_reason, attention_since,
		tier, variant, due_at, on_hold, fee, currency, COALESCE(stage_since, updated_at) FROM collaborations`

func scanCollaboration(row pgx.CollectableRow) (Collaboration, error) {
	var (
		c      Collaboration
		reason string
		since  *time.Time
	)
	err := row.Scan(&c.ID, &c.CampaignID, &c.CreatorID, &c.Stage, &c.StageSeq, &c.CreatedAt, &c.UpdatedAt, &reason, &since,
		&c.Tier, &c.Variant, &c.DueAt, &c.OnHold, &c.Fee, &c.Currency, &c.StageSince)
	if reason != "" && since != nil {
		c.Attention = &Attention{Reason: reason, Since: since.UTC()}
	}
	return c, err
}

// StageQueue is the collaborations waiting in a stage across campaigns, the longest
// waiting first, up to limit, and how many wait there in all: a work queue (drafts in
// review) is worked from its oldest end, so its first page is the one people need.
func (s *Store) StageQueue(ctx context.Context, stage string, limit int) ([]Collaboration, int, error) {
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM collaborations WHERE stage = $1`, stage).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("queue of %s: %w", stage, err)
	}
	rows, err := s.pool.Query(ctx, collaborationSelect+` WHERE stage = $1 ORDER BY COALESCE(stage_since, updated_at), id LIMIT $2`, stage, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("queue of %s: %w", stage, err)
	}
	list, err := pgx.CollectRows(rows, scanCollaboration)
	if err != nil {
		return nil, 0, fmt.Errorf("queue of %s: %w", stage, err)
	}
	return list, total, nil
}
