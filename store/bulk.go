package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Bulk item statuses.
const (
	BulkPending = "pending"
	BulkApplied = "applied"
	// BulkRefused is the collaboration's own refusal (already ended, not in outreach):
	// final, with its words as the result.
	BulkRefused = "refused"
	BulkFailed  = "failed"
)

// MaxBulk is the most collaborations one bulk action takes.
const MaxBulk = 10_000

// BulkAction is one request to pause, resume or cancel many collaborations, with its
// progress.
type BulkAction struct {
	ID          string     `json:"id"`
	CampaignID  string     `json:"campaign_id"`
	Action      string     `json:"action"`
	Reason      string     `json:"reason,omitempty"`
	RequestedBy string     `json:"requested_by"`
	Total       int        `json:"total"`
	Pending     int        `json:"pending"`
	Applied     int        `json:"applied"`
	Refused     int        `json:"refused"`
	Failed      int        `json:"failed"`
	CreatedAt   time.Time  `json:"created_at"`
	FinishedAt  *time.Time `json:"finished_at"`
}

// BulkItem is what a bulk action did to one collaboration.
type BulkItem struct {
	Seq             int       `json:"seq"`
	CollaborationID string    `json:"collaboration_id"`
	Status          string    `json:"status"`
	Result          string    `json:"result,omitempty"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// CreateBulkAction stores a bulk action and one pending item per collaboration, in order,
// in one transaction.
func (s *Store) CreateBulkAction(ctx context.Context, b BulkAction, collaborationIDs []string) (BulkAction, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return BulkAction{}, fmt.Errorf("new bulk action id: %w", err)
	}
	b.ID, b.Total, b.Pending, b.CreatedAt = id.String(), len(collaborationIDs), len(collaborationIDs), now()
	seqs := make([]int32, len(collaborationIDs))
	for i := range seqs {
		seqs[i] = int32(i + 1) // #nosec G115 -- at most MaxBulk items
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO bulk_actions (id, campaign_id, action, reason, requested_by, total, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, b.ID, b.CampaignID, b.Action, b.Reason, b.RequestedBy, b.Total, b.CreatedAt); err != nil {
			return pgError(err, nil)
		}
		_, err := tx.Exec(ctx, `INSERT INTO bulk_items (bulk_id, seq, collaboration_id, status, updated_at)
			SELECT $1, s, c, 'pending', $4 FROM unnest($2::int[], $3::text[]) AS u(s, c)`, b.ID, seqs, collaborationIDs, b.CreatedAt)
		return pgError(err, nil)
	})
	if err != nil {
		return BulkAction{}, fmt.Errorf("create bulk action in %s: %w", b.CampaignID, err)
	}
	return b, nil
}

// BulkActionByID returns a bulk action with its counts per status.
func (s *Store) BulkActionByID(ctx context.Context, id string) (BulkAction, error) {
	var b BulkAction
	err := s.pool.QueryRow(ctx, `SELECT b.id, b.campaign_id, b.action, b.reason, b.requested_by, b.total, b.created_at, b.finished_at,
			count(*) FILTER (WHERE i.status = 'pending'), count(*) FILTER (WHERE i.status = 'applied'),
			count(*) FILTER (WHERE i.status = 'refused'), count(*) FILTER (WHERE i.status = 'failed')
		FROM bulk_actions b LEFT JOIN bulk_items i ON i.bulk_id = b.id WHERE b.id = $1 GROUP BY b.id`, id).
		Scan(&b.ID, &b.CampaignID, &b.Action, &b.Reason, &b.RequestedBy, &b.Total, &b.CreatedAt, &b.FinishedAt,
			&b.Pending, &b.Applied, &b.Refused, &b.Failed)
	if err != nil {
		return BulkAction{}, fmt.Errorf("bulk action %s: %w", id, pgError(err, nil))
	}
	return b, nil
}

// BulkItems returns up to limit items after seq, in order; status filters when set.
func (s *Store) BulkItems(ctx context.Context, bulkID string, afterSeq, limit int, status string) ([]BulkItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, collaboration_id, status, result, updated_at FROM bulk_items
		WHERE bulk_id = $1 AND seq > $2 AND ($4 = '' OR status = $4) ORDER BY seq LIMIT $3`, bulkID, afterSeq, limit, status)
	if err != nil {
		return nil, fmt.Errorf("items of bulk action %s: %w", bulkID, err)
	}
	items, err := pgx.CollectRows(rows, pgx.RowToStructByPos[BulkItem])
	if err != nil {
		return nil, fmt.Errorf("items of bulk action %s: %w", bulkID, err)
	}
	return items, nil
}

// SetBulkItem records what became of one pending item; a finished item stays as it is.
func (s *Store) SetBulkItem(ctx context.Context, bulkID string, it BulkItem) error {
	_, err := s.pool.Exec(ctx, `UPDATE bulk_items SET status = $3, result = $4, updated_at = $5
		WHERE bulk_id = $1 AND seq = $2 AND status = 'pending'`, bulkID, it.Seq, it.Status, it.Result, now())
	if err != nil {
		return fmt.Errorf("bulk action %s item %d: %w", bulkID, it.Seq, err)
	}
	return nil
}

// FailPendingBulkItems marks every pending item of a bulk action failed with reason.
func (s *Store) FailPendingBulkItems(ctx context.Context, bulkID, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE bulk_items SET status = 'failed', result = $2, updated_at = $3
		WHERE bulk_id = $1 AND status = 'pending'`, bulkID, reason, now())
	if err != nil {
		return fmt.Errorf("fail the rest of bulk action %s: %w", bulkID, err)
	}
	return nil
}

// FinishBulkAction records that a bulk action went through every item.
func (s *Store) FinishBulkAction(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE bulk_actions SET finished_at = $2 WHERE id = $1 AND finished_at IS NULL`, id, now()); err != nil {
		return fmt.Errorf("finish bulk action %s: %w", id, err)
	}
	return nil
}

// CampaignCollaborationIDs lists, in id order and up to limit, a campaign's collaborations
// from the read model that are in one of stages (and in stage, when set).
func (s *Store) CampaignCollaborationIDs(ctx context.Context, campaignID, stage string, stages []string, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM collaborations WHERE campaign_id = $1 AND ($2 = '' OR stage = $2)
		AND stage = ANY ($3) ORDER BY id LIMIT $4`, campaignID, stage, stages, limit)
	if err != nil {
		return nil, fmt.Errorf("collaborations of %s: %w", campaignID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("collaborations of %s: %w", campaignID, err)
	}
	return ids, nil
}
