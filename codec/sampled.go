package codec

import (
	"log/slog"
	"sync"
	"time"
)

// SampledLog writes one warning per interval and counts the others, so that whoever can
// make a refusal happen (an unauthenticated caller, a forged payload) cannot flood the
// log: the first refusal is logged at once, later ones in the same interval only as the
// count the next line carries.
type SampledLog struct {
	logger   *slog.Logger
	interval time.Duration
	mu       sync.Mutex
	last     time.Time
	skipped  int
	total    int
}

// NewSampledLog logs to logger at most once per interval; a nil logger logs nothing.
func NewSampledLog(logger *slog.Logger, interval time.Duration) *SampledLog {
	return &SampledLog{logger: logger, interval: interval}
}

// Log writes msg with attrs, the number of refusals left out since the last line and the
// total so far, or only counts it when a line went out less than an interval ago. A nil
// SampledLog does nothing.
func (l *SampledLog) Log(msg string, attrs ...any) {
	if l == nil || l.logger == nil {
		return
	}
	l.mu.Lock()
	l.total++
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.skipped++
		l.mu.Unlock()
		return
	}
	skipped, total := l.skipped, l.total
	l.last, l.skipped = now, 0
	l.mu.Unlock()
	l.logger.Warn(msg, append(attrs, "not_logged_since_last", skipped, "total", total)...)
}

// truncate cuts s to at most n bytes: a sender's string in a log line stays short.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
