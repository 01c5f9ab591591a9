package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.temporal.io/api/serviceerror"

	"github.com/collabflow/collabflow/store"
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

// TestErrorHandlerMapping: errors the handlers return become the JSON error shape with
// the right status; a unique violation with no field mapping is a 409, not a 500 (I10),
// and Echo's own 413 is answered like ours.
func TestErrorHandlerMapping(t *testing.T) {
	s := &Server{logger: slog.New(slog.DiscardHandler)}
	e := echo.New()
	for _, tc := range []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{"unmapped unique violation", fmt.Errorf("save creator: %w", fmt.Errorf("%w: creators_some_key", store.ErrConflict)), 409,
			`{"error":"conflicts with an existing record"}`},
		{"mapped unique violation", &store.ConflictError{Field: "email", Message: "already registered"}, 409,
			`{"error":"already exists","fields":{"email":"already registered"}}`},
		{"not found", fmt.Errorf("load: %w", store.ErrNotFound), 404, `{"error":"resource not found"}`},
		{"echo body limit", echo.ErrStatusRequestEntityTooLarge, 413, `{"error":"body too large"}`},
		{"echo method not allowed", echo.ErrMethodNotAllowed, 405, `{"error":"Method Not Allowed"}`},
		{"api error", badRequest("body", "malformed JSON"), 400, `{"error":"invalid request","fields":{"body":"malformed JSON"}}`},
		{"anything else", errors.New("pq: secret detail"), 500, `{"error":"internal error"}`},
	} {
		rec := httptest.NewRecorder()
		s.errorHandler(tc.err, e.NewContext(httptest.NewRequest(http.MethodPost, "/", nil), rec))
		if rec.Code != tc.status || strings.TrimSpace(rec.Body.String()) != tc.body {
			t.Errorf("%s: %d %s, want %d %s", tc.name, rec.Code, rec.Body, tc.status, tc.body)
		}
	}
}

// TestDecode: one JSON object and only whitespace after it; anything trailing, even a
// lone '}' (which json.Decoder.More does not see), is a 400 naming body (I4). A body over
// the route's limit is a 413 in the JSON error shape whether its Content-Length said so or
// it arrived chunked (Echo's BodyLimit fails the read then).
func TestDecode(t *testing.T) {
	type in struct {
		Name string `json:"name"`
	}
	s := &Server{logger: slog.New(slog.DiscardHandler)}
	e := echo.New()
	e.HTTPErrorHandler = s.errorHandler
	e.POST("/", func(c echo.Context) error {
		var v in
		if err := decode(c, &v); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}, middleware.BodyLimit("1K"))
	big := `{"name":"` + strings.Repeat("a", 2048) + `"}`
	for _, tc := range []struct {
		name    string
		body    string
		chunked bool
		status  int
		want    string
	}{
		{"object", `{"name":"Ada"}`, false, 200, `{"name":"Ada"}`},
		{"trailing whitespace", "{\"name\":\"Ada\"} \n\t\r\n", false, 200, `{"name":"Ada"}`},
		{"trailing brace", `{"name":"Ada"}}`, false, 400, `{"error":"invalid request","fields":{"body":"must hold one JSON object and nothing after it"}}`},
		{"trailing bracket", `{"name":"Ada"}]`, false, 400, `{"error":"invalid request","fields":{"body":"must hold one JSON object and nothing after it"}}`},
		{"second object", `{"name":"Ada"} {"name":"Bo"}`, false, 400, `{"error":"invalid request","fields":{"body":"must hold one JSON object and nothing after it"}}`},
		{"trailing garbage", `{"name":"Ada"}x`, false, 400, `{"error":"invalid request","fields":{"body":"must hold one JSON object and nothing after it"}}`},
		{"trailing NUL", "{\"name\":\"Ada\"}\x00", false, 400, `{"error":"invalid request","fields":{"body":"must hold one JSON object and nothing after it"}}`},
		{"empty", ``, false, 400, `{"error":"invalid request","fields":{"body":"a JSON object is required"}}`},
		{"too large by Content-Length", big, false, 413, `{"error":"body too large"}`},
		{"too large, chunked", big, true, 413, `{"error":"body too large"}`},
		{"too large after the object, chunked", `{"name":"Ada"}` + strings.Repeat(" ", 2048), true, 413, `{"error":"body too large"}`},
	} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		if tc.chunked {
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tc.status || strings.TrimSpace(rec.Body.String()) != tc.want {
			t.Errorf("%s: %d %s, want %d %s", tc.name, rec.Code, rec.Body, tc.status, tc.want)
		}
	}
}
