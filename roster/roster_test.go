package roster

import "testing"

func TestTierFor(t *testing.T) {
	tests := []struct {
		followers int64
		want      Tier
	}{
		{0, TierNano},
		{9_999, TierNano},
		{10_000, TierMicro},
		{48_000, TierMicro},
		{99_999, TierMicro},
		{100_000, TierMid},
		{499_999, TierMid},
		{500_000, TierMacro},
		{999_999, TierMacro},
		{1_000_000, TierMega},
		{250_000_000, TierMega},
	}
	for _, tt := range tests {
		if got := TierFor(tt.followers); got != tt.want {
			t.Errorf("TierFor(%d) = %s, want %s", tt.followers, got, tt.want)
		}
	}
}

func TestEngagementRate(t *testing.T) {
	tests := []struct {
		name                     string
		followers, avgEngagement int64
		want                     float64
	}{
		{"no followers", 0, 100, 0},
		{"no engagement", 1000, 0, 0},
		{"three and a quarter percent", 48_000, 1_560, 0.0325},
		{"rounded to four places", 3, 1, 0.3333},
		{"more interactions than followers", 100, 250, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EngagementRate(tt.followers, tt.avgEngagement); got != tt.want {
				t.Errorf("EngagementRate(%d, %d) = %v, want %v", tt.followers, tt.avgEngagement, got, tt.want)
			}
		})
	}
}

func TestDeriveFillsEmptyCollections(t *testing.T) {
	c := Creator{Followers: 48_000, AvgEngagement: 960}
	c.Derive()
	if c.Tier != TierMicro || c.EngagementRate != 0.02 {
		t.Errorf("derived tier %s rate %v", c.Tier, c.EngagementRate)
	}
	if c.Handles == nil || c.AudienceCountries == nil || c.Niches == nil {
		t.Error("Derive left a nil collection")
	}
}
