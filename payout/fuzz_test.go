package payout

import (
	"testing"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/contract"
)

// FuzzCompute: for terms that pass their check, the payout never panics and, when it is
// computed, is the fixed fee plus what was earned, never below the fixed fee nor above the
// contract's maximum.
func FuzzCompute(f *testing.F) {
	f.Add(int64(150000), int64(50000), int64(10000), 7.5, int64(100000), int64(20000), int64(1000000), "USD")
	f.Fuzz(func(t *testing.T, fee, bonus, threshold int64, share float64, impressions, clicks, revenue int64, currency string) {
		terms := contract.Terms{
			Deliverables: []contract.Deliverable{{Platform: "instagram", Format: "reel", Count: 1}},
			Currency:     "USD", FixedFee: fee, RevenueSharePercent: share, DisclosureText: "#ad", UsageRightsDays: 30,
			BonusTiers: []campaigns.BonusTier{{Metric: "impressions", Threshold: threshold, Amount: bonus}},
		}
		if terms.Check() != nil {
			return
		}
		b, err := Compute(terms, Metrics{Impressions: impressions, Clicks: clicks, Revenue: revenue, Currency: currency})
		if err != nil {
			return
		}
		if b.Total != b.FixedFee+b.Bonus+b.RevenueShare || b.Total < terms.FixedFee || b.Total > contract.MaxAmount {
			t.Fatalf("breakdown %+v for terms %+v", b, terms)
		}
	})
}
