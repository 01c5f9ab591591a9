package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/collabflow/collabflow/experiments"
)

const experimentColumns = `id, campaign_id, kind, hypothesis, variable, variants, result, decision, status,
	created_by, created_at, updated_at`

// experimentConflicts names the one clash an experiment can have: a second open outreach
// test in a campaign, whose variants launch could not choose between.
var experimentConflicts = map[string]ConflictError{
	"experiments_open_outreach_ab_idx": {Field: "kind", Message: "the campaign has an open outreach_ab experiment; record its decision first"},
}

// CreateExperiment stores an experiment with a new time-ordered id, open unless it
// comes with its decision (a test logged after the fact); the caller has validated it.
func (s *Store) CreateExperiment(ctx context.Context, e experiments.Experiment) (experiments.Experiment, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return experiments.Experiment{}, fmt.Errorf("new experiment id: %w", err)
	}
	e.ID, e.Status = id.String(), experiments.StatusOpen
	if e.Decision != "" {
		e.Status = experiments.StatusDecided
	}
	e.CreatedAt = now()
	e.UpdatedAt = e.CreatedAt
	if e.Variants == nil {
		e.Variants = []experiments.Variant{}
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO experiments (`+experimentColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.ID, e.CampaignID, e.Kind, e.Hypothesis, e.Variable, e.Variants, e.Result, e.Decision, e.Status,
		e.CreatedBy, e.CreatedAt, e.UpdatedAt)
	if err != nil {
		return experiments.Experiment{}, fmt.Errorf("insert experiment: %w", pgError(err, experimentConflicts))
	}
	return e, nil
}

// Experiment returns one experiment of a campaign, or ErrNotFound.
func (s *Store) Experiment(ctx context.Context, campaignID, id string) (experiments.Experiment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE campaign_id = $1 AND id = $2`, campaignID, id)
	if err != nil {
		return experiments.Experiment{}, fmt.Errorf("experiment %s: %w", id, err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[experiments.Experiment])
	if err != nil {
		return experiments.Experiment{}, fmt.Errorf("experiment %s: %w", id, pgError(err, nil))
	}
	return e, nil
}

// ListExperiments returns one page of a campaign's experiments, oldest first, and the
// next cursor, empty on the last page.
func (s *Store) ListExperiments(ctx context.Context, campaignID, after string, limit int) ([]experiments.Experiment, string, error) {
	var q keysetQuery
	q.where("campaign_id = " + q.arg(campaignID))
	rows, err := s.pool.Query(ctx, q.sql(`SELECT `+experimentColumns+` FROM experiments`, after, limit), q.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list experiments: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[experiments.Experiment])
	if err != nil {
		return nil, "", fmt.Errorf("list experiments: %w", err)
	}
	return page(list, limit, func(e experiments.Experiment) string { return e.ID })
}

// RecordExperimentOutcome sets the result and the decision that are given (nil leaves one
// as it is). A decision closes the experiment, which frees the campaign for another
// outreach test.
func (s *Store) RecordExperimentOutcome(ctx context.Context, campaignID, id string, result, decision *string) (experiments.Experiment, error) {
	rows, err := s.pool.Query(ctx, `UPDATE experiments SET result = COALESCE($3, result), decision = COALESCE($4, decision),
			status = CASE WHEN COALESCE($4, decision) <> '' THEN $5 ELSE $6 END, updated_at = $7
		WHERE campaign_id = $1 AND id = $2 RETURNING `+experimentColumns,
		campaignID, id, result, decision, experiments.StatusDecided, experiments.StatusOpen, now())
	if err != nil {
		return experiments.Experiment{}, fmt.Errorf("record outcome of experiment %s: %w", id, err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[experiments.Experiment])
	if err != nil {
		return experiments.Experiment{}, fmt.Errorf("record outcome of experiment %s: %w", id, pgError(err, experimentConflicts))
	}
	return e, nil
}

// OpenOutreachTest returns the campaign's open outreach_ab experiment, whose two
// sequences launch assigns, or ErrNotFound when there is none (the campaign's own
// sequence then goes to everyone).
func (s *Store) OpenOutreachTest(ctx context.Context, campaignID string) (experiments.Experiment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+experimentColumns+` FROM experiments
		WHERE campaign_id = $1 AND kind = $2 AND status = $3`, campaignID, experiments.KindOutreachAB, experiments.StatusOpen)
	if err != nil {
		return experiments.Experiment{}, fmt.Errorf("open outreach test of %s: %w", campaignID, err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[experiments.Experiment])
	if err != nil {
		return experiments.Experiment{}, fmt.Errorf("open outreach test of %s: %w", campaignID, pgError(err, nil))
	}
	return e, nil
}
