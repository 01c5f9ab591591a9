package activities_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// BenchmarkDuplicateWindow measures what remains of the duplicate window: the time from
// SendGrid's answer to the sent mark committed in PostgreSQL (MarkEmailSent, the only work
// deliver does in between). A crash inside it leaves the retry to the provider events; it
// reports the median and the 99th percentile besides the mean.
func BenchmarkDuplicateWindow(b *testing.B) {
	st := storetest.New(b)
	ctx := context.Background()
	windows := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		key := fmt.Sprintf("collab-bench/outreach/%d", i)
		if _, err := st.BeginEmail(ctx, store.Email{MessageKey: key, CollaborationID: "collab-bench", Step: 1,
			ToEmail: "ada@example.com", FromEmail: "c@acme.test", Subject: "s", BodyText: "t"}); err != nil {
			b.Fatal(err)
		}
		if err := st.MarkSendAttempt(ctx, key, time.Now()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		accepted := time.Now()
		if _, err := st.MarkEmailSent(ctx, key, "msg-"+key, accepted); err != nil {
			b.Fatal(err)
		}
		windows = append(windows, time.Since(accepted))
	}
	slices.Sort(windows)
	b.ReportMetric(float64(windows[len(windows)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(windows[len(windows)*99/100].Microseconds())/1000, "p99-ms")
}
