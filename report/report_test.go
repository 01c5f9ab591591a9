package report_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/collabflow/collabflow/payout"
	"github.com/collabflow/collabflow/report"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func history(stages ...any) []report.Entry {
	var h []report.Entry
	for i := 0; i+1 < len(stages); i += 2 {
		h = append(h, report.Entry{Stage: stages[i].(string), EnteredAt: t0.Add(time.Duration(stages[i+1].(int)) * time.Hour)})
	}
	return h
}

// campaignRows is five collaborations: two micro in USD, three mid (one paid in EUR), two
// outreach variants and one without.
func campaignRows() []report.Row {
	return []report.Row{
		{CollaborationID: "c-ana", CreatorID: "ana", CreatorName: "Ana", Tier: "micro", Variant: "a", Stage: "completed",
			Payouts: []report.Payout{{Kind: report.KindFee, Status: report.StatusPaid, Currency: "USD", Amount: 150000,
				Bonus: 30000, RevenueShare: 20000}},
			Metrics: &payout.Metrics{Impressions: 10000, Reach: 8000, Likes: 300, Comments: 50, Saves: 30, Shares: 20,
				Clicks: 250, Conversions: 40, Revenue: 200000, Currency: "USD"},
			History: history("outreach", 0, "negotiating", 2, "contracting", 5, "completed", 29)},
		{CollaborationID: "c-bob", CreatorID: "bob", CreatorName: "=Bob", Tier: "micro", Variant: "b", Stage: "cancelled",
			Payouts: []report.Payout{{Kind: report.KindKillFee, Status: report.StatusPending, Currency: "USD", Amount: 25000}},
			History: history("outreach", 0, "negotiating", 4, "contracting", 6, "cancelled", 30)},
		{CollaborationID: "c-cleo", CreatorID: "cleo", CreatorName: "Cleo", Tier: "mid", Variant: "a", Stage: "no_response",
			History: history("outreach", 0, "no_response", 72)},
		{CollaborationID: "c-dan", CreatorID: "dan", CreatorName: "Dan", Tier: "mid", Variant: "b", Stage: "outreach",
			History: history("outreach", 0)},
		{CollaborationID: "c-eve", CreatorID: "eve", CreatorName: "Eve", Tier: "mid", Stage: "live",
			Payouts: []report.Payout{{Kind: report.KindFee, Status: report.StatusPending, Currency: "EUR", Amount: 80000}},
			Metrics: &payout.Metrics{Impressions: 5000, Reach: 4000, Likes: 100, Comments: 20,
				Clicks: 50, Conversions: 3, Revenue: 60000, Currency: "EUR"},
			History: history("outreach", 0, "negotiating", 1, "contracting", 3, "live", 100)},
	}
}

func num(v *float64) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(*v)
}

func whole(v *int64) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(*v)
}

func counts(f report.Figures) string {
	return fmt.Sprintf("n=%d imp=%d reach=%d eng=%d er=%s clicks=%d ctr=%s conv=%d", f.Collaborations, f.Impressions,
		f.Reach, f.Engagements, num(f.EngagementRate), f.Clicks, num(f.CTR), f.Conversions)
}

func money(f report.Figures) string {
	var parts []string
	for _, l := range f.Money {
		parts = append(parts, fmt.Sprintf("%s fees=%d bonus=%d share=%d kill=%d cost=%d spent=%d committed=%d rev=%d conv=%d cpa=%s roi=%s",
			l.Currency, l.Fees, l.Bonuses, l.RevenueShare, l.KillFees, l.Cost, l.Spent, l.Committed, l.Revenue, l.Conversions,
			whole(l.CPA), num(l.ROI)))
	}
	return strings.Join(parts, " | ")
}

func replies(r report.Replies) string {
	return fmt.Sprintf("entered=%d replied=%d in=%d rate=%s decided=%s", r.EnteredOutreach, r.Replied, r.InOutreach,
		num(r.Rate), num(r.DecidedRate))
}

// TestBuildArithmetic checks every figure of a five-collaboration campaign against sums
// worked out by hand (the comments show the working).
func TestBuildArithmetic(t *testing.T) {
	r := report.Build(report.Input{
		CampaignID: "camp", AsOf: t0, Rows: campaignRows(),
		Budget: &report.Money{Currency: "USD", Amount: 300000},
		Stages: []string{"outreach", "negotiating", "contracting", "live", "completed", "no_response", "cancelled"},
	})
	tier := map[string]report.Figures{}
	for _, l := range r.ByTier {
		tier[l.Tier] = l.Figures
	}
	creator := map[string]report.Figures{}
	var order []string
	for _, l := range r.ByCreator {
		creator[l.CreatorID] = l.Figures
		order = append(order, l.CreatorID)
	}
	variant := map[string]report.Replies{}
	for _, l := range r.ByVariant {
		variant[l.Variant] = l.Replies
	}
	stage := map[string]string{}
	for _, l := range r.Stages {
		stage[l.Stage] = fmt.Sprintf("entered=%d left=%d median=%s", l.Entered, l.Left, whole(l.MedianSeconds))
	}
	b := r.Budget
	for _, tt := range []struct{ name, got, want string }{
		// impressions 10000+5000; reach 8000+4000; engagements (300+50+30+20)+(100+20) = 520;
		// ER 520/12000 = 0.04333 → 0.0433; CTR (250+50)/15000 = 0.02; conversions 40+3.
		{"campaign counts", counts(r.Campaign), "n=5 imp=15000 reach=12000 eng=520 er=0.0433 clicks=300 ctr=0.02 conv=43"},
		// EUR: Eve's pending fee 80000, revenue 60000, 3 conversions: CPA 80000/3 = 26666.67 →
		// 26667; ROI (60000−80000)/80000 = −0.25.
		// USD: Ana's paid fee 150000 = 100000 fee + 30000 bonus + 20000 share, Bob's pending
		// kill fee 25000; cost 175000, spent 150000, committed 25000; revenue 200000, 40
		// conversions: CPA 175000/40 = 4375; ROI (200000−175000)/175000 = 0.142857 → 0.1429.
		{"campaign money", money(r.Campaign),
			"EUR fees=80000 bonus=0 share=0 kill=0 cost=80000 spent=0 committed=80000 rev=60000 conv=3 cpa=26667 roi=-0.25 | " +
				"USD fees=100000 bonus=30000 share=20000 kill=25000 cost=175000 spent=150000 committed=25000 rev=200000 conv=40 cpa=4375 roi=0.1429"},
		// micro = Ana + Bob: ER 400/8000 = 0.05, CTR 250/10000 = 0.025.
		{"micro counts", counts(tier["micro"]), "n=2 imp=10000 reach=8000 eng=400 er=0.05 clicks=250 ctr=0.025 conv=40"},
		{"micro money", money(tier["micro"]),
			"USD fees=100000 bonus=30000 share=20000 kill=25000 cost=175000 spent=150000 committed=25000 rev=200000 conv=40 cpa=4375 roi=0.1429"},
		// mid = Cleo + Dan + Eve: ER 120/4000 = 0.03, CTR 50/5000 = 0.01.
		{"mid counts", counts(tier["mid"]), "n=3 imp=5000 reach=4000 eng=120 er=0.03 clicks=50 ctr=0.01 conv=3"},
		{"mid money", money(tier["mid"]),
			"EUR fees=80000 bonus=0 share=0 kill=0 cost=80000 spent=0 committed=80000 rev=60000 conv=3 cpa=26667 roi=-0.25"},
		// Ana alone: CPA 150000/40 = 3750; ROI (200000−150000)/150000 = 0.3333.
		{"ana money", money(creator["ana"]),
			"USD fees=100000 bonus=30000 share=20000 kill=0 cost=150000 spent=150000 committed=0 rev=200000 conv=40 cpa=3750 roi=0.3333"},
		// Bob: a kill fee and no results: no CPA (no conversions), ROI (0−25000)/25000 = −1.
		{"bob money", money(creator["bob"]),
			"USD fees=0 bonus=0 share=0 kill=25000 cost=25000 spent=0 committed=25000 rev=0 conv=0 cpa=null roi=-1"},
		// Cleo: nothing measured: rates are null, not zero.
		{"cleo counts", counts(creator["cleo"]), "n=1 imp=0 reach=0 eng=0 er=null clicks=0 ctr=null conv=0"},
		{"cleo money", money(creator["cleo"]), ""},
		// Smallest tier first, then by name: "=Bob" sorts before "Ana".
		{"creator order", strings.Join(order, ","), "bob,ana,cleo,dan,eve"},
		// All five entered outreach; Ana, Bob and Eve replied; Dan is still in outreach:
		// 3/5 = 0.6, and 3/4 = 0.75 of the decided.
		{"replies", replies(r.Replies), "entered=5 replied=3 in=1 rate=0.6 decided=0.75"},
		// a = Ana (replied) + Cleo (no response): 1/2. b = Bob (replied) + Dan (waiting):
		// 1/2, and 1/1 of the decided. Eve has no variant and is in neither.
		{"variant a", replies(variant["a"]), "entered=2 replied=1 in=0 rate=0.5 decided=0.5"},
		{"variant b", replies(variant["b"]), "entered=2 replied=1 in=1 rate=0.5 decided=1"},
		{"variants", fmt.Sprint(len(r.ByVariant)), "2"},
		// Outreach left after 2h (Ana), 4h (Bob), 72h (Cleo), 1h (Eve); Dan has not left:
		// sorted 1, 2, 4, 72 → (2+4)/2 = 3h = 10800 s.
		{"outreach", stage["outreach"], "entered=5 left=4 median=10800"},
		// Negotiating: Ana 3h, Bob 2h, Eve 2h → 2h = 7200 s.
		{"negotiating", stage["negotiating"], "entered=3 left=3 median=7200"},
		// Contracting: Ana 24h, Bob 24h, Eve 97h → 24h = 86400 s.
		{"contracting", stage["contracting"], "entered=3 left=3 median=86400"},
		{"completed", stage["completed"], "entered=1 left=0 median=null"},
		// The seven listed, then by name the five Eve passed between contracting and live
		// (in_production … payout, none recorded in her history).
		{"stage order", fmt.Sprintf("%d %s %s", len(r.Stages), r.Stages[0].Stage, r.Stages[6].Stage), "12 outreach cancelled"},
		// Budget USD 300000 − spent 150000 − committed 25000 = 125000; EUR cost is outside it.
		{"budget", fmt.Sprintf("%s %d spent=%d committed=%d remaining=%d other=%v", b.Currency, b.Amount, b.Spent, b.Committed,
			b.Remaining, b.Unbudgeted), "USD 300000 spent=150000 committed=25000 remaining=125000 other=[{EUR 80000}]"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.name, tt.got, tt.want)
		}
	}
}

// TestBuildEdges: an empty campaign, a history that begins after outreach (rows older
// than the stage history), an even median that rounds, and CPA that rounds half up.
func TestBuildEdges(t *testing.T) {
	for _, tt := range []struct {
		name string
		rows []report.Row
		got  func(report.Report) string
		want string
	}{
		{"empty campaign", nil, func(r report.Report) string {
			return counts(r.Campaign) + " " + replies(r.Replies) + fmt.Sprint(" ", r.Budget == nil, len(r.ByTier), len(r.ByVariant))
		}, "n=0 imp=0 reach=0 eng=0 er=null clicks=0 ctr=null conv=0 entered=0 replied=0 in=0 rate=null decided=null true 0 0"},
		{"backfilled history counts its reply", []report.Row{{Stage: "live", History: history("live", 0)}},
			func(r report.Report) string { return replies(r.Replies) }, "entered=1 replied=1 in=0 rate=1 decided=1"},
		{"declined straight from outreach is no reply", []report.Row{{Stage: "declined", History: history("outreach", 0, "declined", 1)}},
			func(r report.Report) string { return replies(r.Replies) }, "entered=1 replied=0 in=0 rate=0 decided=0"},
		// (1 s + 2 s) / 2 = 1.5 s → 2 s.
		{"even median rounds", []report.Row{
			{History: []report.Entry{{"outreach", t0}, {"negotiating", t0.Add(time.Second)}}},
			{History: []report.Entry{{"outreach", t0}, {"negotiating", t0.Add(2 * time.Second)}}},
		}, func(r report.Report) string { return whole(r.Stages[0].MedianSeconds) }, "2"},
		// 1001 / 2 = 500.5 → 501 minor units.
		{"cpa rounds half up", []report.Row{{
			Payouts: []report.Payout{{Kind: report.KindFee, Status: report.StatusPaid, Currency: "JPY", Amount: 1001}},
			Metrics: &payout.Metrics{Conversions: 2},
		}}, func(r report.Report) string { return money(r.Campaign) },
			"JPY fees=1001 bonus=0 share=0 kill=0 cost=1001 spent=1001 committed=0 rev=0 conv=2 cpa=501 roi=-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := report.Build(report.Input{Rows: tt.rows, Stages: []string{"outreach"}})
			if got := tt.got(r); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestWriteCSV: creators then their tier's subtotal, the campaign last, a second currency
// on a row of its own, and a name that a spreadsheet would run as a formula made text.
func TestWriteCSV(t *testing.T) {
	r := report.Build(report.Input{CampaignID: "camp", Rows: campaignRows(), Stages: []string{"outreach"}})
	var buf bytes.Buffer
	if err := report.WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range recs[1:] {
		got = append(got, strings.Join([]string{rec[0], rec[1], rec[3], rec[8], rec[15], rec[20]}, "/"))
	}
	want := []string{
		"creator/micro/'=Bob/0/USD/25000",
		"creator/micro/Ana/10000/USD/150000",
		"tier/micro//10000/USD/175000",
		"creator/mid/Cleo/0//",
		"creator/mid/Dan/0//",
		"creator/mid/Eve/5000/EUR/80000",
		"tier/mid//5000/EUR/80000",
		"campaign///15000/EUR/80000",
		"campaign////USD/175000",
	}
	if strings.Join(recs[0], ",") != strings.Join(report.CSVHeader, ",") {
		t.Errorf("header %v", recs[0])
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCell: only a leading formula character is guarded.
func TestCell(t *testing.T) {
	for in, want := range map[string]string{
		"Ana": "Ana", "=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")", "+1": "'+1", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "a=b": "a=b", "": "",
	} {
		if got := report.Cell(in); got != want {
			t.Errorf("Cell(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStagesCountCollaborations: a collaboration sent back from review enters
// in_production and in_review twice but counts once in each, its time in a stage is the sum
// of its stays, and along the normal path the funnel never grows (issue 18 item 9).
func TestStagesCountCollaborations(t *testing.T) {
	path := []string{"outreach", "negotiating", "contracting", "in_production", "in_review", "awaiting_post",
		"verifying", "live", "payout", "completed", "declined", "no_response", "cancelled"}
	rows := []report.Row{
		// Grace: changes requested once, now awaiting her post.
		{Stage: "awaiting_post", History: history("outreach", 0, "negotiating", 1, "contracting", 2, "in_production", 3,
			"in_review", 4, "in_production", 5, "in_review", 7, "awaiting_post", 8)},
		// Linus: in review for the first time.
		{Stage: "in_review", History: history("outreach", 0, "negotiating", 1, "contracting", 2, "in_production", 3,
			"in_review", 6)},
		// Katherine declined while negotiating.
		{Stage: "declined", History: history("outreach", 0, "negotiating", 1, "declined", 2)},
		// A row older than the stage history: only its current stage is recorded, yet it
		// passed through every stage before it.
		{Stage: "live", History: history("live", 0)},
	}
	r := report.Build(report.Input{Rows: rows, Stages: path})
	got := map[string]string{}
	for _, l := range r.Stages {
		got[l.Stage] = fmt.Sprintf("entered=%d left=%d median=%s", l.Entered, l.Left, whole(l.MedianSeconds))
	}
	for _, tt := range []struct{ stage, want string }{
		{"negotiating", "entered=4 left=4 median=3600"},
		// Grace and Linus, plus the backfilled row that passed through it.
		{"contracting", "entered=3 left=3 median=3600"},
		// Grace 1h + 2h = 3h in production over two stays, Linus 3h: 3h = 10800 s.
		{"in_production", "entered=3 left=3 median=10800"},
		// Grace 1h + 1h = 2h in review; Linus has not left it.
		{"in_review", "entered=3 left=2 median=7200"},
		{"awaiting_post", "entered=2 left=1 median=null"},
		{"live", "entered=1 left=0 median=null"},
		{"declined", "entered=1 left=0 median=null"},
	} {
		if got[tt.stage] != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.stage, got[tt.stage], tt.want)
		}
	}
	prev := len(rows)
	for _, l := range r.Stages[:10] {
		if l.Entered > prev {
			t.Errorf("the funnel grows at %s: %d after %d", l.Stage, l.Entered, prev)
		}
		prev = l.Entered
	}
}
