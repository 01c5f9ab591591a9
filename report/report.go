// Package report measures a campaign: what it cost, what it earned and how its
// collaborations moved through the lifecycle, per creator, per tier, per outreach variant
// and in total. It does no I/O: the store loads the rows, this package does the arithmetic,
// so the arithmetic is tested by hand-computed tables.
//
// Definitions (the README's "Report" section says the same):
//   - cost is the payout ledger: a fee payout splits into its breakdown's bonuses and
//     revenue share, the rest of its amount is the fee; a kill_fee payout is a kill fee.
//     Spent is what is paid, committed what is pending; cost = spent + committed.
//   - money is never summed across currencies: every group has one money line per
//     currency. A collaboration's conversions count towards the currency it was paid (or
//     earned revenue) in, so cost per acquisition and ROI divide like by like.
//   - engagement rate = (likes + comments + saves + shares) ÷ reach: interactions per
//     person reached, so a post shown twice to one person is not counted twice.
//   - CTR = clicks ÷ impressions; CPA = cost ÷ conversions (null without conversions);
//     ROI = (revenue − cost) ÷ cost (null without cost). Group rates are computed from the
//     group's sums, not averaged from its members' rates.
//   - metrics are each collaboration's latest cumulative snapshot.
//   - reply rate = collaborations that replied ÷ collaborations that entered outreach;
//     replying is reaching negotiating or any stage after it on the normal path. Those
//     still in outreach are in the denominator and shown separately, with the rate over
//     decided outreach (replied ÷ entered but no longer in outreach) beside it.
//   - a stage's figures count collaborations, each once: one sent back from review to
//     production reached each of the two stages once. A stage of the normal path counts
//     every collaboration that reached it or a later one, so the funnel never grows.
//   - time in a stage is from entering it to entering the next, summed over a
//     collaboration's stays; a collaboration still in the stage does not count. The median of an even count is the mean of the two middle values.
package report

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/collabflow/collabflow/payout"
)

// Payout kinds the ledger holds (activities.PayoutFee and PayoutKillFee).
const (
	KindFee     = "fee"
	KindKillFee = "kill_fee"
)

// Payout statuses (store.PayoutPending and PayoutPaid).
const (
	StatusPaid    = "paid"
	StatusPending = "pending"
)

// Stages the report's lifecycle figures name.
const (
	stageOutreach    = "outreach"
	stageNegotiating = "negotiating"
)

// replied are the stages that only a collaboration whose creator replied reaches:
// negotiating and every stage after it on the normal path. A history backfilled with only
// the current stage (rows older than the stage history) still counts its reply this way.
var replied = normalPath[1:]

// normalPath is the lifecycle's stages in order, without its side exits (declined,
// no_response, cancelled): a collaboration in one of them has passed through every one
// before it.
var normalPath = []string{stageOutreach, stageNegotiating, "contracting", "in_production", "in_review",
	"awaiting_post", "verifying", "live", "payout", "completed"}

// Input is everything a campaign's report is computed from.
type Input struct {
	CampaignID string
	// Budget is the campaign's budget; nil when it has none.
	Budget *Money
	// Stages is the lifecycle's order, for the per-stage figures; stages not listed
	// follow in name order.
	Stages []string
	Rows   []Row
	AsOf   time.Time
}

// Row is one collaboration with what the report needs of it.
type Row struct {
	CollaborationID string
	CreatorID       string
	CreatorName     string
	Tier            string
	Variant         string
	Stage           string
	Payouts         []Payout
	// Metrics is the latest cumulative snapshot; nil when none was reported.
	Metrics *payout.Metrics
	// History is every stage entered, in order.
	History []Entry
}

// Payout is one ledger row of a collaboration: its amount, and the bonus and revenue
// share its breakdown (payout.Breakdown) names.
type Payout struct {
	Kind         string
	Status       string
	Currency     string
	Amount       int64
	Bonus        int64
	RevenueShare int64
}

// Entry is one stage a collaboration entered.
type Entry struct {
	Stage     string
	EnteredAt time.Time
}

// Money is an amount in minor units of a currency.
type Money struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

// Report is a campaign measured.
type Report struct {
	CampaignID string        `json:"campaign_id"`
	AsOf       time.Time     `json:"as_of"`
	Campaign   Figures       `json:"campaign"`
	ByTier     []TierLine    `json:"by_tier"`
	ByCreator  []CreatorLine `json:"by_creator"`
	// ByVariant is the reply rate per outreach variant (an A/B test's arms); empty when
	// no collaboration was given a variant.
	ByVariant []VariantLine `json:"by_variant"`
	Stages    []StageLine   `json:"stages"`
	Replies   Replies       `json:"replies"`
	// Budget is nil when the campaign has none.
	Budget *Budget `json:"budget"`
}

// Figures are the sums and rates of a group of collaborations.
type Figures struct {
	Collaborations int   `json:"collaborations"`
	Impressions    int64 `json:"impressions"`
	Reach          int64 `json:"reach"`
	// Engagements are likes, comments, saves and shares.
	Engagements    int64    `json:"engagements"`
	EngagementRate *float64 `json:"engagement_rate"`
	Clicks         int64    `json:"clicks"`
	CTR            *float64 `json:"ctr"`
	Conversions    int64    `json:"conversions"`
	// Money is one line per currency, in currency order.
	Money []MoneyLine `json:"money"`
}

// MoneyLine is a group's cost and revenue in one currency, in minor units.
type MoneyLine struct {
	Currency     string `json:"currency"`
	Fees         int64  `json:"fees"`
	Bonuses      int64  `json:"bonuses"`
	RevenueShare int64  `json:"revenue_share"`
	KillFees     int64  `json:"kill_fees"`
	Cost         int64  `json:"cost"`
	Spent        int64  `json:"spent"`
	Committed    int64  `json:"committed"`
	Revenue      int64  `json:"revenue"`
	// Conversions are those of the collaborations whose money is in this currency.
	Conversions int64 `json:"conversions"`
	// CPA is cost ÷ conversions rounded to the nearest minor unit; nil without conversions.
	CPA *int64 `json:"cpa"`
	// ROI is (revenue − cost) ÷ cost; nil without cost.
	ROI *float64 `json:"roi"`
}

// TierLine is one tier's figures.
type TierLine struct {
	Tier string `json:"tier"`
	Figures
}

// CreatorLine is one creator's collaboration in the campaign.
type CreatorLine struct {
	CreatorID       string `json:"creator_id"`
	CreatorName     string `json:"creator_name"`
	CollaborationID string `json:"collaboration_id"`
	Tier            string `json:"tier"`
	Variant         string `json:"variant,omitempty"`
	Stage           string `json:"stage"`
	Figures
}

// VariantLine is the reply rate of one outreach variant.
type VariantLine struct {
	Variant string `json:"variant"`
	Replies
}

// Replies counts outreach and its answers.
type Replies struct {
	EnteredOutreach int `json:"entered_outreach"`
	Replied         int `json:"replied"`
	InOutreach      int `json:"in_outreach"`
	// Rate is replied ÷ entered outreach; nil when none entered.
	Rate *float64 `json:"reply_rate"`
	// DecidedRate is replied ÷ those no longer in outreach; nil when none are.
	DecidedRate *float64 `json:"decided_reply_rate"`
}

// StageLine is how long collaborations stayed in one stage.
type StageLine struct {
	Stage string `json:"stage"`
	// Entered counts collaborations that reached the stage (each once, however often it
	// came back to it), Left those of them no longer in it.
	Entered int `json:"entered"`
	Left    int `json:"left"`
	// MedianSeconds is the median of the time those that left spent in the stage, all
	// their stays summed; nil when none left.
	MedianSeconds *int64 `json:"median_seconds"`
}

// Budget is the campaign's budget against its spend, in the budget's currency.
type Budget struct {
	Currency  string `json:"currency"`
	Amount    int64  `json:"amount"`
	Spent     int64  `json:"spent"`
	Committed int64  `json:"committed"`
	// Remaining is amount − spent − committed; negative when over budget.
	Remaining int64 `json:"remaining"`
	// Unbudgeted is cost in other currencies, which the budget cannot absorb.
	Unbudgeted []Money `json:"unbudgeted"`
}

// tierOrder is the tiers smallest first; other tier names follow in name order.
var tierOrder = []string{"nano", "micro", "mid", "macro", "mega"}

// Build computes the report.
func Build(in Input) Report {
	r := Report{CampaignID: in.CampaignID, AsOf: in.AsOf.UTC(), ByTier: []TierLine{}, ByCreator: []CreatorLine{},
		ByVariant: []VariantLine{}}
	var total acc
	tiers := map[string]*acc{}
	variants := map[string]*Replies{}
	for _, row := range in.Rows {
		var one acc
		one.add(row)
		total.add(row)
		if tiers[row.Tier] == nil {
			tiers[row.Tier] = &acc{}
		}
		tiers[row.Tier].add(row)
		r.ByCreator = append(r.ByCreator, CreatorLine{CreatorID: row.CreatorID, CreatorName: row.CreatorName,
			CollaborationID: row.CollaborationID, Tier: row.Tier, Variant: row.Variant, Stage: row.Stage, Figures: one.figures()})
		countReply(&r.Replies, row)
		if row.Variant != "" {
			if variants[row.Variant] == nil {
				variants[row.Variant] = &Replies{}
			}
			countReply(variants[row.Variant], row)
		}
	}
	r.Campaign = total.figures()
	for tier, a := range tiers {
		r.ByTier = append(r.ByTier, TierLine{Tier: tier, Figures: a.figures()})
	}
	slices.SortFunc(r.ByTier, func(a, b TierLine) int { return compareTiers(a.Tier, b.Tier) })
	// Creator and collaboration ids are unique, so the order is total and needs no
	// stable sort.
	slices.SortFunc(r.ByCreator, func(a, b CreatorLine) int {
		return cmp.Or(compareTiers(a.Tier, b.Tier), strings.Compare(a.CreatorName, b.CreatorName),
			strings.Compare(a.CreatorID, b.CreatorID), strings.Compare(a.CollaborationID, b.CollaborationID))
	})
	for name, rep := range variants {
		rep.rates()
		r.ByVariant = append(r.ByVariant, VariantLine{Variant: name, Replies: *rep})
	}
	slices.SortFunc(r.ByVariant, func(a, b VariantLine) int { return strings.Compare(a.Variant, b.Variant) })
	r.Replies.rates()
	r.Stages = stageLines(in.Stages, in.Rows)
	if in.Budget != nil {
		r.Budget = budget(*in.Budget, total.money)
	}
	return r
}

// compareTiers orders known tiers smallest first, then other names, then no tier.
func compareTiers(a, b string) int {
	rank := func(t string) int {
		if i := slices.Index(tierOrder, t); i >= 0 {
			return i
		}
		if t == "" {
			return len(tierOrder) + 1
		}
		return len(tierOrder)
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b))
}

// acc sums a group's collaborations.
type acc struct {
	n                                                int
	impressions, reach, engagements, clicks, convers int64
	money                                            []MoneyLine
}

func (a *acc) line(currency string) *MoneyLine {
	i, found := slices.BinarySearchFunc(a.money, currency, func(m MoneyLine, c string) int { return strings.Compare(m.Currency, c) })
	if !found {
		a.money = slices.Insert(a.money, i, MoneyLine{Currency: currency})
	}
	return &a.money[i]
}

func (a *acc) add(row Row) {
	a.n++
	for _, p := range row.Payouts {
		l := a.line(p.Currency)
		switch p.Kind {
		case KindKillFee:
			l.KillFees += p.Amount
		default:
			// The breakdown names bonuses and revenue share; the rest of the amount is the
			// fee, so the split always adds up to what the ledger owes.
			l.Bonuses += p.Bonus
			l.RevenueShare += p.RevenueShare
			l.Fees += p.Amount - p.Bonus - p.RevenueShare
		}
		l.Cost += p.Amount
		if p.Status == StatusPaid {
			l.Spent += p.Amount
		} else {
			l.Committed += p.Amount
		}
	}
	m := row.Metrics
	if m == nil {
		return
	}
	a.impressions += m.Impressions
	a.reach += m.Reach
	a.engagements += m.Likes + m.Comments + m.Saves + m.Shares
	a.clicks += m.Clicks
	a.convers += m.Conversions
	currency := m.Currency
	if len(row.Payouts) > 0 {
		currency = row.Payouts[0].Currency
	}
	if m.Revenue > 0 {
		a.line(m.Currency).Revenue += m.Revenue
	}
	if m.Conversions > 0 && currency != "" {
		a.line(currency).Conversions += m.Conversions
	}
}

func (a *acc) figures() Figures {
	f := Figures{Collaborations: a.n, Impressions: a.impressions, Reach: a.reach, Engagements: a.engagements,
		Clicks: a.clicks, Conversions: a.convers, Money: slices.Clone(a.money)}
	if f.Money == nil {
		f.Money = []MoneyLine{}
	}
	f.EngagementRate = ratio(a.engagements, a.reach)
	f.CTR = ratio(a.clicks, a.impressions)
	for i := range f.Money {
		l := &f.Money[i]
		if l.Conversions > 0 {
			cpa := divRound(l.Cost, l.Conversions)
			l.CPA = &cpa
		}
		l.ROI = ratio(l.Revenue-l.Cost, l.Cost)
	}
	return f
}

// ratio is num ÷ den rounded to four decimals (a hundredth of a percent), nil when den
// is zero.
func ratio(num, den int64) *float64 {
	if den == 0 {
		return nil
	}
	v := math.Round(float64(num)/float64(den)*10_000) / 10_000
	return &v
}

// divRound is a ÷ b rounded half away from zero, in integers so money stays exact.
func divRound(a, b int64) int64 {
	q, r := a/b, a%b
	if 2*abs(r) >= abs(b) {
		if (a < 0) != (b < 0) {
			q--
		} else {
			q++
		}
	}
	return q
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// countReply adds a collaboration to the outreach counts.
func countReply(r *Replies, row Row) {
	entered := row.Stage == stageOutreach
	answered := false
	for _, e := range row.History {
		entered = entered || e.Stage == stageOutreach
		answered = answered || slices.Contains(replied, e.Stage)
	}
	answered = answered || slices.Contains(replied, row.Stage)
	if answered {
		// Every collaboration starts in outreach: a reply proves it was there even when
		// its history begins later.
		entered = true
	}
	if !entered {
		return
	}
	r.EnteredOutreach++
	if answered {
		r.Replied++
	} else if row.Stage == stageOutreach {
		r.InOutreach++
	}
}

func (r *Replies) rates() {
	r.Rate = ratio(int64(r.Replied), int64(r.EnteredOutreach))
	r.DecidedRate = ratio(int64(r.Replied), int64(r.EnteredOutreach-r.InOutreach))
}

// stageLines counts, per stage in the given order then by name, the collaborations that
// reached it and left it, and the median of their time in it.
func stageLines(order []string, rows []Row) []StageLine {
	entered := map[string]int{}
	left := map[string]int{}
	spans := map[string][]int64{}
	for _, row := range rows {
		stays, current := stageStays(row)
		for st, s := range stays {
			entered[st]++
			if st != current {
				left[st]++
				if s.known {
					spans[st] = append(spans[st], int64(s.d/time.Second))
				}
			}
		}
	}
	names := slices.Clone(order)
	var extra []string
	for st := range entered {
		if !slices.Contains(names, st) {
			extra = append(extra, st)
		}
	}
	slices.Sort(extra)
	names = append(names, extra...)
	lines := make([]StageLine, 0, len(names))
	for _, st := range names {
		l := StageLine{Stage: st, Entered: entered[st], Left: left[st]}
		if s := spans[st]; len(s) > 0 {
			m := median(s)
			l.MedianSeconds = &m
		}
		lines = append(lines, l)
	}
	return lines
}

// stay is a collaboration's total time in one stage; known is false when no stay of it
// has an end recorded.
type stay struct {
	d     time.Duration
	known bool
}

// stageStays is every stage a collaboration reached with its total time there (the sum of
// its stays, so a draft sent back to production counts once), and its current stage. A
// stage of the normal path before one it reached was passed through even when the history
// does not record it (rows older than the stage history): it counts as reached, with no
// known time.
func stageStays(row Row) (map[string]stay, string) {
	current := row.Stage
	if current == "" && len(row.History) > 0 {
		current = row.History[len(row.History)-1].Stage
	}
	stays := map[string]stay{}
	furthest := -1
	note := func(st string) {
		furthest = max(furthest, slices.Index(normalPath, st))
		stays[st] = stays[st]
	}
	for i, e := range row.History {
		note(e.Stage)
		if i+1 < len(row.History) {
			s := stays[e.Stage]
			stays[e.Stage] = stay{d: s.d + row.History[i+1].EnteredAt.Sub(e.EnteredAt), known: true}
		}
	}
	if current != "" {
		note(current)
	}
	for _, st := range normalPath[:furthest+1] {
		note(st)
	}
	return stays, current
}

// median of whole seconds; the mean of the two middle values of an even count, rounded.
func median(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return divRound(s[n/2-1]+s[n/2], 2)
}

// budget sets the campaign's cost against its budget.
func budget(b Money, money []MoneyLine) *Budget {
	out := &Budget{Currency: b.Currency, Amount: b.Amount, Unbudgeted: []Money{}}
	for _, l := range money {
		if l.Currency == b.Currency {
			out.Spent, out.Committed = l.Spent, l.Committed
		} else if l.Cost > 0 {
			out.Unbudgeted = append(out.Unbudgeted, Money{Currency: l.Currency, Amount: l.Cost})
		}
	}
	out.Remaining = b.Amount - out.Spent - out.Committed
	return out
}
