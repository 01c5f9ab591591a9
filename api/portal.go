package api

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/links"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// The creator portal: pages reached from links in emails, authorised by signed tokens,
// with forms protected by a CSRF cookie.

// portalStyle is the portal page's style sheet; pageCSP allows it by its hash.
const portalStyle = `body{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}
.contract{border:1px solid #ccc;padding:1rem 1.5rem;margin:1rem 0}label{display:block;margin:.75rem 0 .25rem}
input[type=text],textarea{width:100%;font:inherit}button{font-size:1rem;padding:.5rem 1rem}.err{color:#a00}`

var portalPage = template.Must(template.New("portal").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>
<style>` + portalStyle + `</style></head>
<body><h1>{{.Title}}</h1>{{if .Message}}<p{{if .Error}} class="err"{{end}}{{if .Field}} data-field="{{.Field}}"{{end}}>{{.Message}}</p>{{end}}
{{.Document}}
{{if .Sign}}<form method="post">
<input type="hidden" name="_csrf" value="{{.CSRF}}">
<label for="name">Type your full legal name to sign</label>
<input type="text" id="name" name="name" required minlength="2" maxlength="200" autocomplete="name">
<label><input type="checkbox" name="agree" value="yes" required> I have read and agree to this contract.</label>
<p>Document hash (SHA-256): <code>{{.Hash}}</code></p>
<button type="submit">Sign</button></form>{{end}}
{{if .Draft}}<form method="post">
<input type="hidden" name="_csrf" value="{{.CSRF}}">
<label for="assets">Links to your draft assets, one per line</label>
<textarea id="assets" name="assets" rows="4" required></textarea>
<label for="caption">Caption (must include {{.Disclosure}})</label>
<textarea id="caption" name="caption" rows="6" maxlength="2200" required></textarea>
<button type="submit">Submit draft</button></form>{{end}}
{{if .Post}}<form method="post">
<input type="hidden" name="_csrf" value="{{.CSRF}}">
<label for="post_url">Link to your live post</label>
<input type="text" id="post_url" name="post_url" required maxlength="2000">
<button type="submit">Submit post</button></form>{{end}}
</body></html>`))

type portalData struct {
	Title, Message, CSRF, Hash, Disclosure string
	Error, Sign, Draft, Post               bool
	Document                               template.HTML
	// Field is the form field a refusal is about, "" for none.
	Field string
}

func portal(c echo.Context, status int, d portalData) error {
	if v, ok := c.Get(middleware.DefaultCSRFConfig.ContextKey).(string); ok {
		d.CSRF = v
	}
	var b strings.Builder
	if err := portalPage.Execute(&b, d); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTML(status, b.String())
}

func portalError(c echo.Context, status int, title, msg string) error {
	return portal(c, status, portalData{Title: title, Message: msg, Error: true})
}

// pageError is a refusal the portal shows as a page rather than JSON.
type pageError struct {
	status     int
	title, msg string
	// field is the form field the refusal is about, "" for none.
	field string
}

func (e *pageError) Error() string { return e.title + ": " + e.msg }

// portalFail renders a pageError; any other error goes to the API's error handler.
func portalFail(c echo.Context, err error) error {
	var pe *pageError
	if errors.As(err, &pe) {
		return portal(c, pe.status, portalData{Title: pe.title, Message: pe.msg, Error: true, Field: pe.field})
	}
	return err
}

// portalCSRFHeader carries the portal form's body token (formCSRF) to Echo's CSRF
// middleware. Its own "form:" lookup reads c.FormValue, which also takes the token from
// the query string; a client's own header of this name is dropped first.
const portalCSRFHeader = "X-Collabflow-Form-Csrf"

// portalCSRF guards the portal's forms with a double-submit cookie scoped to /portal.
// Echo's middleware issues the cookie and compares; the token it compares is the one in
// the POST body, as the console's (formCSRF), never one in the URL.
func portalCSRF(secureCookie bool) echo.MiddlewareFunc {
	check := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "header:" + portalCSRFHeader,
		CookiePath:     "/portal",
		CookieHTTPOnly: true,
		CookieSecure:   secureCookie,
		CookieSameSite: http.SameSiteStrictMode,
		ErrorHandler: func(err error, c echo.Context) error {
			return portalError(c, http.StatusForbidden, "Form expired", "Reload the page from the link in your email and try again.")
		},
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := check(next)
		return func(c echo.Context) error {
			r := c.Request()
			r.Header.Del(portalCSRFHeader)
			if r.Method == http.MethodPost {
				if t := formCSRF(c); t != "" {
					r.Header.Set(portalCSRFHeader, t)
				}
			}
			return h(c)
		}
	}
}

// contractFromToken checks a contract link and loads the contract it names. A forged,
// damaged, expired or mismatched link is refused with a page saying so.
func (s *Server) contractFromToken(c echo.Context) (store.Contract, string, error) {
	payload, err := s.links.Verify(activities.ContractPurpose, usedLink(c), time.Now())
	if errors.Is(err, links.ErrExpired) {
		return store.Contract{}, "", &pageError{http.StatusGone, "Link expired", "This contract link has expired. Reply to our email and we will send a new one.", ""}
	}
	collabID, contractID, ok := strings.Cut(payload, "|")
	if err != nil || !ok {
		return store.Contract{}, "", &pageError{http.StatusBadRequest, "Link not valid", "This contract link is damaged or was not made by us.", ""}
	}
	k, err := s.store.Contract(c.Request().Context(), contractID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.CollaborationID != collabID) {
		return store.Contract{}, "", &pageError{http.StatusNotFound, "Contract not found", "This link does not match a contract of ours.", ""}
	} else if err != nil {
		return store.Contract{}, "", err
	}
	c.Set(answerCollaborationKey, collabID)
	return k, collabID, nil
}

func (s *Server) contractPage(c echo.Context) error {
	k, _, err := s.contractFromToken(c)
	if err != nil {
		return portalFail(c, err)
	}
	d := portalData{Title: "Your contract", Document: template.HTML(k.HTML), Hash: k.SHA256} // #nosec G203 -- rendered by contract.Render with html/template escaping
	if k.Signature != nil {
		d.Message = "Signed by " + k.Signature.Name + " on " + k.Signature.At.UTC().Format("2 January 2006 15:04 UTC") + "."
		return portal(c, http.StatusOK, d)
	}
	d.Sign = true
	return portal(c, http.StatusOK, d)
}

// signContract takes the signature; the workflow decides whether this contract can still
// be signed (not expired, not replaced, not signed already) and records it.
func (s *Server) signContract(c echo.Context) error {
	k, collabID, err := s.contractFromToken(c)
	if err != nil {
		return portalFail(c, err)
	}
	if err := portalText(c, "Not signed", "name"); err != nil {
		return portalFail(c, err)
	}
	name := strings.Join(strings.Fields(c.FormValue("name")), " ")
	if len(name) < 2 || len(name) > maxSignatureName || c.FormValue("agree") != "yes" {
		return portalError(c, http.StatusUnprocessableEntity, "Not signed", "Type your full legal name and tick the box to agree.")
	}
	// The evidence is personal data: it is stored here, and the workflow gets its id.
	ev := store.SignatureEvidence{
		ContractID: k.ID, CollaborationID: collabID, Name: name, IP: c.RealIP(),
		UserAgent: truncate(c.Request().UserAgent(), maxUserAgent), RequestID: portalRequestID(c),
		At: time.Now().UTC(),
	}
	ev.LinkHash, _ = c.Get(linkHashKey).(string)
	ctx := c.Request().Context()
	sigID, err := s.store.SaveSignature(ctx, ev)
	if err != nil {
		return err
	}
	req := workflows.SignRequest{ContractID: k.ID, SHA256: k.SHA256, SignatureID: sigID, At: ev.At, RequestID: ev.RequestID, LinkHash: ev.LinkHash}
	var state workflows.CollaborationState
	pending, err := s.update(c, collabID, workflows.UpdateSign, req, &state)
	if err != nil {
		if refused(err) {
			// Refused for good (expired, replaced, signed already): keep nothing of it.
			if derr := s.store.DiscardSignature(ctx, sigID); derr != nil {
				s.logger.Warn("refused signature not discarded", "signature_id", sigID, "error", derr)
			}
		}
		return portalRefusal(c, "Not signed", err)
	}
	if pending != nil {
		return portalAccepted(c)
	}
	return portal(c, http.StatusOK, portalData{Title: "Signed", Message: "Thank you, " + name + ". Your contract is signed; we will email you the brief."})
}

// portalRepeat answers a repeated portal post (the same Idempotency-Key and form) whose
// first answer had status: its page is not stored, as it may quote the creator's words.
func portalRepeat(c echo.Context, status int) error {
	return portal(c, status, portalData{Title: "Received", Message: "Thank you. We already have this; there is nothing more to do."})
}

// portalAccepted tells the creator their action was taken and is still being processed:
// the workflow accepted it but had not finished within the update wait.
func portalAccepted(c echo.Context) error {
	return portal(c, http.StatusAccepted, portalData{Title: "Received", Message: "Thank you. We have it and are processing it now; there is nothing more to do."})
}

// portalRefusal shows why the workflow refused a portal action.
func portalRefusal(c echo.Context, title string, err error) error {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		return err
	}
	msg := apiErr.Msg
	for _, why := range apiErr.Fields {
		msg = why // the portal's forms have one field that can be wrong at a time
	}
	return portalError(c, apiErr.Status, title, msg)
}

// collabFromContentToken checks a content portal link.
func (s *Server) collabFromContentToken(c echo.Context) (string, error) {
	id, err := s.links.Verify(activities.ContentPurpose, usedLink(c), time.Now())
	if errors.Is(err, links.ErrExpired) {
		return "", &pageError{http.StatusGone, "Link expired", "This link has expired. Reply to our email for a new one.", ""}
	}
	if err != nil {
		return "", &pageError{http.StatusBadRequest, "Link not valid", "This link is damaged or was not made by us.", ""}
	}
	c.Set(answerCollaborationKey, id)
	return id, nil
}

func (s *Server) contentPage(c echo.Context) error {
	id, err := s.collabFromContentToken(c)
	if err != nil {
		return portalFail(c, err)
	}
	state, err := s.queryState(c.Request().Context(), id)
	if isNotFound(err) {
		return portalError(c, http.StatusNotFound, "Not found", "This collaboration no longer exists.")
	} else if err != nil {
		return err
	}
	if state.Stage == workflows.StageAwaitingPost {
		return portal(c, http.StatusOK, portalData{Title: "Submit your live post", Post: true,
			Message: fmt.Sprintf("Post %d of %d, due %s. It must carry %q and your code %s.", len(state.Posts)+1, state.PostsRequired,
				state.PostsDue.Format("2 January 2006 15:04 UTC"), disclosureOf(state), codeOf(state))})
	}
	if state.Stage != workflows.StageInProduction {
		return portal(c, http.StatusOK, portalData{Title: "Nothing to submit", Message: "There is nothing to submit right now (" + string(state.Stage) + ")."})
	}
	return portal(c, http.StatusOK, portalData{Title: "Submit your draft", Draft: true, Disclosure: disclosureOf(state),
		Message: "Due " + state.DraftDue.Format("2 January 2006 15:04 UTC") + "."})
}

func (s *Server) submitContent(c echo.Context) error {
	id, err := s.collabFromContentToken(c)
	if err != nil {
		return portalFail(c, err)
	}
	title := "Draft not submitted"
	if c.FormValue("post_url") != "" {
		title = "Post not submitted"
	}
	if err := portalText(c, title); err != nil {
		return portalFail(c, err)
	}
	if postURL := strings.TrimSpace(c.FormValue("post_url")); postURL != "" {
		if len(postURL) > maxPortalURL {
			return portalError(c, http.StatusUnprocessableEntity, "Post not submitted", fmt.Sprintf("The link is longer than %d characters.", maxPortalURL))
		}
		var state workflows.CollaborationState
		pending, err := s.update(c, id, workflows.UpdateSubmitPost, workflows.PostRequest{Actor: creatorActor(c), URL: postURL}, &state)
		if err != nil {
			return portalRefusal(c, "Post not submitted", err)
		}
		if pending != nil {
			return portalAccepted(c)
		}
		return portal(c, http.StatusOK, portalData{Title: "Post received", Message: "Thank you. We will check it and let you know if anything needs fixing."})
	}
	var assets []string
	for _, line := range strings.Split(c.FormValue("assets"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			assets = append(assets, line)
		}
	}
	caption := strings.TrimSpace(c.FormValue("caption"))
	if len(assets) > workflows.MaxAssets || slices.ContainsFunc(assets, func(a string) bool { return len(a) > maxPortalURL }) {
		return portalError(c, http.StatusUnprocessableEntity, "Draft not submitted",
			fmt.Sprintf("Give at most %d links, each at most %d characters.", workflows.MaxAssets, maxPortalURL))
	}
	if len(caption) > workflows.MaxCaptionLength {
		return portalError(c, http.StatusUnprocessableEntity, "Draft not submitted",
			fmt.Sprintf("The caption is longer than %d characters.", workflows.MaxCaptionLength))
	}
	req := workflows.DraftRequest{Actor: creatorActor(c), Assets: assets, Caption: caption}
	var state workflows.CollaborationState
	pending, err := s.update(c, id, workflows.UpdateSubmitDraft, req, &state)
	if err != nil {
		return portalRefusal(c, "Draft not submitted", err)
	}
	if pending != nil {
		return portalAccepted(c)
	}
	return portal(c, http.StatusOK, portalData{Title: "Draft received", Message: "Thank you. The brand will review it and get back to you."})
}

func disclosureOf(state workflows.CollaborationState) string {
	if state.AgreedTerms != nil {
		return state.AgreedTerms.DisclosureText
	}
	return "#ad"
}

func codeOf(state workflows.CollaborationState) string {
	if state.Attribution != nil {
		return state.Attribution.Code
	}
	return ""
}

// portalFieldLabels name a portal form's fields in the creator's words.
var portalFieldLabels = map[string]string{
	"name": "Your name", "agree": "The agreement box", "assets": "The draft links", "caption": "The caption", "post_url": "The post link",
}

// portalText refuses a portal form whose fields hold text no person types (bytes that are
// not UTF-8, NUL or another control character; see textProblem) with a 422 page naming the
// field, before anything is stored or sent to a workflow: PostgreSQL refuses NUL with an
// error, and control characters would reach the history, the console and emails. The
// fields in displayed (the typed signature name) also refuse bidirectional controls,
// which make the name shown differ from the name stored. Every field is judged, in order
// of name, not only the ones the handler reads.
func portalText(c echo.Context, title string, displayed ...string) error {
	form, err := c.FormParams()
	if err != nil {
		return &pageError{status: http.StatusBadRequest, title: title, msg: "The form could not be read. Reload the page and try again."}
	}
	for _, field := range slices.Sorted(maps.Keys(form)) {
		if field == "_csrf" {
			continue
		}
		name := field
		if textProblem(field, true) != "" {
			name = "form" // a field's name is echoed only when it is plain text
		}
		for _, v := range append([]string{field}, form[field]...) {
			if why := textProblem(v, slices.Contains(displayed, field)); why != "" {
				label := cmp.Or(portalFieldLabels[name], "A field")
				return &pageError{status: http.StatusUnprocessableEntity, title: title, field: name,
					msg: fmt.Sprintf("%s (%s) %s.", label, name, why)}
			}
		}
	}
	return nil
}

// creatorActor is the creator acting through a portal link: not an API key, but a person
// whose actions the history records with the request and the link that made them.
func creatorActor(c echo.Context) *workflows.Actor {
	return &workflows.Actor{Name: "creator", Role: "creator", RequestID: portalRequestID(c)}
}

// Limits on what a portal form can carry into a workflow and its history; the body limit
// alone would let 64 KB through.
const (
	maxSignatureName = 200
	maxUserAgent     = 512
	maxPortalURL     = 2000
)

// linkHashKey holds the short hash of the link token a portal request came with.
const linkHashKey = "link_hash"

// usedLink is the request's link token; it notes the token's short hash for the log and
// the actor's record.
func usedLink(c echo.Context) string {
	token := c.Param("token")
	c.Set(linkHashKey, linkHash(token))
	return token
}

// linkHash names a link token without revealing it: the first 12 hex digits of its
// SHA-256, enough to tell a collaboration's links apart.
func linkHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}

// portalRequestID is the request ID a portal action records: the server's request ID and
// the hash of the link used, as "<request id> link:<hash>".
func portalRequestID(c echo.Context) string {
	id := requestID(c)
	if h, ok := c.Get(linkHashKey).(string); ok {
		id += " link:" + h
	}
	return id
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
