package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"
)

// A dependency that is down for a moment is a 503 with Retry-After, not a 500.
func TestUnavailableDependencyIs503(t *testing.T) {
	s := &Server{logger: slog.New(slog.DiscardHandler)}
	e := echo.New()
	for name, tc := range map[string]struct {
		err  error
		want int
	}{
		"temporal unavailable": {fmt.Errorf("query: %w", serviceerror.NewUnavailable("frontend restarting")), http.StatusServiceUnavailable},
		"other":                {fmt.Errorf("boom"), http.StatusInternalServerError},
	} {
		rec := httptest.NewRecorder()
		s.errorHandler(tc.err, e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec))
		if rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", name, rec.Code, tc.want)
		}
		if tc.want == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", name)
		}
	}
}
