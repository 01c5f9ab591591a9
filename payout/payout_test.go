package payout

import (
	"errors"
	"testing"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/contract"
)

func TestCompute(t *testing.T) {
	base := contract.Terms{Currency: "USD", FixedFee: 100000}
	withTiers := base
	withTiers.BonusTiers = []campaigns.BonusTier{
		{Metric: "conversions", Threshold: 100, Amount: 20000},
		{Metric: "conversions", Threshold: 500, Amount: 50000},
		{Metric: "impressions", Threshold: 1_000_000, Amount: 10000},
	}
	withShare := base
	withShare.RevenueSharePercent = 7.5
	tests := []struct {
		name    string
		terms   contract.Terms
		metrics Metrics
		want    int64
		bonus   int64
		share   int64
		wantErr bool
	}{
		{name: "fixed only", terms: base, metrics: Metrics{Conversions: 10_000}, want: 100000},
		{name: "below first tier", terms: withTiers, metrics: Metrics{Conversions: 99}, want: 100000},
		{name: "exactly at first tier", terms: withTiers, metrics: Metrics{Conversions: 100}, want: 120000, bonus: 20000},
		{name: "between tiers", terms: withTiers, metrics: Metrics{Conversions: 499}, want: 120000, bonus: 20000},
		{name: "both conversion tiers", terms: withTiers, metrics: Metrics{Conversions: 500}, want: 170000, bonus: 70000},
		{name: "every tier", terms: withTiers, metrics: Metrics{Conversions: 800, Impressions: 2_000_000, Reach: 1_000_000}, want: 180000, bonus: 80000},
		{name: "revenue share rounds down", terms: withShare, metrics: Metrics{Revenue: 123457, Currency: "USD"}, want: 109259, share: 9259},
		{name: "no revenue", terms: withShare, metrics: Metrics{}, want: 100000},
		{name: "currency mismatch", terms: withShare, metrics: Metrics{Revenue: 5000, Currency: "EUR"}, wantErr: true},
		{name: "negative metric", terms: base, metrics: Metrics{Clicks: -1}, wantErr: true},
		{name: "absurd metric", terms: base, metrics: Metrics{Impressions: MaxCount + 1}, wantErr: true},
		{name: "reach above impressions", terms: base, metrics: Metrics{Impressions: 10, Reach: 11}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compute(tt.terms, tt.metrics)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Compute = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != tt.want || got.Bonus != tt.bonus || got.RevenueShare != tt.share || got.Currency != tt.terms.Currency {
				t.Fatalf("Compute = %+v, want total %d bonus %d share %d", got, tt.want, tt.bonus, tt.share)
			}
			if got.Total != got.FixedFee+got.Bonus+got.RevenueShare {
				t.Fatalf("parts do not add up: %+v", got)
			}
		})
	}
	if _, err := Compute(withShare, Metrics{Revenue: 1, Currency: "EUR"}); !errors.Is(err, ErrCurrency) {
		t.Fatalf("currency error: %v", err)
	}
}
