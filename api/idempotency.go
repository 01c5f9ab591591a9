package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/store"
)

// IdempotencyHeader is the header a client names a change with, so that repeating the
// request (after a timeout, a 202, a restart) never applies the change twice.
const IdempotencyHeader = "Idempotency-Key"

// maxIdempotencyKey bounds a client's key; UUIDs and operation names fit easily.
const maxIdempotencyKey = 200

// maxStoredAnswer bounds an answer kept for repeats; a collaboration's state is far smaller.
const maxStoredAnswer = 4 << 20

// saveTimeout bounds storing an answer after it was sent.
const saveTimeout = 5 * time.Second

const scopedKeyKey = "collabflow.idempotency"

// scopedKey is the request's scoped idempotency key, empty when it carried none.
func scopedKey(c echo.Context) string {
	k, _ := c.Get(scopedKeyKey).(string)
	return k
}

// keyIdentity names the caller an Idempotency-Key belongs to: the API key's name.
func keyIdentity(c echo.Context) string { return "key:" + actor(c).Name }

// linkIdentity names the holder of a portal link: the link's token, hashed.
func linkIdentity(c echo.Context) string {
	sum := sha256.Sum256([]byte(c.Param("token")))
	return "link:" + hex.EncodeToString(sum[:])
}

// idempotent scopes a client's Idempotency-Key to the caller (identity) and the method and
// path, so no caller can pre-claim another's key and one key never crosses routes; the
// scoped key is the workflow update's ID. A repeat with the same body gets the first final
// answer verbatim (stored in PostgreSQL, so it survives Continue-As-New, which resets
// Temporal's update deduplication, and API restarts); the same key with another body is a
// 422. A 202 is not final (unless the handler says so: finalAnswerKey): its repeat asks
// Temporal again with the same update ID.
// Only 2xx answers are stored: a refusal changed nothing, so a repeat is judged afresh.
func (s *Server) idempotent(identity func(echo.Context) string) echo.MiddlewareFunc {
	return s.idempotentAs(identity, nil)
}

// idempotentAs is idempotent with another answer to a repeat: with repeat set, an answer's
// body is not stored (only its status and headers), and a repeat of a final answer is
// repeat's answer to that status. The portal's answers quote what the creator typed (the
// signature name), which must not outlive the request in PostgreSQL.
func (s *Server) idempotentAs(identity func(echo.Context) string, repeat func(echo.Context, int) error) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			values := c.Request().Header.Values(IdempotencyHeader)
			if len(values) == 0 {
				return next(c)
			}
			if len(values) > 1 {
				return badRequest(IdempotencyHeader, "send it once")
			}
			key := values[0]
			if !validIdempotencyKey(key) {
				return badRequest(IdempotencyHeader, "1 to 200 printable ASCII characters")
			}
			bodySum, err := bodyDigest(c)
			if err != nil {
				return err
			}
			route := c.Request().Method + " " + c.Request().URL.EscapedPath()
			sum := sha256.Sum256([]byte(identity(c) + "\x00" + route + "\x00" + key))
			scoped := hex.EncodeToString(sum[:])

			ctx := c.Request().Context()
			prior, err := s.store.IdempotentAnswer(ctx, scoped)
			switch {
			case err == nil && prior.BodySHA256 != bodySum:
				return invalid(map[string]string{IdempotencyHeader: "already used for a request with another body"})
			case err == nil && prior.Final:
				c.Response().Header().Set("Idempotent-Replayed", "true")
				if prior.Location != "" {
					c.Response().Header().Set(echo.HeaderLocation, prior.Location)
				}
				if repeat != nil {
					return repeat(c, prior.Status)
				}
				return c.Blob(prior.Status, prior.ContentType, prior.Body)
			case err != nil && !errors.Is(err, store.ErrNotFound):
				return err
			}

			c.Set(scopedKeyKey, scoped)
			tee := &teeWriter{ResponseWriter: c.Response().Writer}
			c.Response().Writer = tee
			if err := next(c); err != nil {
				c.Error(err) // answer now, so the status and body are known here
			}
			status := c.Response().Status
			if status < 200 || status > 299 || tee.over {
				return nil
			}
			final := status != http.StatusAccepted || c.Get(finalAnswerKey) == true
			answer := store.IdempotentAnswer{Key: scoped, Route: storedRoute(c), CollaborationID: answerCollaboration(c),
				BodySHA256: bodySum, Final: final, Status: status, ContentType: c.Response().Header().Get(echo.HeaderContentType),
				Location: c.Response().Header().Get(echo.HeaderLocation), Body: tee.buf.Bytes()}
			if repeat != nil {
				answer.Body = nil
			}
			// The answer is sent: keep it even if the client has gone or the request's
			// deadline passed meanwhile.
			saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
			defer cancel()
			if err := s.store.SaveIdempotentAnswer(saveCtx, answer); err != nil {
				// The change is made and answered; a repeat without the row asks Temporal
				// again, which deduplicates within the run.
				s.logger.Warn("store idempotent answer", "route", answer.Route, "err", err)
			}
			return nil
		}
	}
}

// storedRoute is the request's method and path as a stored answer keeps it: a portal
// link's token, a credential, is replaced by its short hash.
func storedRoute(c echo.Context) string {
	route := c.Request().URL.EscapedPath()
	if token := c.Param("token"); token != "" {
		route = strings.Replace(c.Path(), ":token", "link:"+linkHash(token), 1)
	}
	return c.Request().Method + " " + route
}

// answerCollaborationKey, set by a handler to a collaboration's ID, names the collaboration
// its answer is about when the path does not (a portal link).
const answerCollaborationKey = "idempotent_collaboration"

// answerCollaboration is the collaboration a stored answer is about, "" for none: the one
// the handler named, else the one in a /v1/collaborations/{id} path.
func answerCollaboration(c echo.Context) string {
	if id, ok := c.Get(answerCollaborationKey).(string); ok && id != "" {
		return id
	}
	if !strings.HasPrefix(c.Path(), "/v1/collaborations/:id") {
		return ""
	}
	id, _ := canonicalCollaborationID(c.Param("id"))
	return id
}

// finalAnswerKey, set true by a handler, marks its 202 as final: the request's work is
// handed over for good (a launch), and a repeat must get the same answer, not do it again.
const finalAnswerKey = "idempotent_final"

// validIdempotencyKey accepts 1 to 200 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// bodyDigest is the hex SHA-256 of what the request asks: the raw body (put back for the
// handler), or for forms the fields without the CSRF token, which changes per page load.
func bodyDigest(c echo.Context) (string, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if strings.HasPrefix(ct, echo.MIMEApplicationForm) || strings.HasPrefix(ct, echo.MIMEMultipartForm) {
		form, err := c.FormParams()
		if tooLarge(err) {
			return "", errTooLarge()
		} else if err != nil {
			return "", badRequest("body", "malformed form")
		}
		form.Del("_csrf")
		sum := sha256.Sum256([]byte(form.Encode()))
		return hex.EncodeToString(sum[:]), nil
	}
	body, err := io.ReadAll(c.Request().Body)
	switch {
	case tooLarge(err):
		return "", errTooLarge()
	case err != nil:
		return "", badRequest("body", "could not be read")
	}
	c.Request().Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]), nil
}

// teeWriter keeps a copy of what a handler writes, up to maxStoredAnswer.
type teeWriter struct {
	http.ResponseWriter
	buf  bytes.Buffer
	over bool
}

func (w *teeWriter) Write(b []byte) (int, error) {
	if !w.over {
		if w.buf.Len()+len(b) > maxStoredAnswer {
			w.over = true
			w.buf = bytes.Buffer{}
		} else {
			w.buf.Write(b)
		}
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer (flush, deadlines).
func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
