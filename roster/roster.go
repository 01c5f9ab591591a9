// Package roster holds the creators a brand works with and the rules derived from their
// audience figures. It does no I/O, so the API, the store and tests share one definition.
package roster

import (
	"math"
	"strings"
	"time"
)

// Tier buckets creators by reach; ops filter and price by it.
type Tier string

// The tiers, smallest first. The boundaries are the industry's usual ones.
const (
	TierNano  Tier = "nano"  // under 10k followers
	TierMicro Tier = "micro" // under 100k
	TierMid   Tier = "mid"   // under 500k
	TierMacro Tier = "macro" // under 1M
	TierMega  Tier = "mega"  // 1M and more
)

// Tiers lists every tier, smallest first.
var Tiers = []Tier{TierNano, TierMicro, TierMid, TierMacro, TierMega}

// TierFor derives the tier from a follower count.
func TierFor(followers int64) Tier {
	switch {
	case followers < 10_000:
		return TierNano
	case followers < 100_000:
		return TierMicro
	case followers < 500_000:
		return TierMid
	case followers < 1_000_000:
		return TierMacro
	default:
		return TierMega
	}
}

// EngagementRate is the average interactions per post over followers, as a fraction
// rounded to four places (0.0325 is 3.25 %). A creator without followers has no rate.
func EngagementRate(followers, avgEngagement int64) float64 {
	if followers <= 0 || avgEngagement <= 0 {
		return 0
	}
	return math.Round(float64(avgEngagement)/float64(followers)*10_000) / 10_000
}

// Platforms are the social platforms a handle may be given for.
var Platforms = []string{"instagram", "tiktok", "youtube", "twitch", "x", "facebook", "linkedin", "pinterest", "snapchat", "threads", "bluesky"}

// Creator is one person on the roster. Tier and EngagementRate are derived, never taken
// from input.
type Creator struct {
	ID       string `json:"id"`
	Name     string `json:"name" validate:"required,max=200,displayname"`
	Email    string `json:"email" validate:"required,email,max=254"`
	Timezone string `json:"timezone" validate:"required,timezone"`
	// Handles maps a platform to the creator's handle there.
	Handles map[string]string `json:"handles" validate:"max=20,dive,keys,platform,endkeys,required,max=100,handle"`
	// Followers is the total across platforms; it decides the tier.
	Followers int64 `json:"followers" validate:"gte=0,lte=10000000000"`
	// AvgEngagement is the average interactions (likes, comments, shares) per post.
	AvgEngagement int64 `json:"avg_engagement" validate:"gte=0,lte=10000000000"`
	// AudienceCountries maps an ISO 3166-1 alpha-2 code to the audience share in percent.
	AudienceCountries map[string]float64 `json:"audience_countries" validate:"max=250,dive,keys,iso3166_1_alpha2,endkeys,gte=0,lte=100"`
	Niches            []string           `json:"niches" validate:"max=20,dive,required,max=50"`
	// RecentPost is a post outreach emails may mention.
	RecentPost     string    `json:"recent_post" validate:"omitempty,http_url,max=2000"`
	Tier           Tier      `json:"tier"`
	EngagementRate float64   `json:"engagement_rate"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// ErasedAt is when the creator's personal data was erased; the row stays for the
	// collaborations, ledgers and reports that refer to it.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
}

// Derive fills the derived fields and normalises collections so that JSON shows [] and {}
// rather than null.
func (c *Creator) Derive() {
	c.Tier = TierFor(c.Followers)
	c.EngagementRate = EngagementRate(c.Followers, c.AvgEngagement)
	if c.Handles == nil {
		c.Handles = map[string]string{}
	}
	if c.AudienceCountries == nil {
		c.AudienceCountries = map[string]float64{}
	}
	if c.Niches == nil {
		c.Niches = []string{}
	}
}

// AudienceShareTotal is the sum of the audience shares; above 100 the figures are wrong.
func (c *Creator) AudienceShareTotal() float64 {
	var total float64
	for _, share := range c.AudienceCountries {
		total += share
	}
	return total
}

// MainHandle is the handle outreach mentions: the first platform, in Platforms order,
// that the creator has a handle on.
func (c *Creator) MainHandle() (platform, handle string) {
	for _, p := range Platforms {
		if h := c.Handles[p]; h != "" {
			return p, h
		}
	}
	return "", ""
}

// FirstName is the first word of the name, for greetings.
func (c *Creator) FirstName() string {
	if f := strings.Fields(c.Name); len(f) > 0 {
		return f[0]
	}
	return ""
}
