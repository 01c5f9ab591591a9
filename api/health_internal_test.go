package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestReadyCache (review L-N5): a flood of /readyz runs one check per cache period, not
// one per request. The clock is the test's, so nothing depends on how fast it runs.
func TestReadyCache(t *testing.T) {
	var (
		mu     sync.Mutex
		checks int
	)
	fake := func(context.Context) (int, ReadyAnswer) {
		mu.Lock()
		defer mu.Unlock()
		checks++
		return http.StatusOK, ReadyAnswer{Status: "OK", Checks: map[string]string{}, Failed: []string{}, Degraded: []string{}}
	}
	now := time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC)
	var clock sync.Mutex
	c := NewReadyCache(fake, ReadyTTL)
	c.now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	flood := func() {
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				c.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
				if rec.Code != http.StatusOK {
					t.Errorf("readyz %d", rec.Code)
				}
			})
		}
		wg.Wait()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return checks }
	flood()
	if n := count(); n != 1 {
		t.Fatalf("200 requests in one period ran %d checks, want 1", n)
	}
	clock.Lock()
	now = now.Add(ReadyTTL - time.Millisecond)
	clock.Unlock()
	flood()
	if n := count(); n != 1 {
		t.Fatalf("within the period: %d checks, want 1", n)
	}
	clock.Lock()
	now = now.Add(time.Millisecond)
	clock.Unlock()
	flood()
	if n := count(); n != 2 {
		t.Fatalf("after the period: %d checks, want 2", n)
	}
}
