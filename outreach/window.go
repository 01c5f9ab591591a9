// Package outreach holds the pure rules of the email outreach sequence: when an email may
// go out (send windows in the creator's time zone) and what it says (templates). It does
// no I/O, so workflows, activities and the API share it.
package outreach

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Window is when emails may reach a creator: local clock times on chosen weekdays, in the
// creator's time zone. End "24:00" means midnight at the end of the day.
type Window struct {
	Start string   `json:"start"`
	End   string   `json:"end"`
	Days  []string `json:"days"`
}

// Weekdays are the names Window.Days accepts, Sunday first as time.Weekday counts.
var Weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// BusinessHours is the default window: 09:00–17:00, Monday to Friday.
func BusinessHours() Window {
	return Window{Start: "09:00", End: "17:00", Days: []string{"mon", "tue", "wed", "thu", "fri"}}
}

// Always is the window that never waits.
func Always() Window {
	return Window{Start: "00:00", End: "24:00", Days: slices.Clone(Weekdays)}
}

// ParseClock reads "HH:MM" (00:00 to 24:00) as minutes after midnight.
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return hh*60 + mm, nil
}

// Check reports what is wrong with a window, naming the field.
func (w Window) Check() (field, why string) {
	start, err := ParseClock(w.Start)
	if err != nil {
		return "start", "must be a time of day as HH:MM"
	}
	end, err := ParseClock(w.End)
	if err != nil {
		return "end", "must be a time of day as HH:MM (24:00 for midnight)"
	}
	if end <= start {
		return "end", "must be after start"
	}
	if len(w.Days) == 0 || len(w.Days) > 7 {
		return "days", "one to seven of mon, tue, wed, thu, fri, sat, sun"
	}
	for i, d := range w.Days {
		if !slices.Contains(Weekdays, d) || slices.Contains(w.Days[:i], d) {
			return "days", "one to seven of mon, tue, wed, thu, fri, sat, sun, each once"
		}
	}
	return "", ""
}

// Next is the earliest instant at or after t inside the window, in loc's local time.
// A window that fails Check opens at t.
func (w Window) Next(t time.Time, loc *time.Location) time.Time {
	if field, _ := w.Check(); field != "" {
		return t
	}
	start, _ := ParseClock(w.Start)
	end, _ := ParseClock(w.End)
	local := t.In(loc)
	y, m, d := local.Date()
	// Eight days: today, and a full week after it, always holds an allowed day.
	for i := range 8 {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, loc)
		if !slices.Contains(w.Days, Weekdays[day.Weekday()]) {
			continue
		}
		opens := clockTime(y, m, d+i, start, loc)
		closes := clockTime(y, m, d+i, end, loc)
		switch {
		case t.Before(opens):
			return opens
		case t.Before(closes):
			return t
		}
	}
	return t
}

// clockTime is the instant the local clock shows minutes after midnight on a day. A time
// that a daylight-saving change skips becomes the same clock reading after the change
// (02:30 on a spring-forward night is 03:30), never a time before the window.
func clockTime(y int, m time.Month, d, minutes int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, minutes/60, minutes%60, 0, 0, loc)
	if minutes == 24*60 {
		return t
	}
	if got := t.Hour()*60 + t.Minute(); got != minutes {
		_, before := t.Zone()
		_, after := t.Add(3 * time.Hour).Zone()
		t = t.Add(time.Duration(after-before) * time.Second)
	}
	return t
}
