// Package fit scores how well a roster creator suits a campaign: the campaign's rules
// decide who is eligible at all, and the creator's figures and history across earlier
// campaigns add points, each with a reason ops can read. It does no I/O, so the API, the
// store's callers and tests share one definition and a score never depends on when or
// where it was computed.
package fit

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/collabflow/collabflow/roster"
)

// Rules are a campaign's fit rules. A zero field does not constrain: empty Rules make every
// creator eligible. The "tier" validation tag is the API validator's rule for roster tiers.
type Rules struct {
	// Tiers allowed; empty allows every tier.
	Tiers []roster.Tier `json:"tiers" validate:"max=5,dive,tier"`
	// Niches the campaign looks for; a creator matching any of them gains points.
	Niches []string `json:"niches" validate:"max=20,dive,required,max=50"`
	// MinEngagementRate is the lowest engagement rate accepted, as a fraction (0.02 is 2 %).
	MinEngagementRate float64 `json:"min_engagement_rate" validate:"gte=0,lte=1"`
	// AudienceCountries are ISO 3166-1 alpha-2 codes of the markets the campaign targets.
	AudienceCountries []string `json:"audience_countries" validate:"max=250,dive,iso3166_1_alpha2"`
	// MinAudienceShare is the lowest combined share, in percent, of a creator's audience
	// in AudienceCountries; 0 asks for none.
	MinAudienceShare float64 `json:"min_audience_share" validate:"gte=0,lte=100"`
	// ExcludedCreators are creator ids the brand will not work with.
	ExcludedCreators []string `json:"excluded_creators" validate:"max=5000,dive,uuid"`
}

// Normalize trims and canonicalises the rules in place so that validation sees the form
// that is stored (upper-case countries, lower-case ids) and repeats are dropped; lists
// are never nil, so JSON shows [].
func (r *Rules) Normalize() {
	r.Niches = uniq(r.Niches, strings.TrimSpace)
	r.AudienceCountries = uniq(r.AudienceCountries, func(s string) string { return strings.ToUpper(strings.TrimSpace(s)) })
	r.ExcludedCreators = uniq(r.ExcludedCreators, func(s string) string { return strings.ToLower(strings.TrimSpace(s)) })
	tiers := make([]roster.Tier, 0, len(r.Tiers))
	for _, t := range r.Tiers {
		if t = roster.Tier(strings.ToLower(strings.TrimSpace(string(t)))); !slices.Contains(tiers, t) {
			tiers = append(tiers, t)
		}
	}
	r.Tiers = tiers
}

func uniq(list []string, norm func(string) string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s = norm(s); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Check reports the rule that spans fields: a minimum share needs countries to share in.
// It returns the field and why, or "" when the rules hold together.
func (r Rules) Check() (field, why string) {
	if r.MinAudienceShare > 0 && len(r.AudienceCountries) == 0 {
		return "min_audience_share", "needs audience_countries"
	}
	return "", ""
}

// History is what a creator did in earlier collaborations, across campaigns.
type History struct {
	// Collaborations counts every collaboration, running or ended.
	Collaborations int `json:"collaborations"`
	// Outcomes counts collaborations by their stage: the end stage of those that ended,
	// the current stage of those still running.
	Outcomes map[string]int `json:"outcomes"`
	// Spend is what was paid out to the creator, per ISO 4217 currency in minor units.
	Spend map[string]int64 `json:"spend"`
	// Results add up the latest cumulative metrics of each collaboration.
	Results Results `json:"results"`
	// Replies counts collaborations the creator answered; the reply times run from the
	// first outreach email sent to the first reply.
	Replies            int   `json:"replies"`
	MedianReplySeconds int64 `json:"median_reply_seconds"`
	AvgReplySeconds    int64 `json:"avg_reply_seconds"`
}

// Results are the performance figures of past collaborations.
type Results struct {
	Impressions int64 `json:"impressions"`
	Clicks      int64 `json:"clicks"`
	Conversions int64 `json:"conversions"`
	// Revenue is attributed revenue per currency in minor units.
	Revenue map[string]int64 `json:"revenue"`
}

// Normalize makes the maps non-nil, so JSON shows {} for a creator without history.
func (h *History) Normalize() {
	if h.Outcomes == nil {
		h.Outcomes = map[string]int{}
	}
	if h.Spend == nil {
		h.Spend = map[string]int64{}
	}
	if h.Results.Revenue == nil {
		h.Results.Revenue = map[string]int64{}
	}
}

// Reason is one part of a score: why a creator is or is not eligible, or why points were
// added or taken away.
type Reason struct {
	Code   string `json:"code"`
	Text   string `json:"text"`
	Points int    `json:"points"`
}

// Reason codes. The hard ones make a creator ineligible.
const (
	CodeExcluded         = "excluded"
	CodeTierNotAllowed   = "tier_not_allowed"
	CodeEngagementBelow  = "engagement_below_minimum"
	CodeAudienceBelow    = "audience_below_minimum"
	CodeNicheMatch       = "niche_match"
	CodeNicheMismatch    = "niche_mismatch"
	CodeAnyNiche         = "any_niche"
	CodeAudienceShare    = "audience_share"
	CodeAnyAudience      = "any_audience"
	CodeEngagementAbove  = "engagement_above_minimum"
	CodeCompletedBefore  = "completed_before"
	CodeUnansweredBefore = "no_response_before"
	CodeDeclinedBefore   = "declined_before"
	CodeFastReplies      = "fast_replies"
	CodePastROI          = "past_roi"
	CodePastConversions  = "past_conversions"
)

// Weights of the soft parts. Niche, audience and engagement are 20 each and history up
// to 40, so a creator who fits everything and has a strong record scores 100.
const (
	NichePoints          = 20 // any niche in common, or no niche asked
	AudienceMaxPoints    = 20 // one point per 5 % of the audience in the campaign's countries
	EngagementMaxPoints  = 20 // four points per percentage point above the minimum
	CompletedPoints      = 10 // per completed collaboration,
	CompletedMaxPoints   = 20 // up to this
	UnansweredPoints     = -5 // per no_response or declined collaboration,
	UnansweredMinPoints  = -20
	FastReplyPoints      = 10 // median first reply within a day
	QuickReplyPoints     = 5  // within three days
	ROIDoublePoints      = 10 // past revenue at least twice the spend in one currency
	ROIPoints            = 5  // at least the spend
	PastConversionPoints = 5  // conversions, with nothing paid to compare against
)

// Result is a creator's fit to a campaign. An ineligible creator scores 0 and its reasons
// are the rules it breaks.
type Result struct {
	Eligible bool     `json:"eligible"`
	Score    int      `json:"score"`
	Reasons  []Reason `json:"reasons"`
}

// Score rates a creator against rules, with history from earlier collaborations. The same
// inputs always give the same result, reasons in a fixed order.
func Score(rules Rules, c roster.Creator, h History) Result {
	if hard := hardReasons(rules, c); len(hard) > 0 {
		return Result{Eligible: false, Score: 0, Reasons: hard}
	}
	var reasons []Reason
	add := func(code string, points int, format string, args ...any) {
		reasons = append(reasons, Reason{Code: code, Text: fmt.Sprintf(format, args...), Points: points})
	}

	if len(rules.Niches) == 0 {
		add(CodeAnyNiche, NichePoints, "the campaign asks for no niche")
	} else if n, ok := matchNiche(rules.Niches, c.Niches); ok {
		add(CodeNicheMatch, NichePoints, "niche %s", n)
	} else {
		add(CodeNicheMismatch, 0, "none of the niches %s", strings.Join(rules.Niches, ", "))
	}

	if len(rules.AudienceCountries) == 0 {
		add(CodeAnyAudience, AudienceMaxPoints, "the campaign asks for no audience country")
	} else {
		share := audienceShare(rules.AudienceCountries, c)
		add(CodeAudienceShare, min(AudienceMaxPoints, int(math.Round(share/5))),
			"%s%% of the audience in %s", formatFloat(share), strings.Join(rules.AudienceCountries, ", "))
	}

	above := (c.EngagementRate - rules.MinEngagementRate) * 100
	if p := min(EngagementMaxPoints, int(math.Round(above*4))); p > 0 {
		add(CodeEngagementAbove, p, "engagement rate %s%%, %s percentage points above the minimum",
			formatFloat(c.EngagementRate*100), formatFloat(above))
	}

	if done := h.Outcomes["completed"]; done > 0 {
		add(CodeCompletedBefore, min(CompletedMaxPoints, done*CompletedPoints), "%d completed collaboration%s", done, plural(done))
	}
	unanswered, declined := h.Outcomes["no_response"], h.Outcomes["declined"]
	if unanswered > 0 {
		p := max(UnansweredMinPoints, unanswered*UnansweredPoints)
		add(CodeUnansweredBefore, p, "%d collaboration%s without a reply", unanswered, plural(unanswered))
	}
	if declined > 0 {
		// Together with the unanswered ones, never below the floor.
		used := max(UnansweredMinPoints, unanswered*UnansweredPoints)
		if p := max(UnansweredMinPoints-used, declined*UnansweredPoints); p < 0 {
			add(CodeDeclinedBefore, p, "%d declined collaboration%s", declined, plural(declined))
		}
	}

	if h.Replies > 0 {
		hours := float64(h.MedianReplySeconds) / 3600
		switch {
		case h.MedianReplySeconds <= 24*3600:
			add(CodeFastReplies, FastReplyPoints, "replies in %sh (median)", formatFloat(hours))
		case h.MedianReplySeconds <= 72*3600:
			add(CodeFastReplies, QuickReplyPoints, "replies in %sh (median)", formatFloat(hours))
		}
	}

	if cur, ratio, ok := bestROI(h); ok {
		switch {
		case ratio >= 2:
			add(CodePastROI, ROIDoublePoints, "past revenue %s× the spend in %s", formatFloat(ratio), cur)
		case ratio >= 1:
			add(CodePastROI, ROIPoints, "past revenue %s× the spend in %s", formatFloat(ratio), cur)
		}
	} else if h.Results.Conversions > 0 {
		add(CodePastConversions, PastConversionPoints, "%d conversions from past collaborations", h.Results.Conversions)
	}

	score := 0
	for _, r := range reasons {
		score += r.Points
	}
	return Result{Eligible: true, Score: min(100, max(0, score)), Reasons: reasons}
}

// hardReasons lists every rule the creator breaks, in a fixed order.
func hardReasons(rules Rules, c roster.Creator) []Reason {
	var out []Reason
	if slices.Contains(rules.ExcludedCreators, c.ID) {
		out = append(out, Reason{Code: CodeExcluded, Text: "excluded by the campaign"})
	}
	if len(rules.Tiers) > 0 && !slices.Contains(rules.Tiers, c.Tier) {
		out = append(out, Reason{Code: CodeTierNotAllowed, Text: fmt.Sprintf("tier %s is not one of %s", c.Tier, joinTiers(rules.Tiers))})
	}
	if c.EngagementRate < rules.MinEngagementRate {
		out = append(out, Reason{Code: CodeEngagementBelow, Text: fmt.Sprintf("engagement rate %s%% is below the minimum %s%%",
			formatFloat(c.EngagementRate*100), formatFloat(rules.MinEngagementRate*100))})
	}
	if rules.MinAudienceShare > 0 {
		if share := audienceShare(rules.AudienceCountries, c); share < rules.MinAudienceShare {
			out = append(out, Reason{Code: CodeAudienceBelow, Text: fmt.Sprintf("%s%% of the audience in %s, below the minimum %s%%",
				formatFloat(share), strings.Join(rules.AudienceCountries, ", "), formatFloat(rules.MinAudienceShare))})
		}
	}
	return out
}

// matchNiche returns the first wanted niche the creator has, ignoring case.
func matchNiche(wanted, have []string) (string, bool) {
	for _, w := range wanted {
		for _, h := range have {
			if strings.EqualFold(w, h) {
				return w, true
			}
		}
	}
	return "", false
}

// audienceShare is the combined percentage of the creator's audience in the countries.
func audienceShare(countries []string, c roster.Creator) float64 {
	var share float64
	for _, cc := range countries {
		share += c.AudienceCountries[cc]
	}
	return math.Min(100, share)
}

// bestROI is the highest ratio of past revenue to spend over the currencies the creator
// was paid in, in currency order so that ties resolve the same way every time.
func bestROI(h History) (currency string, ratio float64, ok bool) {
	currencies := make([]string, 0, len(h.Spend))
	for cur, spent := range h.Spend {
		if spent > 0 {
			currencies = append(currencies, cur)
		}
	}
	slices.Sort(currencies)
	for _, cur := range currencies {
		r := float64(h.Results.Revenue[cur]) / float64(h.Spend[cur])
		if !ok || r > ratio {
			currency, ratio, ok = cur, r, true
		}
	}
	return currency, ratio, ok
}

func joinTiers(tiers []roster.Tier) string {
	s := make([]string, len(tiers))
	for i, t := range tiers {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// formatFloat writes at most two decimals and no trailing zeros: 3.25, 2, 0.5.
func formatFloat(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
