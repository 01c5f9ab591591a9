package bench

import (
	"math"
	"slices"
	"time"
)

// durations summarises a sample of durations in seconds.
type durations struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_s"`
	P90 float64 `json:"p90_s"`
	P99 float64 `json:"p99_s"`
	Max float64 `json:"max_s"`
}

// summarise sorts a copy of ds and reads its percentiles (nearest rank).
func summarise(ds []time.Duration) durations {
	if len(ds) == 0 {
		return durations{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))].Seconds()
	}
	return durations{N: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1].Seconds()}
}

// median is the middle value of xs (the lower of the two middle ones).
func median(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
