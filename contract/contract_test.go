package contract

import (
	"strings"
	"testing"
	"time"

	"github.com/collabflow/collabflow/campaigns"
)

func validTerms() Terms {
	return Terms{
		Deliverables: []Deliverable{{Platform: "instagram", Format: "reel", Count: 2, DueDate: "2027-01-15"}},
		Currency:     "USD", FixedFee: 150000, KillFee: 50000, UsageRightsDays: 90, ExclusivityDays: 30,
		DisclosureText: "#ad", RevisionRounds: 2,
		BonusTiers: []campaigns.BonusTier{{Metric: "conversions", Threshold: 100, Amount: 20000}},
	}
}

func TestCheck(t *testing.T) {
	if bad := validTerms().Check(); bad != nil {
		t.Fatalf("valid terms refused: %v", bad)
	}
	tests := []struct {
		name  string
		edit  func(*Terms)
		field string
	}{
		{"no deliverables", func(t *Terms) { t.Deliverables = nil }, "deliverables"},
		{"unknown platform", func(t *Terms) { t.Deliverables[0].Platform = "myspace" }, "deliverables[0].platform"},
		{"unknown format", func(t *Terms) { t.Deliverables[0].Format = "hologram" }, "deliverables[0].format"},
		{"zero count", func(t *Terms) { t.Deliverables[0].Count = 0 }, "deliverables[0].count"},
		{"bad due date", func(t *Terms) { t.Deliverables[0].DueDate = "soon" }, "deliverables[0].due_date"},
		{"lower-case currency", func(t *Terms) { t.Currency = "usd" }, "currency"},
		{"negative fee", func(t *Terms) { t.FixedFee = -1 }, "fixed_fee"},
		{"absurd fee", func(t *Terms) { t.FixedFee = MaxAmount + 1 }, "fixed_fee"},
		{"kill fee above fee", func(t *Terms) { t.KillFee = 200000 }, "kill_fee"},
		{"bonus metric", func(t *Terms) { t.BonusTiers[0].Metric = "vibes" }, "bonus_tiers[0].metric"},
		{"share over 100", func(t *Terms) { t.RevenueSharePercent = 101 }, "revenue_share_percent"},
		{"negative usage", func(t *Terms) { t.UsageRightsDays = -1 }, "usage_rights_days"},
		{"no disclosure", func(t *Terms) { t.DisclosureText = " " }, "disclosure_text"},
		{"too many rounds", func(t *Terms) { t.RevisionRounds = 11 }, "revision_rounds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			terms := validTerms()
			tt.edit(&terms)
			if bad := terms.Check(); bad[tt.field] == "" {
				t.Fatalf("Check() = %v, want a complaint about %s", bad, tt.field)
			}
		})
	}
}

func TestHasDisclosure(t *testing.T) {
	tests := []struct {
		caption, required string
		want              bool
	}{
		{"Loving these shoes #ad", "#ad", true},
		{"#AD loving these shoes", "#ad", true},
		{"Off on an #adventure", "#ad", false},
		{"#ads everywhere", "#ad", false},
		{"Thanks to Acme #sponsored", "#ad", true},
		{"Paid Partnership with Acme", "#ad", true},
		{"In partnership with @acme", "In partnership with @acme", true},
		{"No label at all", "#ad", false},
		{"#ad.", "#ad", true},
		{"", "#ad", false},
	}
	for _, tt := range tests {
		if got := HasDisclosure(tt.caption, tt.required); got != tt.want {
			t.Errorf("HasDisclosure(%q, %q) = %v", tt.caption, tt.required, got)
		}
	}
}

func TestRenderHasEveryTermAndAStableHash(t *testing.T) {
	p := Parties{ContractID: "c-1", Version: 1, Brand: "Acme <Shoes>", CreatorName: "Ada Lovelace", Campaign: "Spring",
		PreparedOn: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	doc, err := Render(p, validTerms())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Acme &lt;Shoes&gt;", "Ada Lovelace", "reel", "2027-01-15", "USD 1,500.00",
		"USD 200.00 once conversions reach 100", "<strong>#ad</strong>", "90\nday(s)", "30 day(s)", "kill fee of USD 500.00", "SHA-256"} {
		if !strings.Contains(doc.HTML, want) {
			t.Errorf("contract lacks %q", want)
		}
	}
	again, _ := Render(p, validTerms())
	if again.SHA256 != doc.SHA256 || len(doc.SHA256) != 64 {
		t.Fatalf("hash %q then %q", doc.SHA256, again.SHA256)
	}
	changed := validTerms()
	changed.FixedFee++
	other, _ := Render(p, changed)
	if other.SHA256 == doc.SHA256 {
		t.Fatal("different terms, same hash")
	}
}

func TestMoney(t *testing.T) {
	for in, want := range map[int64]string{0: "EUR 0.00", 5: "EUR 0.05", 123456: "EUR 1,234.56", 100000000: "EUR 1,000,000.00", -250: "EUR -2.50"} {
		if got := Money("EUR", in); got != want {
			t.Errorf("Money(%d) = %q, want %q", in, got, want)
		}
	}
}
