package campaigns

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		in   string
		want Duration
	}{
		{`"2s"`, Duration(2 * time.Second)},
		{`"72h"`, Duration(72 * time.Hour)},
		{`"1h30m"`, Duration(90 * time.Minute)},
		{`"soon"`, Invalid},
		{`3600`, Invalid},
		{`null`, 0},
	}
	for _, tt := range tests {
		var d Duration
		if err := json.Unmarshal([]byte(tt.in), &d); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if d != tt.want {
			t.Errorf("%s gave %v, want %v", tt.in, d, tt.want)
		}
	}
	out, err := json.Marshal(Duration(2 * time.Second))
	if err != nil || string(out) != `"2s"` {
		t.Fatalf("marshal: %s %v", out, err)
	}
}

func TestDurationValid(t *testing.T) {
	tests := []struct {
		d    Duration
		want bool
	}{
		{Invalid, false},
		{0, false},
		{Duration(999 * time.Millisecond), false},
		{Duration(MinTiming), true},
		{Duration(MaxTiming), true},
		{Duration(MaxTiming + time.Second), false},
		{Duration(-time.Hour), false},
	}
	for _, tt := range tests {
		if got := tt.d.Valid(); got != tt.want {
			t.Errorf("%v.Valid() = %v", tt.d, got)
		}
	}
}

func TestApplyDefaultsKeepsWhatWasSet(t *testing.T) {
	c := Campaign{DisclosureText: "Sponsored", UsageRightsDays: 90}
	c.Timings.ReplyWait = Duration(2 * time.Second)
	c.Timings.FollowUpDelays = []Duration{}
	c.ApplyDefaults()
	d := DefaultTimings()
	if c.Timings.ReplyWait != Duration(2*time.Second) || c.Timings.ContractExpiry != d.ContractExpiry ||
		c.Timings.LiveWindow != d.LiveWindow || len(c.Timings.FollowUpDelays) != 0 {
		t.Fatalf("timings %+v", c.Timings)
	}
	if c.DisclosureText != "Sponsored" || c.UsageRightsDays != 90 || c.Compensation.Currency != "USD" {
		t.Fatalf("campaign %+v", c)
	}

	var empty Campaign
	empty.ApplyDefaults()
	if len(empty.Timings.FollowUpDelays) != 2 || empty.DisclosureText != "#ad" || empty.Brief.Deliverables == nil {
		t.Fatalf("defaults %+v", empty)
	}
	for _, timing := range []Duration{empty.Timings.ReplyWait, empty.Timings.ContractExpiry, empty.Timings.DraftDeadline,
		empty.Timings.ReviewSLA, empty.Timings.PostDeadline, empty.Timings.VerificationInterval, empty.Timings.LiveWindow} {
		if !timing.Valid() || timing.Std() < time.Hour {
			t.Errorf("default timing %v is not day-scale", timing)
		}
	}
}
