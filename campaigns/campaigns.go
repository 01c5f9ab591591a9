// Package campaigns holds a brand's campaign: the brief creators work from, the
// compensation model, and the timings every stage of a collaboration waits by.
// It does no I/O, so workflows may use its types and defaults.
package campaigns

import (
	"encoding/json"
	"math"
	"time"

	"github.com/collabflow/collabflow/fit"
	"github.com/collabflow/collabflow/outreach"
)

// Campaign is one brand initiative that many collaborations run under.
type Campaign struct {
	ID          string `json:"id"`
	Name        string `json:"name" validate:"required,max=200,displayname"`
	Brand       string `json:"brand" validate:"required,max=200,displayname"`
	SenderEmail string `json:"sender_email" validate:"required,email,max=254"`
	// LandingURL is where tracking links point.
	LandingURL   string       `json:"landing_url,omitempty" validate:"omitempty,http_url,max=2000"`
	Brief        Brief        `json:"brief"`
	Compensation Compensation `json:"compensation"`
	// UsageRightsDays is how long the brand may reuse the content after it goes live.
	UsageRightsDays int `json:"usage_rights_days" validate:"gte=0,lte=3650"`
	// DisclosureText is what every sponsored post must carry (FTC Endorsement Guides).
	DisclosureText string  `json:"disclosure_text" validate:"required,max=100"`
	Timings        Timings `json:"timings"`
	// Sequence is the outreach emails in order: the first, then one per follow-up.
	Sequence []outreach.Step `json:"sequence" validate:"max=10,dive"`
	// SendWindow is when emails may go out, in each creator's time zone.
	SendWindow outreach.Window `json:"send_window"`
	// AutoApprove approves a draft that carries the disclosure when no reviewer decided
	// within the review SLA. Off by default: people approve content.
	AutoApprove bool `json:"auto_approve"`
	// Fit is who qualifies for the campaign's roster and how candidates are scored.
	Fit fit.Rules `json:"fit"`
	// Budget is what the campaign may spend, which its report sets payouts against; nil
	// when it has none.
	Budget    *Budget   `json:"budget"`
	CreatedAt time.Time `json:"created_at"`
}

// Budget is an amount in integer minor units of one currency. Payouts in another currency
// are reported beside it, never converted.
type Budget struct {
	Currency string `json:"currency" validate:"required,iso4217"`
	Amount   int64  `json:"amount" validate:"gte=0,lte=100000000000"`
}

// Brief is what a creator is asked to make and say.
type Brief struct {
	Objectives   []string      `json:"objectives" validate:"max=20,dive,required,max=500"`
	Audience     string        `json:"audience" validate:"max=2000"`
	KeyMessages  []string      `json:"key_messages" validate:"max=20,dive,required,max=500"`
	Dos          []string      `json:"dos" validate:"max=50,dive,required,max=500"`
	Donts        []string      `json:"donts" validate:"max=50,dive,required,max=500"`
	Deliverables []Deliverable `json:"deliverables" validate:"max=50,dive"`
	Timeline     Timeline      `json:"timeline"`
}

// Deliverable is a count of posts of one format on one platform.
type Deliverable struct {
	Platform string `json:"platform" validate:"required,platform"`
	Format   string `json:"format" validate:"required,oneof=post reel story short video live carousel thread"`
	Count    int    `json:"count" validate:"required,gte=1,lte=100"`
}

// Timeline is the campaign's calendar window, as dates (YYYY-MM-DD).
type Timeline struct {
	Start string `json:"start,omitempty" validate:"omitempty,datetime=2006-01-02"`
	End   string `json:"end,omitempty" validate:"omitempty,datetime=2006-01-02"`
}

// Compensation is the default offer; negotiation may change it per collaboration.
// Money is in integer minor units (cents) of Currency.
type Compensation struct {
	Currency            string      `json:"currency" validate:"required,iso4217"`
	FixedFee            int64       `json:"fixed_fee" validate:"gte=0,lte=100000000000"`
	BonusTiers          []BonusTier `json:"bonus_tiers" validate:"max=20,dive"`
	RevenueSharePercent float64     `json:"revenue_share_percent" validate:"gte=0,lte=100"`
}

// BonusTier pays Amount once the metric reaches Threshold.
type BonusTier struct {
	Metric    string `json:"metric" validate:"required,oneof=impressions reach likes comments saves shares clicks conversions revenue"`
	Threshold int64  `json:"threshold" validate:"gte=1"`
	Amount    int64  `json:"amount" validate:"gte=1,lte=100000000000"`
}

// Timings are the waits of every stage. The defaults are day-scale; tests and
// benchmarks set seconds.
type Timings struct {
	// FollowUpDelays is the wait before each follow-up email; its length is the number of
	// follow-ups after the first email.
	FollowUpDelays []Duration `json:"follow_up_delays" validate:"max=10,dive,timing"`
	// ReplyWait is how long to wait for a reply after the last email before giving up.
	ReplyWait Duration `json:"reply_wait" validate:"timing"`
	// ContractExpiry is how long a sent contract may stay unsigned.
	ContractExpiry Duration `json:"contract_expiry" validate:"timing"`
	// DraftDeadline is how long the creator has to submit a draft.
	DraftDeadline Duration `json:"draft_deadline" validate:"timing"`
	// ReviewSLA is how long a reviewer has to review a draft before a reminder.
	ReviewSLA Duration `json:"review_sla" validate:"timing"`
	// PostDeadline is how long after approval the post must go live.
	PostDeadline Duration `json:"post_deadline" validate:"timing"`
	// VerificationInterval is how often a live post is checked again.
	VerificationInterval Duration `json:"verification_interval" validate:"timing"`
	// LiveWindow is how long a post must stay up after it is verified.
	LiveWindow Duration `json:"live_window" validate:"timing"`
	// LiveChecks are when live posts are checked again, counted from the start of the
	// live window; after the last one they are checked every LiveCheckEvery, and always
	// at the window's end. A takedown is caught at the next check, and a failed check is
	// repeated every VerificationInterval until it passes (the payout stays on hold).
	LiveChecks []Duration `json:"live_checks" validate:"max=20,dive,timing"`
	// LiveCheckEvery is the cadence of live checks after LiveChecks.
	LiveCheckEvery Duration `json:"live_check_every" validate:"timing"`
}

// DefaultLiveChecks checks a live post after a day and after a week, then weekly.
func DefaultLiveChecks() []Duration { return []Duration{Duration(Day), Duration(7 * Day)} }

// Day is 24 hours; durations here ignore daylight-saving shifts.
const Day = 24 * time.Hour

// DefaultFollowUpDelays waits three days before the first follow-up and four before each
// one after it.
func DefaultFollowUpDelays(followUps int) []Duration {
	delays := make([]Duration, 0, max(followUps, 0))
	for i := range followUps {
		if i == 0 {
			delays = append(delays, Duration(3*Day))
		} else {
			delays = append(delays, Duration(4*Day))
		}
	}
	return delays
}

// DefaultTimings are the waits a campaign gets when it names none.
func DefaultTimings() Timings {
	return Timings{
		FollowUpDelays:       DefaultFollowUpDelays(2),
		ReplyWait:            Duration(7 * Day),
		ContractExpiry:       Duration(7 * Day),
		DraftDeadline:        Duration(14 * Day),
		ReviewSLA:            Duration(2 * Day),
		PostDeadline:         Duration(7 * Day),
		VerificationInterval: Duration(Day),
		LiveWindow:           Duration(30 * Day),
		LiveChecks:           DefaultLiveChecks(),
		LiveCheckEvery:       Duration(7 * Day),
	}
}

// ApplyDefaults fills every unset field with its default. A nil FollowUpDelays takes the
// default; an explicit empty list means no follow-ups.
func (c *Campaign) ApplyDefaults() {
	if c.Sequence == nil {
		c.Sequence = outreach.DefaultSequence()
	}
	if c.SendWindow.Start == "" && c.SendWindow.End == "" && c.SendWindow.Days == nil {
		c.SendWindow = outreach.BusinessHours()
	}
	d := DefaultTimings()
	t := &c.Timings
	if t.FollowUpDelays == nil {
		t.FollowUpDelays = DefaultFollowUpDelays(len(c.Sequence) - 1)
	}
	if t.LiveChecks == nil {
		t.LiveChecks = DefaultLiveChecks()
	}
	for _, f := range []struct {
		dst *Duration
		def Duration
	}{
		{&t.ReplyWait, d.ReplyWait},
		{&t.ContractExpiry, d.ContractExpiry},
		{&t.DraftDeadline, d.DraftDeadline},
		{&t.ReviewSLA, d.ReviewSLA},
		{&t.PostDeadline, d.PostDeadline},
		{&t.VerificationInterval, d.VerificationInterval},
		{&t.LiveWindow, d.LiveWindow},
		{&t.LiveCheckEvery, d.LiveCheckEvery},
	} {
		if *f.dst == 0 {
			*f.dst = f.def
		}
	}
	if c.Compensation.Currency == "" {
		c.Compensation.Currency = "USD"
	}
	if c.DisclosureText == "" {
		c.DisclosureText = "#ad"
	}
	if c.UsageRightsDays == 0 {
		c.UsageRightsDays = 30
	}
	b := &c.Brief
	for _, list := range []*[]string{&b.Objectives, &b.KeyMessages, &b.Dos, &b.Donts} {
		if *list == nil {
			*list = []string{}
		}
	}
	if b.Deliverables == nil {
		b.Deliverables = []Deliverable{}
	}
	if c.Compensation.BonusTiers == nil {
		c.Compensation.BonusTiers = []BonusTier{}
	}
	c.Fit.Normalize()
}

// Bounds of a single timing: a second is the shortest a test needs, two years is longer
// than any collaboration runs.
const (
	MinTiming = time.Second
	MaxTiming = 730 * Day
)

// Duration is a time.Duration written in JSON as a Go duration string ("72h", "2s").
type Duration time.Duration

// Std is the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// Invalid marks a value that was not a duration string. UnmarshalJSON stores it instead of
// failing because encoding/json drops the field's name from a custom unmarshaler's error;
// the "timing" validation rule then rejects it under its JSON name.
const Invalid Duration = math.MinInt64

// UnmarshalJSON reads a Go duration string, or stores Invalid. null leaves the value
// unset, so that the default applies.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		*d = Invalid
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		*d = Invalid
		return nil
	}
	*d = Duration(v)
	return nil
}

// Valid reports whether a timing lies in [MinTiming, MaxTiming].
func (d Duration) Valid() bool {
	return d != Invalid && d.Std() >= MinTiming && d.Std() <= MaxTiming
}
