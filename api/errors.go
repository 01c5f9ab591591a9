package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"

	"github.com/collabflow/collabflow/store"
)

// Error is the JSON body of every error response.
type Error struct {
	Status int               `json:"-"`
	Msg    string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Msg
	}
	return fmt.Sprintf("%s: %v", e.Msg, e.Fields)
}

func badRequest(field, why string) *Error {
	return &Error{Status: http.StatusBadRequest, Msg: "invalid request", Fields: map[string]string{field: why}}
}

func invalid(fields map[string]string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Msg: "validation failed", Fields: fields}
}

func notFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Msg: what + " not found"}
}

func conflict(msg string) *Error {
	return &Error{Status: http.StatusConflict, Msg: msg}
}

// errorHandler is the one place errors become responses. Expected errors carry their
// status; anything else is logged with the request ID and answered with a bare 500 so
// internals do not leak.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var (
		apiErr  *Error
		httpErr *echo.HTTPError
		taken   *store.ConflictError
	)
	switch {
	case errors.As(err, &apiErr):
	case errors.As(err, &taken):
		apiErr = &Error{Status: http.StatusConflict, Msg: "already exists", Fields: map[string]string{taken.Field: taken.Message}}
	case errors.Is(err, store.ErrNotFound):
		apiErr = notFound("resource")
	case errors.Is(err, store.ErrConflict):
		// A unique constraint no field is mapped to: the request clashes with stored
		// data, which is the client's to resolve, not a server fault. The constraint's
		// name is a schema detail and stays in the log.
		s.logger.Info("request conflicts with stored data", "method", c.Request().Method, "path", c.Path(),
			"request_id", requestID(c), "err", err)
		apiErr = conflict("conflicts with an existing record")
	case tooLarge(err):
		apiErr = errTooLarge()
	case errors.As(err, &httpErr):
		apiErr = &Error{Status: httpErr.Code, Msg: strings.ToLower(http.StatusText(httpErr.Code))}
		if m, ok := httpErr.Message.(string); ok {
			apiErr.Msg = m
		}
	case unavailable(err):
		// PostgreSQL or Temporal is down for a moment (a restart, a failover): the
		// client should retry, with its Idempotency-Key for changes.
		s.logger.Warn("dependency unavailable", "method", c.Request().Method, "path", c.Path(),
			"request_id", requestID(c), "err", err)
		c.Response().Header().Set("Retry-After", "5")
		apiErr = &Error{Status: http.StatusServiceUnavailable, Msg: "temporarily unavailable; retry shortly"}
	default:
		s.logger.Error("request failed", "method", c.Request().Method, "path", c.Path(),
			"request_id", requestID(c), "err", err)
		apiErr = &Error{Status: http.StatusInternalServerError, Msg: "internal error"}
	}
	switch {
	case c.Request().Method == http.MethodHead:
		err = c.NoContent(apiErr.Status)
	case consolePath(c.Request().URL.Path):
		err = s.consoleError(c, apiErr)
	default:
		err = c.JSON(apiErr.Status, apiErr)
	}
	if err != nil {
		s.logger.Warn("write error response", "err", err)
	}
}

// decode reads a JSON body into v, refusing unknown fields and trailing data, and says
// which field was wrong when it can.
func decode(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// More() is false before a stray '}' or ']', so the rest is read as a token: only
		// whitespace up to the end of the body (io.EOF) is allowed after the value.
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			if tooLarge(err) {
				return errTooLarge()
			}
			return badRequest("body", "must hold one JSON object and nothing after it")
		}
		if field := controlIn(reflect.ValueOf(v), ""); field != "" {
			return invalid(map[string]string{field: hasControl})
		}
		return nil
	}
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("body", "a JSON object is required")
	case tooLarge(err):
		return errTooLarge()
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("body", "malformed JSON")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return badRequest(field, "must be "+jsonKind(typeErr.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(name, "unknown field")
	}
	return badRequest("body", err.Error())
}

// errTooLarge is the answer to a body over its route's limit.
func errTooLarge() *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Msg: "body too large"}
}

// tooLarge reports a body read that stopped at a size limit: http.MaxBytesReader's error,
// or the 413 Echo's BodyLimit middleware answers up front for a long Content-Length and
// returns from Read for a chunked body that grows past the limit. The latter reaches
// handlers as a read error, so without this it would be reported as malformed input.
func tooLarge(err error) bool {
	var (
		maxBytes *http.MaxBytesError
		httpErr  *echo.HTTPError
	)
	return errors.As(err, &maxBytes) || (errors.As(err, &httpErr) && httpErr.Code == http.StatusRequestEntityTooLarge)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int32", "int64", "uint", "uint64", "float64", "float32":
		return "a number"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "a list"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}

// unavailable reports an error that says a dependency could not be reached, rather than
// that it refused the request: a PostgreSQL connection that failed, or Temporal answering
// Unavailable.
func unavailable(err error) bool {
	var (
		connect *pgconn.ConnectError
		down    *serviceerror.Unavailable
	)
	return errors.As(err, &connect) || errors.As(err, &down)
}

// controlIn returns the JSON path of the first string in v holding a NUL or another
// control character (line breaks and tabs are text), "" when there is none. Such bytes
// have no place in names, reasons or captions, and PostgreSQL refuses NUL outright.
func controlIn(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return controlIn(v.Elem(), path)
	case reflect.String:
		if strings.ContainsFunc(v.String(), controlChar) {
			return cmp.Or(path, "body")
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if f.Anonymous && f.Tag.Get("json") == "" {
				name = ""
			}
			if p := controlIn(v.Field(i), joinPath(path, name)); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if p := controlIn(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			key := fmt.Sprint(iter.Key().Interface())
			if p := controlIn(iter.Key(), joinPath(path, key)); p != "" {
				return p
			}
			if p := controlIn(iter.Value(), joinPath(path, key)); p != "" {
				return p
			}
		}
	}
	return ""
}

func joinPath(path, name string) string {
	switch {
	case name == "":
		return path
	case path == "":
		return name
	}
	return path + "." + name
}

// refused reports whether err is a definite refusal of a change (a 4xx answer, such as
// the workflow's validator saying no): nothing was applied, so what the request stored
// beforehand can be removed. A 503 or a lost answer is not: the change may have landed.
func refused(err error) bool {
	var apiErr *Error
	return errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500
}
