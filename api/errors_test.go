package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
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

// NUL and other control characters are refused in every text field, named by JSON path;
// line breaks and tabs are text (security review L4).
func TestControlCharactersAreFound(t *testing.T) {
	type inner struct {
		Handle string `json:"handle"`
	}
	type body struct {
		Name    string            `json:"name"`
		Caption string            `json:"caption"`
		Assets  []string          `json:"assets"`
		Handles map[string]string `json:"handles"`
		Inner   *inner            `json:"inner,omitempty"`
	}
	for _, tc := range []struct {
		in   body
		want string
	}{
		{body{Name: "Ada", Caption: "line one\nline two\t#ad"}, ""},
		{body{Name: "Ada\x00"}, "name"},
		{body{Assets: []string{"https://a.test", "https://b.test/\x1b[31m"}}, "assets[1]"},
		{body{Handles: map[string]string{"instagram": "ada\x07"}}, "handles.instagram"},
		{body{Inner: &inner{Handle: "x\x7f"}}, "inner.handle"},
	} {
		if got := controlIn(reflect.ValueOf(&tc.in), ""); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.in, got, tc.want)
		}
	}
}
