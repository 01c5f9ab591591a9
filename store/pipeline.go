package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// WaitingStages are the stages whose deadline is someone's to meet (a signature, a
// draft, a review, the posts): past its due time, a collaboration there is overdue.
var WaitingStages = []string{"contracting", "in_production", "in_review", "awaiting_post"}

// Pipeline is a campaign's collaborations counted per stage, from the read model.
type Pipeline struct {
	CampaignID string       `json:"campaign_id"`
	Total      int          `json:"total"`
	Overdue    int          `json:"overdue"`
	OnHold     int          `json:"on_hold"`
	Attention  int          `json:"attention"`
	Fees       []Money      `json:"agreed_fees"`
	Stages     []StageCount `json:"stages"`
	AsOf       time.Time    `json:"as_of"`
}

// StageCount is one stage of a pipeline.
type StageCount struct {
	Stage     string  `json:"stage"`
	Count     int     `json:"count"`
	Overdue   int     `json:"overdue"`
	OnHold    int     `json:"on_hold"`
	Attention int     `json:"attention"`
	Fees      []Money `json:"agreed_fees"`
}

// Money is an amount in minor units of a currency.
type Money struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

// CampaignPipeline counts a campaign's collaborations per stage (in the order of stages
// given), with how many are overdue, on hold and waiting for ops, and the sums of agreed
// fees per currency, in one grouped query over the campaign's index.
func (s *Store) CampaignPipeline(ctx context.Context, campaignID string, stages []string, now time.Time) (Pipeline, error) {
	return s.PipelineOf(ctx, CollaborationFilter{CampaignID: campaignID, Now: now}, stages)
}

// PipelineOf is CampaignPipeline of the collaborations the filter selects (f.After and
// f.Limit do not apply), as of f.Now: the console's board counts what its filters show.
func (s *Store) PipelineOf(ctx context.Context, f CollaborationFilter, stages []string) (Pipeline, error) {
	campaignID, now := f.CampaignID, f.Now
	p := Pipeline{CampaignID: campaignID, Fees: []Money{}, AsOf: now.UTC()}
	index := map[string]int{}
	for i, st := range stages {
		p.Stages = append(p.Stages, StageCount{Stage: st, Fees: []Money{}})
		index[st] = i
	}
	var q keysetQuery
	late := "due_at < " + q.arg(now) + " AND stage = ANY (" + q.arg(WaitingStages) + ")"
	f.conditions(&q)
	where := ""
	if len(q.conds) > 0 {
		where = " WHERE " + strings.Join(q.conds, " AND ")
	}
	rows, err := s.pool.Query(ctx, `SELECT stage, currency, count(*),
			count(*) FILTER (WHERE `+late+`),
			count(*) FILTER (WHERE on_hold), count(*) FILTER (WHERE attention_reason <> ''), COALESCE(sum(fee), 0)
		FROM collaborations`+where+` GROUP BY stage, currency`, q.args...)
	if err != nil {
		return p, fmt.Errorf("pipeline of %s: %w", campaignID, err)
	}
	var (
		stage, currency                   string
		count, overdue, onHold, attention int
		fees                              int64
	)
	_, err = pgx.ForEachRow(rows, []any{&stage, &currency, &count, &overdue, &onHold, &attention, &fees}, func() error {
		i, ok := index[stage]
		if !ok { // a stage the caller did not list still counts
			i = len(p.Stages)
			index[stage] = i
			p.Stages = append(p.Stages, StageCount{Stage: stage, Fees: []Money{}})
		}
		sc := &p.Stages[i]
		sc.Count += count
		sc.Overdue += overdue
		sc.OnHold += onHold
		sc.Attention += attention
		p.Total += count
		p.Overdue += overdue
		p.OnHold += onHold
		p.Attention += attention
		if currency != "" && fees != 0 {
			sc.Fees = addMoney(sc.Fees, currency, fees)
			p.Fees = addMoney(p.Fees, currency, fees)
		}
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("pipeline of %s: %w", campaignID, err)
	}
	return p, nil
}

// addMoney adds amount to the currency's entry, keeping the list sorted by currency.
func addMoney(list []Money, currency string, amount int64) []Money {
	i, found := slices.BinarySearchFunc(list, currency, func(m Money, c string) int { return strings.Compare(m.Currency, c) })
	if found {
		list[i].Amount += amount
		return list
	}
	return slices.Insert(list, i, Money{Currency: currency, Amount: amount})
}

// StageEntry is one stage a collaboration entered.
type StageEntry struct {
	Seq       int       `json:"seq"`
	Stage     string    `json:"stage"`
	EnteredAt time.Time `json:"entered_at"`
}

// StageHistory returns the stages a collaboration entered, in order.
func (s *Store) StageHistory(ctx context.Context, collaborationID string) ([]StageEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, stage, entered_at FROM stage_history WHERE collaboration_id = $1 ORDER BY seq`, collaborationID)
	if err != nil {
		return nil, fmt.Errorf("stage history of %s: %w", collaborationID, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StageEntry])
	if err != nil {
		return nil, fmt.Errorf("stage history of %s: %w", collaborationID, err)
	}
	return list, nil
}
