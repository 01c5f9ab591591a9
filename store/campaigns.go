package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/fit"
)

const campaignColumns = `id, name, brand, sender_email, landing_url, brief, compensation,
	usage_rights_days, disclosure_text, timings, created_at, sequence, send_window, auto_approve, fit, budget`

// CreateCampaign stores a campaign with a new time-ordered id; the caller has applied
// defaults and validated it.
func (s *Store) CreateCampaign(ctx context.Context, c campaigns.Campaign) (campaigns.Campaign, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("new campaign id: %w", err)
	}
	c.ID = id.String()
	c.CreatedAt = now()
	brief, err := json.Marshal(c.Brief)
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("encode brief: %w", err)
	}
	comp, err := json.Marshal(c.Compensation)
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("encode compensation: %w", err)
	}
	timings, err := json.Marshal(c.Timings)
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("encode timings: %w", err)
	}
	sequence, err := json.Marshal(c.Sequence)
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("encode sequence: %w", err)
	}
	window, err := json.Marshal(c.SendWindow)
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("encode send window: %w", err)
	}
	rules, err := json.Marshal(c.Fit)
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("encode fit rules: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO campaigns (`+campaignColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.ID, c.Name, c.Brand, c.SenderEmail, c.LandingURL, brief, comp, c.UsageRightsDays, c.DisclosureText, timings, c.CreatedAt,
		sequence, window, c.AutoApprove, rules, budgetJSON(c.Budget))
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("insert campaign: %w", pgError(err, nil))
	}
	return c, nil
}

// Campaign returns one campaign.
func (s *Store) Campaign(ctx context.Context, id string) (campaigns.Campaign, error) {
	c, err := scanCampaign(s.pool.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1`, id))
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("campaign %s: %w", id, pgError(err, nil))
	}
	return c, nil
}

// ListCampaigns returns one page of campaigns in creation order after the cursor, and
// the next cursor, empty on the last page.
func (s *Store) ListCampaigns(ctx context.Context, after string, limit int) ([]campaigns.Campaign, string, error) {
	var q keysetQuery
	rows, err := s.pool.Query(ctx, q.sql(`SELECT `+campaignColumns+` FROM campaigns`, after, limit), q.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list campaigns: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaigns.Campaign, error) { return scanCampaign(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list campaigns: %w", err)
	}
	return page(list, limit, func(c campaigns.Campaign) string { return c.ID })
}

// SetCampaignFit replaces a campaign's fit rules; the caller has validated them.
func (s *Store) SetCampaignFit(ctx context.Context, id string, rules fit.Rules) (campaigns.Campaign, error) {
	data, err := json.Marshal(rules)
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("encode fit rules: %w", err)
	}
	c, err := scanCampaign(s.pool.QueryRow(ctx, `UPDATE campaigns SET fit = $2 WHERE id = $1 RETURNING `+campaignColumns, id, data))
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("set fit rules of campaign %s: %w", id, pgError(err, nil))
	}
	return c, nil
}

// SetCampaignBudget replaces a campaign's budget; nil removes it. The caller has
// validated it.
func (s *Store) SetCampaignBudget(ctx context.Context, id string, b *campaigns.Budget) (campaigns.Campaign, error) {
	c, err := scanCampaign(s.pool.QueryRow(ctx, `UPDATE campaigns SET budget = $2 WHERE id = $1 RETURNING `+campaignColumns, id, budgetJSON(b)))
	if err != nil {
		return campaigns.Campaign{}, fmt.Errorf("set budget of campaign %s: %w", id, pgError(err, nil))
	}
	return c, nil
}

// budgetJSON is the budget column's value: NULL for no budget.
func budgetJSON(b *campaigns.Budget) any {
	if b == nil {
		return nil
	}
	return *b
}

func scanCampaign(row pgx.Row) (campaigns.Campaign, error) {
	var c campaigns.Campaign
	err := row.Scan(&c.ID, &c.Name, &c.Brand, &c.SenderEmail, &c.LandingURL, &c.Brief, &c.Compensation,
		&c.UsageRightsDays, &c.DisclosureText, &c.Timings, &c.CreatedAt, &c.Sequence, &c.SendWindow, &c.AutoApprove, &c.Fit, &c.Budget)
	if err != nil {
		return campaigns.Campaign{}, err
	}
	// Rows written before a field existed get its default rather than a zero.
	c.ApplyDefaults()
	return c, nil
}
