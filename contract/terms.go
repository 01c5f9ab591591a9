// Package contract holds the terms a brand and a creator negotiate, the rules they must
// satisfy, and the contract document rendered from them. It does no I/O, so workflow
// validators use the same checks as the API.
package contract

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/roster"
)

// Terms are what both sides agree to.
type Terms struct {
	Deliverables        []Deliverable         `json:"deliverables"`
	Currency            string                `json:"currency"`
	FixedFee            int64                 `json:"fixed_fee"`
	BonusTiers          []campaigns.BonusTier `json:"bonus_tiers"`
	RevenueSharePercent float64               `json:"revenue_share_percent"`
	UsageRightsDays     int                   `json:"usage_rights_days"`
	ExclusivityDays     int                   `json:"exclusivity_days"`
	DisclosureText      string                `json:"disclosure_text"`
	// KillFee is paid if the brand cancels after signing.
	KillFee int64 `json:"kill_fee"`
	// RevisionRounds is how many times a reviewer may send a draft back before ops decide.
	RevisionRounds int `json:"revision_rounds"`
	// DiscountCode is the creator's code; empty means one is generated later.
	DiscountCode string `json:"discount_code,omitempty"`
}

// Deliverable is a count of posts of one format on one platform, due by a date.
type Deliverable struct {
	Platform string `json:"platform"`
	Format   string `json:"format"`
	Count    int    `json:"count"`
	DueDate  string `json:"due_date,omitempty"`
}

// Formats are the deliverable formats.
var Formats = []string{"post", "reel", "story", "short", "video", "live", "carousel", "thread"}

// Metrics that bonus tiers may count.
var Metrics = []string{"impressions", "reach", "likes", "comments", "saves", "shares", "clicks", "conversions", "revenue"}

// Limits keep amounts and counts to what a real deal has.
const (
	MaxAmount         = 100_000_000_000 // minor units
	MaxDays           = 3650
	MaxRevisionRounds = 10
)

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// Check returns what is wrong with the terms, by JSON field path; nil when they are fine.
func (t Terms) Check() map[string]string {
	bad := map[string]string{}
	if len(t.Deliverables) == 0 {
		bad["deliverables"] = "at least one deliverable"
	}
	if len(t.Deliverables) > 50 {
		bad["deliverables"] = "at most 50 deliverables"
	}
	for i, d := range t.Deliverables {
		p := fmt.Sprintf("deliverables[%d].", i)
		if !slices.Contains(roster.Platforms, d.Platform) {
			bad[p+"platform"] = "must be one of " + strings.Join(roster.Platforms, ", ")
		}
		if !slices.Contains(Formats, d.Format) {
			bad[p+"format"] = "must be one of " + strings.Join(Formats, ", ")
		}
		if d.Count < 1 || d.Count > 100 {
			bad[p+"count"] = "from 1 to 100"
		}
		if d.DueDate != "" {
			if _, err := time.Parse(time.DateOnly, d.DueDate); err != nil {
				bad[p+"due_date"] = "must be a date as YYYY-MM-DD"
			}
		}
	}
	if !currencyPattern.MatchString(t.Currency) {
		bad["currency"] = "must be an ISO 4217 code such as USD"
	}
	amount := func(field string, v int64) {
		if v < 0 || v > MaxAmount {
			bad[field] = fmt.Sprintf("from 0 to %d minor units", int64(MaxAmount))
		}
	}
	amount("fixed_fee", t.FixedFee)
	amount("kill_fee", t.KillFee)
	if t.KillFee > t.FixedFee && t.FixedFee > 0 {
		bad["kill_fee"] = "must not exceed the fixed fee"
	}
	for i, b := range t.BonusTiers {
		p := fmt.Sprintf("bonus_tiers[%d].", i)
		if !slices.Contains(Metrics, b.Metric) {
			bad[p+"metric"] = "must be one of " + strings.Join(Metrics, ", ")
		}
		if b.Threshold < 1 {
			bad[p+"threshold"] = "at least 1"
		}
		if b.Amount < 1 || b.Amount > MaxAmount {
			bad[p+"amount"] = "a positive amount in minor units"
		}
	}
	if t.RevenueSharePercent < 0 || t.RevenueSharePercent > 100 {
		bad["revenue_share_percent"] = "from 0 to 100"
	}
	if t.UsageRightsDays < 0 || t.UsageRightsDays > MaxDays {
		bad["usage_rights_days"] = fmt.Sprintf("from 0 to %d", MaxDays)
	}
	if t.ExclusivityDays < 0 || t.ExclusivityDays > MaxDays {
		bad["exclusivity_days"] = fmt.Sprintf("from 0 to %d", MaxDays)
	}
	if d := strings.TrimSpace(t.DisclosureText); d == "" || len(d) > 100 {
		bad["disclosure_text"] = "required, at most 100 characters (FTC: the post must disclose the deal)"
	}
	if t.RevisionRounds < 0 || t.RevisionRounds > MaxRevisionRounds {
		bad["revision_rounds"] = fmt.Sprintf("from 0 to %d", MaxRevisionRounds)
	}
	if len(t.DiscountCode) > 40 {
		bad["discount_code"] = "at most 40 characters"
	}
	if len(bad) == 0 {
		return nil
	}
	return bad
}

// FromCampaign is the brand's opening offer: the campaign's deliverables and compensation.
func FromCampaign(c campaigns.Campaign) Terms {
	t := Terms{
		Currency:            c.Compensation.Currency,
		FixedFee:            c.Compensation.FixedFee,
		BonusTiers:          c.Compensation.BonusTiers,
		RevenueSharePercent: c.Compensation.RevenueSharePercent,
		UsageRightsDays:     c.UsageRightsDays,
		DisclosureText:      c.DisclosureText,
		RevisionRounds:      2,
	}
	for _, d := range c.Brief.Deliverables {
		t.Deliverables = append(t.Deliverables, Deliverable{Platform: d.Platform, Format: d.Format, Count: d.Count})
	}
	return t
}

// HasDisclosure reports whether a caption carries the disclosure: the contract's text, or
// one of the FTC-accepted labels, matched case-insensitively and not inside a longer word
// ("#ad" does not match "#adventure").
func HasDisclosure(caption, required string) bool {
	for _, label := range []string{required, "#ad", "#sponsored", "paid partnership"} {
		if label = strings.TrimSpace(label); label != "" && ContainsWord(caption, label) {
			return true
		}
	}
	return false
}

// ContainsWord reports whether text holds word, ignoring case, not as part of a longer word.
func ContainsWord(text, word string) bool {
	lt, lw := strings.ToLower(text), strings.ToLower(word)
	for from := 0; ; {
		i := strings.Index(lt[from:], lw)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(lw)
		if boundary(lt, start-1) && boundary(lt, end) {
			return true
		}
		from = start + 1
	}
}

// boundary reports whether position i of s is outside a word (or outside s).
func boundary(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return true
	}
	r := rune(s[i])
	return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
}
