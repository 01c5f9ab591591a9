package outreach

import (
	"testing"
	"time"
)

// BenchmarkNext is the send-window computation each outreach email waits on, across a
// weekend in a zone with daylight-saving time.
func BenchmarkNext(b *testing.B) {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		b.Fatal(err)
	}
	w := BusinessHours()
	at := time.Date(2027, 3, 12, 22, 30, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		_ = w.Next(at, loc)
	}
}
