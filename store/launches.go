package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Launch item statuses.
const (
	LaunchPending = "pending"
	// LaunchStarting marks an item whose start was attempted: a retry after a crash that
	// finds its workflow knows the launch started it.
	LaunchStarting = "starting"
	LaunchStarted  = "started"
	LaunchSkipped  = "skipped"
	LaunchFailed   = "failed"
)

// MaxLaunch is the most creators one launch starts.
const MaxLaunch = 5000

// Launch is one request to start a campaign's roster, with its progress.
type Launch struct {
	ID          string     `json:"id"`
	CampaignID  string     `json:"campaign_id"`
	RequestedBy string     `json:"requested_by"`
	Total       int        `json:"total"`
	Pending     int        `json:"pending"`
	Started     int        `json:"started"`
	Skipped     int        `json:"skipped"`
	Failed      int        `json:"failed"`
	CreatedAt   time.Time  `json:"created_at"`
	FinishedAt  *time.Time `json:"finished_at"`
}

// LaunchItem is what a launch did, or will do, for one creator.
type LaunchItem struct {
	Seq             int       `json:"seq"`
	CreatorID       string    `json:"creator_id"`
	Status          string    `json:"status"`
	Reason          string    `json:"reason,omitempty"`
	CollaborationID string    `json:"collaboration_id,omitempty"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// ApprovedRoster returns the creator IDs on a campaign's roster in approval order.
func (s *Store) ApprovedRoster(ctx context.Context, campaignID string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT creator_id::text FROM campaign_roster WHERE campaign_id = $1
		ORDER BY approved_at, creator_id`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("roster of %s: %w", campaignID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("roster of %s: %w", campaignID, err)
	}
	return ids, nil
}

// CreateLaunch stores a launch and one pending item per creator, in order, in one
// transaction, and returns it.
func (s *Store) CreateLaunch(ctx context.Context, campaignID, requestedBy string, creatorIDs []string) (Launch, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Launch{}, fmt.Errorf("new launch id: %w", err)
	}
	l := Launch{ID: id.String(), CampaignID: campaignID, RequestedBy: requestedBy, Total: len(creatorIDs), Pending: len(creatorIDs), CreatedAt: now()}
	seqs := make([]int32, len(creatorIDs))
	for i := range seqs {
		seqs[i] = int32(i + 1) // #nosec G115 -- at most MaxLaunch items
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO launches (id, campaign_id, requested_by, total, created_at) VALUES ($1, $2, $3, $4, $5)`,
			l.ID, campaignID, requestedBy, l.Total, l.CreatedAt); err != nil {
			return pgError(err, nil)
		}
		_, err := tx.Exec(ctx, `INSERT INTO launch_items (launch_id, seq, creator_id, status, updated_at)
			SELECT $1, s, c, 'pending', $4 FROM unnest($2::int[], $3::uuid[]) AS u(s, c)`, l.ID, seqs, creatorIDs, l.CreatedAt)
		return pgError(err, nil)
	})
	if err != nil {
		return Launch{}, fmt.Errorf("create launch of %s: %w", campaignID, err)
	}
	return l, nil
}

// Launch returns a launch with its counts per status.
func (s *Store) Launch(ctx context.Context, id string) (Launch, error) {
	var l Launch
	err := s.pool.QueryRow(ctx, `SELECT l.id, l.campaign_id, l.requested_by, l.total, l.created_at, l.finished_at,
			count(*) FILTER (WHERE i.status IN ('pending', 'starting')), count(*) FILTER (WHERE i.status = 'started'),
			count(*) FILTER (WHERE i.status = 'skipped'), count(*) FILTER (WHERE i.status = 'failed')
		FROM launches l LEFT JOIN launch_items i ON i.launch_id = l.id WHERE l.id = $1 GROUP BY l.id`, id).
		Scan(&l.ID, &l.CampaignID, &l.RequestedBy, &l.Total, &l.CreatedAt, &l.FinishedAt, &l.Pending, &l.Started, &l.Skipped, &l.Failed)
	if err != nil {
		return Launch{}, fmt.Errorf("launch %s: %w", id, pgError(err, nil))
	}
	return l, nil
}

// LaunchItems returns up to limit items after seq, in order; status filters when set.
func (s *Store) LaunchItems(ctx context.Context, launchID string, afterSeq, limit int, status string) ([]LaunchItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, creator_id::text, status, reason, collaboration_id, updated_at FROM launch_items
		WHERE launch_id = $1 AND seq > $2 AND ($4 = '' OR status = $4) ORDER BY seq LIMIT $3`, launchID, afterSeq, limit, status)
	if err != nil {
		return nil, fmt.Errorf("items of launch %s: %w", launchID, err)
	}
	items, err := pgx.CollectRows(rows, pgx.RowToStructByPos[LaunchItem])
	if err != nil {
		return nil, fmt.Errorf("items of launch %s: %w", launchID, err)
	}
	return items, nil
}

// SetLaunchItem records what became of one item. A finished item (started, skipped or
// failed) is never changed again, so a retried batch cannot rewrite history.
func (s *Store) SetLaunchItem(ctx context.Context, launchID string, it LaunchItem) error {
	_, err := s.pool.Exec(ctx, `UPDATE launch_items SET status = $3, reason = $4, collaboration_id = $5, updated_at = $6
		WHERE launch_id = $1 AND seq = $2 AND status IN ('pending', 'starting')`,
		launchID, it.Seq, it.Status, it.Reason, it.CollaborationID, now())
	if err != nil {
		return fmt.Errorf("launch %s item %d: %w", launchID, it.Seq, err)
	}
	return nil
}

// MarkLaunchItemStarting records that a pending item's start is about to be attempted.
func (s *Store) MarkLaunchItemStarting(ctx context.Context, launchID string, seq int) error {
	_, err := s.pool.Exec(ctx, `UPDATE launch_items SET status = 'starting', updated_at = $3
		WHERE launch_id = $1 AND seq = $2 AND status = 'pending'`, launchID, seq, now())
	if err != nil {
		return fmt.Errorf("launch %s item %d: %w", launchID, seq, err)
	}
	return nil
}

// CollaborationExists reports whether the read model has the (campaign, creator) pair.
func (s *Store) CollaborationExists(ctx context.Context, campaignID, creatorID string) (bool, error) {
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM collaborations WHERE campaign_id = $1 AND creator_id = $2)`,
		campaignID, creatorID).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("collaboration of %s and %s: %w", campaignID, creatorID, err)
	}
	return exists, nil
}

// FailPendingLaunchItems marks every unfinished item of a launch failed with reason.
func (s *Store) FailPendingLaunchItems(ctx context.Context, launchID, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE launch_items SET status = 'failed', reason = $2, updated_at = $3
		WHERE launch_id = $1 AND status IN ('pending', 'starting')`, launchID, reason, now())
	if err != nil {
		return fmt.Errorf("fail the rest of launch %s: %w", launchID, err)
	}
	return nil
}

// FinishLaunch records that a launch went through every item; the first time stays.
func (s *Store) FinishLaunch(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE launches SET finished_at = $2 WHERE id = $1 AND finished_at IS NULL`, id, now()); err != nil {
		return fmt.Errorf("finish launch %s: %w", id, err)
	}
	return nil
}

// RosterTier is the tier a campaign's roster gives a creator, empty when the creator is
// not on it.
func (s *Store) RosterTier(ctx context.Context, campaignID, creatorID string) (string, error) {
	var tier string
	err := s.pool.QueryRow(ctx, `SELECT tier FROM campaign_roster WHERE campaign_id = $1 AND creator_id = $2`, campaignID, creatorID).Scan(&tier)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("roster tier of %s in %s: %w", creatorID, campaignID, err)
	}
	return tier, nil
}
