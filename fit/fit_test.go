package fit

import (
	"reflect"
	"testing"

	"github.com/collabflow/collabflow/roster"
)

const ada = "0190a0a0-0000-7000-8000-000000000001"

// creator is a micro creator at a 3.25 % engagement rate: 60 % of the audience in GB,
// 20 % in US, niches fitness and food.
func creator() roster.Creator {
	c := roster.Creator{
		ID: ada, Followers: 48_000, AvgEngagement: 1_560,
		AudienceCountries: map[string]float64{"GB": 60, "US": 20},
		Niches:            []string{"Fitness", "food"},
	}
	c.Derive()
	return c
}

func codes(rs []Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}

func TestScore(t *testing.T) {
	rules := Rules{
		Tiers: []roster.Tier{roster.TierMicro, roster.TierMid}, Niches: []string{"fitness"},
		MinEngagementRate: 0.02, AudienceCountries: []string{"GB", "IE"}, MinAudienceShare: 30,
	}
	tests := []struct {
		name     string
		rules    Rules
		creator  func(*roster.Creator)
		history  History
		eligible bool
		score    int
		codes    []string
	}{
		{
			// niche 20 + audience 60 % / 5 = 12 + engagement (3.25 − 2) × 4 = 5
			name: "fits, no history", rules: rules, eligible: true, score: 37,
			codes: []string{CodeNicheMatch, CodeAudienceShare, CodeEngagementAbove},
		},
		{
			// 20 + 20 + 3.25 × 4 = 13 → 53
			name: "no rules", eligible: true, score: 53,
			codes: []string{CodeAnyNiche, CodeAnyAudience, CodeEngagementAbove},
		},
		{
			name: "niche missed scores nothing for it", rules: Rules{Niches: []string{"travel"}, MinEngagementRate: 0.0325},
			eligible: true, score: 20, codes: []string{CodeNicheMismatch, CodeAnyAudience},
		},
		{
			name: "excluded", rules: Rules{ExcludedCreators: []string{ada}}, eligible: false, score: 0,
			codes: []string{CodeExcluded},
		},
		{
			name: "every hard rule broken is named", rules: rules, eligible: false, score: 0,
			creator: func(c *roster.Creator) {
				c.Followers, c.AvgEngagement = 5_000, 50 // nano, 1 %
				c.AudienceCountries = map[string]float64{"US": 90}
				c.Derive()
			},
			codes: []string{CodeTierNotAllowed, CodeEngagementBelow, CodeAudienceBelow},
		},
		{
			// 37 + 2 completed × 10 + median 5h 10 + revenue 3× spend 10
			name: "strong history", rules: rules, eligible: true, score: 77,
			history: History{
				Collaborations: 2, Outcomes: map[string]int{"completed": 2},
				Spend: map[string]int64{"USD": 100_000}, Results: Results{Conversions: 40, Revenue: map[string]int64{"USD": 300_000}},
				Replies: 2, MedianReplySeconds: 5 * 3600,
			},
			codes: []string{CodeNicheMatch, CodeAudienceShare, CodeEngagementAbove, CodeCompletedBefore, CodeFastReplies, CodePastROI},
		},
		{
			// completed capped at 20; replies in two days 5; revenue 1.5× the spend 5 → 37 + 30
			name: "completed capped, quick replies, revenue above spend", rules: rules, eligible: true, score: 67,
			history: History{
				Outcomes: map[string]int{"completed": 5}, Spend: map[string]int64{"EUR": 1000, "USD": 1000},
				Results: Results{Revenue: map[string]int64{"EUR": 1500, "USD": 900}}, Replies: 1, MedianReplySeconds: 48 * 3600,
			},
			codes: []string{CodeNicheMatch, CodeAudienceShare, CodeEngagementAbove, CodeCompletedBefore, CodeFastReplies, CodePastROI},
		},
		{
			// 3 unanswered −15, 2 declined −10 floored at −20 overall → 37 − 20
			name: "past silence and refusals", rules: rules, eligible: true, score: 17,
			history: History{Outcomes: map[string]int{"no_response": 3, "declined": 2}, Replies: 1, MedianReplySeconds: 10 * 24 * 3600},
			codes:   []string{CodeNicheMatch, CodeAudienceShare, CodeEngagementAbove, CodeUnansweredBefore, CodeDeclinedBefore},
		},
		{
			// nothing paid yet, conversions counted: 37 + 5
			name: "conversions without spend", rules: rules, eligible: true, score: 42,
			history: History{Results: Results{Conversions: 3}},
			codes:   []string{CodeNicheMatch, CodeAudienceShare, CodeEngagementAbove, CodePastConversions},
		},
		{
			// 20 + 20 + 20 (capped engagement) + 20 + 10 + 10 = 100
			name: "capped at 100", eligible: true, score: 100,
			creator: func(c *roster.Creator) { c.AvgEngagement = 4_800; c.Derive() },
			history: History{
				Outcomes: map[string]int{"completed": 3}, Spend: map[string]int64{"USD": 10},
				Results: Results{Revenue: map[string]int64{"USD": 20}}, Replies: 3, MedianReplySeconds: 60,
			},
			codes: []string{CodeAnyNiche, CodeAnyAudience, CodeEngagementAbove, CodeCompletedBefore, CodeFastReplies, CodePastROI},
		},
		{
			// no niche 0, audience 0, nothing above the minimum, −20 → floored at 0
			name: "floored at 0", rules: Rules{Niches: []string{"travel"}, AudienceCountries: []string{"JP"}, MinEngagementRate: 0.0325},
			eligible: true, score: 0,
			history: History{Outcomes: map[string]int{"no_response": 9}},
			codes:   []string{CodeNicheMismatch, CodeAudienceShare, CodeUnansweredBefore},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := creator()
			if tt.creator != nil {
				tt.creator(&c)
			}
			got := Score(tt.rules, c, tt.history)
			if got.Eligible != tt.eligible || got.Score != tt.score || !reflect.DeepEqual(codes(got.Reasons), tt.codes) {
				t.Fatalf("got eligible %v score %d reasons %+v; want %v %d %v", got.Eligible, got.Score, got.Reasons, tt.eligible, tt.score, tt.codes)
			}
			if again := Score(tt.rules, c, tt.history); !reflect.DeepEqual(again, got) {
				t.Fatalf("not deterministic: %+v then %+v", got, again)
			}
			for _, r := range got.Reasons {
				if r.Text == "" {
					t.Errorf("reason %s has no text", r.Code)
				}
			}
		})
	}
}

func TestScoreReasonTexts(t *testing.T) {
	got := Score(Rules{Niches: []string{"fitness"}, MinEngagementRate: 0.02, AudienceCountries: []string{"GB"}}, creator(), History{})
	want := []Reason{
		{CodeNicheMatch, "niche fitness", 20},
		{CodeAudienceShare, "60% of the audience in GB", 12},
		{CodeEngagementAbove, "engagement rate 3.25%, 1.25 percentage points above the minimum", 5},
	}
	if !reflect.DeepEqual(got.Reasons, want) {
		t.Fatalf("reasons %+v, want %+v", got.Reasons, want)
	}
}

func TestRulesNormalizeAndCheck(t *testing.T) {
	r := Rules{
		Niches: []string{" fitness ", "fitness"}, AudienceCountries: []string{"gb", "GB "},
		ExcludedCreators: []string{"0190A0A0-0000-7000-8000-000000000001"},
	}
	r.Normalize()
	want := Rules{
		Tiers: []roster.Tier{}, Niches: []string{"fitness"}, AudienceCountries: []string{"GB"},
		ExcludedCreators: []string{ada},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("normalized %+v, want %+v", r, want)
	}
	tests := []struct {
		rules Rules
		field string
	}{
		{Rules{}, ""},
		{Rules{MinAudienceShare: 10}, "min_audience_share"},
		{Rules{MinAudienceShare: 10, AudienceCountries: []string{"GB"}}, ""},
	}
	for _, tt := range tests {
		if field, _ := tt.rules.Check(); field != tt.field {
			t.Errorf("Check(%+v) = %q, want %q", tt.rules, field, tt.field)
		}
	}
}
