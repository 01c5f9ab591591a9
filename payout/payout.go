// Package payout computes what a creator is owed: the fixed fee, the bonus tiers reached
// and the revenue share, in integer minor units. It does no I/O; workflows and tests
// share it.
package payout

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/collabflow/collabflow/contract"
)

// Metrics is a cumulative performance snapshot of a collaboration's posts.
type Metrics struct {
	At          time.Time `json:"at"`
	Impressions int64     `json:"impressions"`
	Reach       int64     `json:"reach"`
	Likes       int64     `json:"likes"`
	Comments    int64     `json:"comments"`
	Saves       int64     `json:"saves"`
	Shares      int64     `json:"shares"`
	Clicks      int64     `json:"clicks"`
	Conversions int64     `json:"conversions"`
	// Revenue is attributed revenue in minor units of Currency.
	Revenue  int64  `json:"revenue"`
	Currency string `json:"currency"`
}

// MaxCount bounds any single metric: more than ten billion of anything is a data error.
const MaxCount = 10_000_000_000

// Check refuses negative and absurd figures, by field name.
func (m Metrics) Check() map[string]string {
	bad := map[string]string{}
	for name, v := range m.values() {
		if v < 0 {
			bad[name] = "must not be negative"
		} else if v > MaxCount {
			bad[name] = fmt.Sprintf("at most %d", int64(MaxCount))
		}
	}
	if m.Revenue > 0 && m.Currency == "" {
		bad["currency"] = "required with revenue"
	}
	if m.Reach > m.Impressions && m.Impressions > 0 {
		bad["reach"] = "cannot exceed impressions"
	}
	if len(bad) == 0 {
		return nil
	}
	return bad
}

func (m Metrics) values() map[string]int64 {
	return map[string]int64{
		"impressions": m.Impressions, "reach": m.Reach, "likes": m.Likes, "comments": m.Comments,
		"saves": m.Saves, "shares": m.Shares, "clicks": m.Clicks, "conversions": m.Conversions, "revenue": m.Revenue,
	}
}

// Value is the metric a bonus tier counts.
func (m Metrics) Value(metric string) (int64, bool) {
	v, ok := m.values()[metric]
	return v, ok
}

// Breakdown is an amount owed and how it was reached.
type Breakdown struct {
	Currency     string   `json:"currency"`
	FixedFee     int64    `json:"fixed_fee"`
	Bonus        int64    `json:"bonus"`
	BonusTiers   []string `json:"bonus_tiers"`
	RevenueShare int64    `json:"revenue_share"`
	Total        int64    `json:"total"`
}

// ErrCurrency means revenue was reported in another currency than the contract's.
var ErrCurrency = errors.New("revenue currency differs from the contract's")

// Compute is the payout under terms for the final metrics: the fixed fee, plus every bonus
// tier whose threshold the metric reached (each tier once), plus the revenue share of
// attributed revenue, rounded down to a minor unit. Nothing is counted twice.
func Compute(t contract.Terms, m Metrics) (Breakdown, error) {
	if bad := m.Check(); bad != nil {
		return Breakdown{}, fmt.Errorf("metrics: %v", bad)
	}
	if m.Revenue > 0 && m.Currency != t.Currency {
		return Breakdown{}, fmt.Errorf("%w: %s, not %s", ErrCurrency, m.Currency, t.Currency)
	}
	b := Breakdown{Currency: t.Currency, FixedFee: t.FixedFee, BonusTiers: []string{}}
	for _, tier := range t.BonusTiers {
		v, ok := m.Value(tier.Metric)
		if !ok {
			return Breakdown{}, fmt.Errorf("bonus tier counts unknown metric %q", tier.Metric)
		}
		if v >= tier.Threshold {
			b.Bonus += tier.Amount
			b.BonusTiers = append(b.BonusTiers, fmt.Sprintf("%s >= %d", tier.Metric, tier.Threshold))
		}
	}
	if t.RevenueSharePercent > 0 && m.Revenue > 0 {
		b.RevenueShare = int64(math.Floor(float64(m.Revenue) * t.RevenueSharePercent / 100))
	}
	b.Total = b.FixedFee + b.Bonus + b.RevenueShare
	if b.Total < 0 || b.Total > contract.MaxAmount {
		return Breakdown{}, fmt.Errorf("payout %d is out of range", b.Total)
	}
	return b, nil
}
