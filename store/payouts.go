package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/collabflow/collabflow/payout"
)

// Attribution is a collaboration's discount code and tracking link.
type Attribution struct {
	Code        string `json:"code"`
	TrackingURL string `json:"tracking_url"`
	// Requested is the code the terms asked for when another collaboration held it and
	// Code was generated instead; empty when the collaboration got what it asked for.
	Requested string `json:"requested,omitempty"`
}

// AssignAttribution gives a collaboration its code, keeping one assigned before. A wanted
// code (from the terms) is used when free; when another collaboration holds it, or no code
// is wanted, the code is prefix plus six random letters and digits (a prefix is shared by a
// campaign's creators; 32^6 suffixes keep one code hard to guess from another's), retried
// until it is unique across campaigns, and Requested names the wanted code. A clash never
// fails the collaboration: it comes after the contract is signed, when refusing would
// strand the deal.
func (s *Store) AssignAttribution(ctx context.Context, collaborationID, wanted, prefix, trackingBase string) (Attribution, error) {
	wanted = strings.ToUpper(strings.TrimSpace(wanted))
	var a Attribution
	err := s.pool.QueryRow(ctx, `SELECT code, tracking_url FROM attributions WHERE collaboration_id = $1`, collaborationID).Scan(&a.Code, &a.TrackingURL)
	if err == nil {
		// A retry after an attempt that generated a code reports the clash again.
		if wanted != "" && a.Code != wanted {
			a.Requested = wanted
		}
		return a, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return a, fmt.Errorf("attribution of %s: %w", collaborationID, err)
	}
	if prefix == "" {
		prefix = "CF"
	}
	code := wanted
	for attempt := 0; attempt < 10; attempt++ {
		if code == "" {
			code = prefix + "-" + randomCode(6)
		}
		link := trackingBase
		if link != "" {
			link += code
		}
		_, err := s.pool.Exec(ctx, `INSERT INTO attributions (code, collaboration_id, tracking_url, created_at) VALUES ($1, $2, $3, $4)`,
			code, collaborationID, link, now())
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			a = Attribution{Code: code, TrackingURL: link}
			if wanted != "" && code != wanted {
				a.Requested = wanted
			}
			return a, nil
		case errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "attributions_collaboration_id_key":
			return s.AssignAttribution(ctx, collaborationID, wanted, "", "") // a concurrent attempt won
		case errors.As(err, &pgErr) && pgErr.Code == "23505":
			code = "" // held by another collaboration: generate one
		default:
			return Attribution{}, fmt.Errorf("assign attribution to %s: %w", collaborationID, err)
		}
	}
	return Attribution{}, fmt.Errorf("assign attribution to %s: no free discount code after 10 attempts", collaborationID)
}

func randomCode(n int) string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" // no 0/O or 1/I to misread
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ErrStaleMetrics is a snapshot not newer than the last one stored.
var ErrStaleMetrics = errors.New("snapshot is not newer than the last one")

// AddMetrics stores snapshots in one transaction: all or none. Each must be newer than the
// collaboration's last; an advisory lock per collaboration orders concurrent writers.
func (s *Store) AddMetrics(ctx context.Context, rows map[string][]payout.Metrics, order []string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, id := range order {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, id); err != nil {
				return err
			}
			var last *time.Time
			if err := tx.QueryRow(ctx, `SELECT max(at) FROM metrics WHERE collaboration_id = $1`, id).Scan(&last); err != nil {
				return err
			}
			for _, m := range rows[id] {
				if last != nil && !m.At.After(*last) {
					return fmt.Errorf("%w: %s for %s, last %s", ErrStaleMetrics, m.At.Format(time.RFC3339), id, last.Format(time.RFC3339))
				}
				_, err := tx.Exec(ctx, `INSERT INTO metrics (collaboration_id, at, impressions, reach, likes, comments, saves, shares,
					clicks, conversions, revenue, currency, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
					id, m.At.UTC(), m.Impressions, m.Reach, m.Likes, m.Comments, m.Saves, m.Shares, m.Clicks, m.Conversions, m.Revenue, m.Currency, now())
				if err != nil {
					return err
				}
				at := m.At
				last = &at
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add metrics: %w", err)
	}
	return nil
}

// LatestMetrics is the newest snapshot of a collaboration, or ErrNotFound.
func (s *Store) LatestMetrics(ctx context.Context, collaborationID string) (payout.Metrics, error) {
	var m payout.Metrics
	err := s.pool.QueryRow(ctx, `SELECT at, impressions, reach, likes, comments, saves, shares, clicks, conversions, revenue, currency
		FROM metrics WHERE collaboration_id = $1 ORDER BY at DESC LIMIT 1`, collaborationID).Scan(
		&m.At, &m.Impressions, &m.Reach, &m.Likes, &m.Comments, &m.Saves, &m.Shares, &m.Clicks, &m.Conversions, &m.Revenue, &m.Currency)
	if err != nil {
		return m, fmt.Errorf("latest metrics of %s: %w", collaborationID, pgError(err, nil))
	}
	return m, nil
}

// Payout is a ledger row: what is owed, to whom, and whether it was paid.
type Payout struct {
	ID              string          `json:"id"`
	CollaborationID string          `json:"collaboration_id"`
	Kind            string          `json:"kind"`
	IdempotencyKey  string          `json:"idempotency_key"`
	Currency        string          `json:"currency"`
	Amount          int64           `json:"amount"`
	Breakdown       json.RawMessage `json:"breakdown"`
	Provider        string          `json:"provider"`
	Status          string          `json:"status"`
	Reference       string          `json:"reference"`
	CreatedAt       time.Time       `json:"created_at"`
	ConfirmedAt     *time.Time      `json:"confirmed_at"`
	ConfirmedBy     string          `json:"confirmed_by"`
}

// Payout statuses.
const (
	PayoutPending = "pending"
	PayoutPaid    = "paid"
)

const payoutColumns = `id, collaboration_id, kind, idempotency_key, currency, amount, breakdown, provider, status,
	reference, created_at, confirmed_at, confirmed_by`

// CreatePayout writes a ledger row unless its idempotency key exists, and returns the row
// under that key: the first one written, whatever a retry asks for.
func (s *Store) CreatePayout(ctx context.Context, p Payout) (Payout, error) {
	row, _, err := s.CreatePayoutOnce(ctx, p)
	return row, err
}

// PayoutByID returns one ledger row.
func (s *Store) PayoutByID(ctx context.Context, id string) (Payout, error) {
	return s.scanPayout(ctx, `WHERE id = $1`, id)
}

// Payouts lists ledger rows, optionally of one status and collaboration, in id order.
func (s *Store) Payouts(ctx context.Context, status, collaborationID, after string, limit int) ([]Payout, string, error) {
	var q keysetQuery
	if status != "" {
		q.where("status = " + q.arg(status))
	}
	if collaborationID != "" {
		q.where("collaboration_id = " + q.arg(collaborationID))
	}
	rows, err := s.pool.Query(ctx, q.sql(`SELECT `+payoutColumns+` FROM payouts`, after, limit), q.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list payouts: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Payout])
	if err != nil {
		return nil, "", fmt.Errorf("list payouts: %w", err)
	}
	return page(list, limit, func(p Payout) string { return p.ID })
}

// ConfirmPayout marks a pending payout paid. Confirming a paid one again with the same
// reference returns it unchanged (a retried request); another reference is a conflict.
func (s *Store) ConfirmPayout(ctx context.Context, id, reference, by string) (Payout, error) {
	p, _, err := s.ConfirmPayoutOnce(ctx, id, reference, by)
	return p, err
}

func (s *Store) scanPayout(ctx context.Context, where string, args ...any) (Payout, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+payoutColumns+` FROM payouts `+where, args...)
	if err != nil {
		return Payout{}, fmt.Errorf("payout: %w", err)
	}
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Payout])
	if err != nil {
		return Payout{}, fmt.Errorf("payout: %w", pgError(err, nil))
	}
	return p, nil
}

// CreatePayoutOnce is CreatePayout that also reports whether this call wrote the row
// (false: an earlier attempt under the same idempotency key did), so that a side effect
// is counted once however often its activity runs.
func (s *Store) CreatePayoutOnce(ctx context.Context, p Payout) (Payout, bool, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Payout{}, false, fmt.Errorf("new payout id: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO payouts (id, collaboration_id, kind, idempotency_key, currency, amount, breakdown, provider, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (idempotency_key) DO NOTHING`,
		id.String(), p.CollaborationID, p.Kind, p.IdempotencyKey, p.Currency, p.Amount, p.Breakdown, p.Provider, p.Status, now())
	if err != nil {
		return Payout{}, false, fmt.Errorf("create payout: %w", err)
	}
	row, err := s.scanPayout(ctx, `WHERE idempotency_key = $1`, p.IdempotencyKey)
	return row, err == nil && tag.RowsAffected() == 1, err
}

// ConfirmPayoutOnce is ConfirmPayout that also reports whether this call marked the row
// paid (false: it already was, a retried request or activity).
func (s *Store) ConfirmPayoutOnce(ctx context.Context, id, reference, by string) (Payout, bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE payouts SET status = 'paid', reference = $2, confirmed_at = $3, confirmed_by = $4
		WHERE id = $1 AND status = 'pending'`, id, reference, now(), by)
	if err != nil {
		return Payout{}, false, fmt.Errorf("confirm payout %s: %w", id, err)
	}
	p, err := s.PayoutByID(ctx, id)
	if err != nil {
		return Payout{}, false, err
	}
	if p.Reference != reference {
		return Payout{}, false, &ConflictError{Field: "reference", Message: "payout was already confirmed with reference " + p.Reference}
	}
	return p, tag.RowsAffected() == 1, nil
}
