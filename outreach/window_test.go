package outreach

import (
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestNextSendTime(t *testing.T) {
	london := mustLoad(t, "Europe/London")
	newYork := mustLoad(t, "America/New_York")
	tokyo := mustLoad(t, "Asia/Tokyo")
	business := BusinessHours()
	tests := []struct {
		name   string
		window Window
		loc    *time.Location
		now    string // UTC
		want   string // UTC
	}{
		{"inside the window", business, london, "2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z"},
		{"before it opens", business, london, "2026-12-01T07:30:00Z", "2026-12-01T09:00:00Z"},
		{"at the close", business, london, "2026-12-01T17:00:00Z", "2026-12-02T09:00:00Z"},
		{"friday evening waits for monday", business, london, "2026-12-04T18:00:00Z", "2026-12-07T09:00:00Z"},
		{"saturday waits for monday", business, london, "2026-12-05T12:00:00Z", "2026-12-07T09:00:00Z"},
		{"new york morning is london afternoon", business, newYork, "2026-12-01T12:00:00Z", "2026-12-01T14:00:00Z"},
		{"tokyo evening rolls to next morning", business, tokyo, "2026-12-01T09:00:00Z", "2026-12-02T00:00:00Z"},
		{"utc monday is still sunday in new york", business, newYork, "2026-12-07T03:00:00Z", "2026-12-07T14:00:00Z"},
		{"always open", Always(), tokyo, "2026-12-05T03:17:00Z", "2026-12-05T03:17:00Z"},
		{"end 24:00 includes late evening", Window{Start: "20:00", End: "24:00", Days: []string{"sun"}}, london, "2026-12-06T23:30:00Z", "2026-12-06T23:30:00Z"},
		// New York springs forward on 2027-03-14 (02:00 → 03:00) and falls back on 2026-11-01.
		{"before spring forward", business, newYork, "2027-03-12T22:30:00Z", "2027-03-15T13:00:00Z"},
		{"after fall back", business, newYork, "2026-10-31T12:00:00Z", "2026-11-02T14:00:00Z"},
		{"a window opening in the skipped hour", Window{Start: "02:30", End: "04:00", Days: []string{"sun"}}, newYork, "2027-03-14T05:00:00Z", "2027-03-14T07:30:00Z"},
		{"london summer time", business, london, "2027-06-01T07:30:00Z", "2027-06-01T08:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now, _ := time.Parse(time.RFC3339, tt.now)
			want, _ := time.Parse(time.RFC3339, tt.want)
			got := tt.window.Next(now, tt.loc)
			if !got.Equal(want) {
				t.Fatalf("Next(%s) = %s, want %s", tt.now, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestWindowCheck(t *testing.T) {
	tests := []struct {
		w     Window
		field string
	}{
		{BusinessHours(), ""},
		{Always(), ""},
		{Window{Start: "9:00", End: "17:00", Days: []string{"mon"}}, "start"},
		{Window{Start: "09:00", End: "24:30", Days: []string{"mon"}}, "end"},
		{Window{Start: "17:00", End: "09:00", Days: []string{"mon"}}, "end"},
		{Window{Start: "09:00", End: "17:00"}, "days"},
		{Window{Start: "09:00", End: "17:00", Days: []string{"monday"}}, "days"},
	}
	for _, tt := range tests {
		if field, _ := tt.w.Check(); field != tt.field {
			t.Errorf("%+v: field %q, want %q", tt.w, field, tt.field)
		}
	}
}
