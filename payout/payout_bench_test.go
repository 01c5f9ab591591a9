package payout

import (
	"testing"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/contract"
)

func BenchmarkCompute(b *testing.B) {
	t := contract.Terms{Currency: "USD", FixedFee: 100000, RevenueSharePercent: 5, BonusTiers: []campaigns.BonusTier{
		{Metric: "conversions", Threshold: 100, Amount: 20000}, {Metric: "clicks", Threshold: 1000, Amount: 5000}}}
	m := Metrics{Conversions: 150, Clicks: 2000, Revenue: 500000, Currency: "USD", Impressions: 100000, Reach: 50000}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(t, m); err != nil {
			b.Fatal(err)
		}
	}
}
