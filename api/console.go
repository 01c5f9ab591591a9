package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/collabflow/collabflow/workflows"
)

// The ops console: server-rendered pages under /console for people holding an API key.
// It lives in package api, not a package of its own, because its actions are the API's
// own handlers served through the same Echo instance (dispatch), and its sign-in is the
// API's key check (keyFor): a separate package would need both exported for it alone.

//go:embed console/templates/*.html
var consoleTemplateFS embed.FS

//go:embed console/static
var consoleStaticFS embed.FS

// consoleFuncs are the helpers the console's templates call.
var consoleFuncs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	},
	// inc numbers the next of a list: post 1 when none was submitted.
	"inc":      func(n int) int { return n + 1 },
	"money":    formatMoney,
	"duration": formatDuration,
	"label":    func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	// dict passes several values to a shared template: the page, the form's name.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
}

// consolePages are the console's templates, each page parsed with the shared layout.
var consolePages = func() map[string]*template.Template {
	pages := map[string]*template.Template{}
	names, err := fs.Glob(consoleTemplateFS, "console/templates/*.html")
	if err != nil {
		panic(err) // a constant pattern
	}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "console/templates/"), ".html")
		if base == "layout" {
			continue
		}
		pages[base] = template.Must(template.New("layout.html").Funcs(consoleFuncs).
			ParseFS(consoleTemplateFS, "console/templates/layout.html", name))
	}
	return pages
}()

// consoleCSP is the console pages' Content-Security-Policy: the embedded style sheet and
// script from this site only, nothing inline (no style or script attributes either), forms
// posting only here, no framing and no <base>.
const consoleCSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// consoleCookie holds the sealed session.
const consoleCookie = "collabflow_console"

// consoleSessionTTL is how long a sign-in lasts: a working day. The session is sealed, not
// stored, so signing out clears the browser's cookie but a copy taken before stays valid
// until it expires; removing the key from COLLABFLOW_API_KEYS ends every session of it.
const consoleSessionTTL = 8 * time.Hour

// session is a signed-in console user: the key they signed in with.
type session struct {
	key     *Key
	nonce   string
	expires time.Time
	// csrf is the session's form token: every console POST must carry it.
	csrf string
}

const sessionKey = "collabflow.console.session"

// consoleSession is the request's session; the console's session middleware sets it.
func consoleSession(c echo.Context) *session {
	sess, _ := c.Get(sessionKey).(*session)
	return sess
}

// sealKey is the MAC key of a session of k: derived from the key's secret, so the cookie
// never holds the secret, and rotating or removing the key ends its sessions.
func sealKey(k *Key) []byte {
	sum := sha256.Sum256([]byte("collabflow console session\x00" + k.Secret))
	return sum[:]
}

// seal is the cookie value of a session: name|expiry|nonce and its HMAC, base64url.
func seal(k *Key, expires time.Time, nonce string) string {
	payload := k.Name + "|" + strconv.FormatInt(expires.Unix(), 10) + "|" + nonce
	mac := hmac.New(sha256.New, sealKey(k))
	mac.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// csrfToken is a session's form token: an HMAC of its nonce, so it needs no storage.
func csrfToken(k *Key, nonce string) string {
	mac := hmac.New(sha256.New, sealKey(k))
	mac.Write([]byte("csrf|" + nonce))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// openSession checks a cookie value: its MAC (constant time), its key and its expiry.
func (s *Server) openSession(value string, now time.Time) (*session, bool) {
	p64, m64, ok := strings.Cut(value, ".")
	if !ok {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil {
		return nil, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(m64)
	if err != nil {
		return nil, false
	}
	parts := strings.Split(string(payload), "|")
	if len(parts) != 3 {
		return nil, false
	}
	var k *Key
	for i := range s.keys {
		if s.keys[i].Name == parts[0] {
			k = &s.keys[i]
		}
	}
	if k == nil {
		return nil, false
	}
	want := hmac.New(sha256.New, sealKey(k))
	want.Write(payload)
	if !hmac.Equal(mac, want.Sum(nil)) {
		return nil, false
	}
	unix, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !now.Before(time.Unix(unix, 0)) {
		return nil, false
	}
	return &session{key: k, nonce: parts[2], expires: time.Unix(unix, 0), csrf: csrfToken(k, parts[2])}, true
}

// secureRequest says whether the session cookie must be Secure: the public URL is https
// (the same decision as HSTS) or this request came over https.
func (s *Server) secureRequest(c echo.Context) bool {
	return s.secureCookies || c.Scheme() == "https"
}

func (s *Server) setSessionCookie(c echo.Context, value string, expires time.Time) {
	maxAge := int(time.Until(expires).Seconds())
	if value == "" {
		maxAge = -1
	}
	c.SetCookie(&http.Cookie{Name: consoleCookie, Value: value, Path: "/console", Expires: expires, MaxAge: maxAge,
		HttpOnly: true, Secure: s.secureRequest(c), SameSite: http.SameSiteStrictMode})
}

// requireSession admits a request with a valid session cookie and, for a POST, the
// session's CSRF token in the form (compared in constant time). A page without a session
// redirects to the sign-in form; a form without its token is refused.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Cookie(consoleCookie)
		var sess *session
		if err == nil {
			sess, _ = s.openSession(ck.Value, time.Now())
		}
		if sess == nil {
			return c.Redirect(http.StatusSeeOther, "/console/sign-in")
		}
		if c.Request().Method == http.MethodPost && !hmac.Equal([]byte(formCSRF(c)), []byte(sess.csrf)) {
			return s.consolePage(c, http.StatusForbidden, "message", consoleData{Title: "Form expired",
				Error: "This form was not sent from your console session. Go back, reload the page and try again."})
		}
		c.Set(sessionKey, sess)
		// The request log names who looked; dispatched API calls record their own actor.
		c.Set(actorKey, workflows.Actor{Name: sess.key.Name, Role: sess.key.Role, RequestID: requestID(c)})
		return next(c)
	}
}

// formCSRF is a form's CSRF token (console and portal), read from the POST body only:
// a token in a URL ends up in logs and browser history, and c.FormValue would also take
// it from the query string.
func formCSRF(c echo.Context) string {
	return c.Request().PostFormValue("_csrf")
}

// noListing serves files with h and answers 404 for a directory, which http.FileServer
// would list.
func noListing(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// consoleRoutes serves the console. Pages authenticate by the session cookie; static
// assets are public (they hold nothing but the style sheet and script).
func (s *Server) consoleRoutes(e *echo.Echo, limitIP echo.MiddlewareFunc) {
	static, err := fs.Sub(consoleStaticFS, "console/static")
	if err != nil {
		panic(err) // the embedded directory exists
	}
	headers := middleware.SecureWithConfig(middleware.SecureConfig{ContentSecurityPolicy: consoleCSP})
	e.GET("/console/static/*", echo.WrapHandler(http.StripPrefix("/console/static/", noListing(http.FileServer(http.FS(static))))), headers)

	// Sign-in attempts count against the client's address like unauthenticated API calls.
	open := e.Group("/console", headers, noStore, limitIP, middleware.BodyLimit("64K"))
	open.GET("/sign-in", s.signInForm)
	open.POST("/sign-in", s.signIn)
	con := e.Group("/console", headers, noStore, limitIP, middleware.BodyLimit("64K"), s.requireSession)
	con.POST("/sign-out", s.signOut)
	con.GET("", s.campaignList)
	con.GET("/campaigns/:id", s.campaignBoard)
	con.GET("/campaigns/:id/report", s.campaignReportPage)
	con.POST("/campaigns/:id/bulk", s.boardBulk)
	con.POST("/campaigns/:id/start", s.boardStart)
	con.GET("/collaborations/:id", s.collaborationPage)
	con.POST("/collaborations/:id/:action", s.collaborationAction)
	con.GET("/reviews", s.reviewQueue)
	con.GET("/payouts", s.payoutQueue)
	con.POST("/payouts/:id/confirm", s.confirmPayoutForm)
}

// consolePath says whether a request is for a console page, whose errors the error
// handler answers as a page (consoleError) rather than JSON.
func consolePath(path string) bool {
	return (path == "/console" || strings.HasPrefix(path, "/console/")) && !strings.HasPrefix(path, "/console/static/")
}

// consoleError answers a console page's error (a refusal, a rate limit, an unknown page)
// as a page a person can read and leave, with the error handler's status and words.
func (s *Server) consoleError(c echo.Context, e *Error) error {
	return s.consolePage(c, e.Status, "message", consoleData{Title: http.StatusText(e.Status), Error: e.Msg, Fields: e.Fields})
}

// noStore keeps console pages out of caches: they show personal data behind a session.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

// consoleData is what every console template gets; Page carries the page's own data.
type consoleData struct {
	Title string
	// Role and Name are the signed-in key's; empty on the sign-in form.
	Role, Name string
	CSRF       string
	// Error is a message for the whole page; Fields are a form's refusals by field.
	Error  string
	Fields map[string]string
	// Notice says what an action just did.
	Notice string
	Page   any
}

// Can reports whether the signed-in role may take actions of the given kind; the API
// refuses the others anyway, this only spares people buttons that cannot work.
func (d consoleData) Can(what string) bool {
	switch what {
	case "ops":
		return d.Role == RoleOps
	case "review":
		return d.Role == RoleOps || d.Role == RoleReviewer
	case "finance":
		return d.Role == RoleFinance
	case "payouts":
		return slices.Contains(payoutReaders, d.Role)
	}
	return false
}

// consolePage renders a page with the layout and the session's name, role and token.
func (s *Server) consolePage(c echo.Context, status int, name string, d consoleData) error {
	if sess := consoleSession(c); sess != nil {
		d.Role, d.Name, d.CSRF = sess.key.Role, sess.key.Name, sess.csrf
	}
	t, ok := consolePages[name]
	if !ok {
		return fmt.Errorf("console page %q not found", name)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return fmt.Errorf("render console page %s: %w", name, err)
	}
	return c.HTMLBlob(status, b.Bytes())
}

func (s *Server) signInForm(c echo.Context) error {
	if ck, err := c.Cookie(consoleCookie); err == nil {
		if _, ok := s.openSession(ck.Value, time.Now()); ok {
			return c.Redirect(http.StatusSeeOther, "/console")
		}
	}
	return s.consolePage(c, http.StatusOK, "signin", consoleData{Title: "Sign in"})
}

// signIn checks the posted API key like the API checks a bearer key and seals a session
// for it. The form has no session, hence no token, yet: a post another site makes would
// sign the victim in as the attacker, so a post a browser marks as cross-site is refused.
func (s *Server) signIn(c echo.Context) error {
	if crossSite(c.Request()) {
		return s.consolePage(c, http.StatusForbidden, "signin", consoleData{Title: "Sign in",
			Error: "This sign-in did not come from the console's own form. Open the console and sign in there."})
	}
	k := s.keyFor(strings.TrimSpace(c.FormValue("key")))
	if k == nil {
		return s.consolePage(c, http.StatusUnauthorized, "signin", consoleData{Title: "Sign in",
			Fields: map[string]string{"key": "This key is not one of ours."}})
	}
	nonce := make([]byte, 18)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("session nonce: %w", err)
	}
	expires := time.Now().Add(consoleSessionTTL)
	s.setSessionCookie(c, seal(k, expires, base64.RawURLEncoding.EncodeToString(nonce)), expires)
	return c.Redirect(http.StatusSeeOther, "/console")
}

// crossSite says whether a browser marked the request as sent by another site:
// Sec-Fetch-Site, which modern browsers send and a proxy does not disturb, else an Origin
// whose host is not this one (the scheme may differ behind a proxy that ends TLS).
func crossSite(req *http.Request) bool {
	if site := req.Header.Get("Sec-Fetch-Site"); site != "" {
		return site != "same-origin" && site != "none"
	}
	origin := req.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host != req.Host
}

func (s *Server) signOut(c echo.Context) error {
	s.setSessionCookie(c, "", time.Unix(0, 0))
	return c.Redirect(http.StatusSeeOther, "/console/sign-in")
}

// apiAnswer is what an API route answered a console action.
type apiAnswer struct {
	Status int
	Body   []byte
	// Err is the API's error body when Status is 400 or more.
	Err Error
}

// dispatch serves a request to an API route through the same Echo instance, as the
// session's key: validation, roles, idempotency and the audit actor are the API's own,
// and the console shows its answer. idem names the form submission (a token rendered into
// the form), so a double-submitted form is applied once.
func (s *Server) dispatch(c echo.Context, method, path string, body any, idem string) (apiAnswer, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return apiAnswer{}, fmt.Errorf("encode %s %s: %w", method, path, err)
	}
	req, err := http.NewRequestWithContext(c.Request().Context(), method, path, bytes.NewReader(data))
	if err != nil {
		return apiAnswer{}, fmt.Errorf("request %s %s: %w", method, path, err)
	}
	req.RemoteAddr = c.Request().RemoteAddr
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	req.Header.Set(echo.HeaderAuthorization, "Bearer "+consoleSession(c).key.Secret)
	if idem != "" {
		req.Header.Set(IdempotencyHeader, "console:"+idem)
	}
	rec := httptest.NewRecorder()
	s.echo.ServeHTTP(rec, req)
	a := apiAnswer{Status: rec.Code, Body: rec.Body.Bytes()}
	if a.Status >= 400 {
		if err := json.Unmarshal(a.Body, &a.Err); err != nil || a.Err.Msg == "" {
			a.Err.Msg = strings.ToLower(http.StatusText(a.Status))
		}
	}
	return a, nil
}

// formToken is a fresh random token for a form's idempotency key.
func formToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// refusal renders an API refusal: the message for the page and the fields for the form.
func refusal(a apiAnswer) (string, map[string]string) {
	msg := a.Err.Msg
	if a.Status == http.StatusForbidden {
		msg = "Your role may not do this: " + msg
	}
	return msg, a.Err.Fields
}
