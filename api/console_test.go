package api_test

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

var (
	idemField  = regexp.MustCompile(`name="_idem" value="([^"]+)"`)
	bulkBanner = regexp.MustCompile(`\?bulk=([0-9a-f-]+)`)
)

// consoleUser is a person's browser on the console: it keeps the session cookie and does
// not follow redirects, so tests see where each answer sends them.
type consoleUser struct {
	t      testing.TB
	base   string
	client *http.Client
}

// page is one console answer.
type page struct {
	status   int
	location string
	header   http.Header
	body     string
}

func newConsoleUser(t testing.TB, base string) *consoleUser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleUser{t: t, base: base, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signedIn is a console user signed in with key.
func signedIn(t testing.TB, key string) *consoleUser {
	t.Helper()
	u := newConsoleUser(t, baseURL)
	if p := u.post("/console/sign-in", url.Values{"key": {key}}); p.status != http.StatusSeeOther || p.location != "/console" {
		t.Fatalf("sign in: %d %s %s", p.status, p.location, p.body)
	}
	return u
}

func (u *consoleUser) do(req *http.Request) page {
	u.t.Helper()
	resp, err := u.client.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		u.t.Fatal(err)
	}
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), header: resp.Header, body: string(body)}
}

func (u *consoleUser) get(path string) page {
	u.t.Helper()
	req, err := http.NewRequest("GET", u.base+path, nil)
	if err != nil {
		u.t.Fatal(err)
	}
	return u.do(req)
}

func (u *consoleUser) post(path string, form url.Values) page {
	u.t.Helper()
	req, err := http.NewRequest("POST", u.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		u.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}

// submit loads the page at from and posts form to action with the page's CSRF token and
// its form idempotency token (pages with action forms have one), as the page's form would.
func (u *consoleUser) submit(from, action string, form url.Values) page {
	u.t.Helper()
	p := u.get(from)
	csrf, idem := csrfField.FindStringSubmatch(p.body), idemField.FindStringSubmatch(p.body)
	if p.status != 200 || csrf == nil {
		u.t.Fatalf("form at %s: %d %s", from, p.status, p.body)
	}
	form.Set("_csrf", html.UnescapeString(csrf[1]))
	if idem != nil {
		form.Set("_idem", html.UnescapeString(idem[1]))
	}
	return u.post(action, form)
}

// column is the HTML of a board column.
func column(t *testing.T, board, stage string) string {
	t.Helper()
	start := strings.Index(board, `data-stage="`+stage+`"`)
	if start < 0 {
		t.Fatalf("no %s column on the board", stage)
	}
	end := strings.Index(board[start:], "</section>")
	return board[start : start+end]
}

// TestConsoleSignInAndOut: pages send a browser without a session to the sign-in form; a
// wrong key shows the form again with an error and sets no cookie, and so does a sign-in
// posted from another site; a right key sets an
// HttpOnly, SameSite=Strict cookie that does not hold the key (Secure when the public URL
// is https); the pages carry the console's CSP; sign-ins are rate limited per address;
// signing out ends the session.
func TestConsoleSignInAndOut(t *testing.T) {
	campaign := newCampaign(t)
	u := newConsoleUser(t, baseURL)
	if p := u.get("/console"); p.status != http.StatusSeeOther || p.location != "/console/sign-in" {
		t.Fatalf("console without a session: %d %s", p.status, p.location)
	}
	form := u.get("/console/sign-in")
	if form.status != 200 || !strings.Contains(form.body, `name="key"`) {
		t.Fatalf("sign-in form: %d %s", form.status, form.body)
	}
	csp := form.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'self'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("console CSP: %q", csp)
	}
	if strings.Contains(form.body, "style=") || strings.Contains(form.body, "<style") {
		t.Fatal("inline style on the sign-in form")
	}

	bad := u.post("/console/sign-in", url.Values{"key": {"not-a-key-0123456789"}})
	if bad.status != http.StatusUnauthorized || !strings.Contains(bad.body, "not one of ours") || bad.header.Get("Set-Cookie") != "" {
		t.Fatalf("wrong key: %d %v %s", bad.status, bad.header, bad.body)
	}

	for name, value := range map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"} {
		req, _ := http.NewRequest("POST", baseURL+"/console/sign-in", strings.NewReader(url.Values{"key": {opsKey}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(name, value)
		if p := u.do(req); p.status != http.StatusForbidden || p.header.Get("Set-Cookie") != "" {
			t.Fatalf("sign-in with %s %s: %d %v", name, value, p.status, p.header)
		}
	}
	// Behind a proxy that ends TLS the browser's origin is https, the request http.
	req, _ := http.NewRequest("POST", baseURL+"/console/sign-in", strings.NewReader(url.Values{"key": {opsKey}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://"+strings.TrimPrefix(baseURL, "http://"))
	if p := newConsoleUser(t, baseURL).do(req); p.status != http.StatusSeeOther {
		t.Fatalf("sign-in from the console's own page: %d %s", p.status, p.body)
	}
	good := u.post("/console/sign-in", url.Values{"key": {opsKey}})
	if good.status != http.StatusSeeOther || good.location != "/console" {
		t.Fatalf("right key: %d %s", good.status, good.location)
	}
	cookie := good.header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/console"} {
		if !strings.Contains(cookie, want) {
			t.Fatalf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") || strings.Contains(cookie, opsKey) {
		t.Fatalf("session cookie over http: %q", cookie)
	}
	home := u.get("/console")
	if home.status != 200 || !strings.Contains(home.body, "/console/campaigns/"+campaign) || !strings.Contains(home.body, "ops-team") {
		t.Fatalf("campaign list: %d %s", home.status, home.body)
	}
	if css := u.get("/console/static/console.css"); css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Fatalf("style sheet: %d %v", css.status, css.header)
	}

	out := u.submit("/console", "/console/sign-out", url.Values{})
	if out.status != http.StatusSeeOther || out.location != "/console/sign-in" || !strings.Contains(out.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign out: %d %s %v", out.status, out.location, out.header)
	}
	if p := u.get("/console"); p.status != http.StatusSeeOther {
		t.Fatalf("console after signing out: %d", p.status)
	}

	// Guessing keys is slowed like unauthenticated API calls: 10 a second per address at
	// a rate limit of 1, with a burst of 20.
	slow := newConsoleUser(t, newAPI(t, func(cfg *api.Config) { cfg.RateLimit = 1 }))
	limited := false
	for range 40 {
		if p := slow.post("/console/sign-in", url.Values{"key": {"guess-0123456789abcdef"}}); p.status == http.StatusTooManyRequests {
			limited = strings.Contains(p.body, "rate limit exceeded") && strings.Contains(p.body, "<!doctype html>")
			break
		}
	}
	if !limited {
		t.Fatal("40 quick sign-ins were not rate limited with a page saying so")
	}

	secure := newConsoleUser(t, newAPI(t, func(cfg *api.Config) { cfg.SecureCookies = true }))
	if p := secure.post("/console/sign-in", url.Values{"key": {auditorKey}}); !strings.Contains(p.header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("session cookie behind https: %q", p.header.Get("Set-Cookie"))
	}
}

// TestConsoleRefusesFormsWithoutItsToken: a console POST with a session but without the
// session's CSRF token, or with another session's, changes nothing.
func TestConsoleRefusesFormsWithoutItsToken(t *testing.T) {
	campaign := newCampaign(t)
	id := start(t, campaign, newCreator(t))
	u, other := signedIn(t, opsKey), signedIn(t, opsKey)
	otherToken := html.UnescapeString(csrfField.FindStringSubmatch(other.get("/console").body)[1])
	for _, token := range []string{"", otherToken} {
		p := u.post("/console/collaborations/"+id+"/cancel", url.Values{"_csrf": {token}, "reason": {"forged"}})
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "Form expired") {
			t.Fatalf("cancel with token %q: %d %s", token, p.status, p.body)
		}
	}
	if s := stageOf(t, id); s != "outreach" {
		t.Fatalf("forged cancel moved %s to %s", id, s)
	}
	// I-N1: the session's own token, but in the query string rather than the form.
	own := html.UnescapeString(csrfField.FindStringSubmatch(u.get("/console").body)[1])
	p := u.post("/console/collaborations/"+id+"/pause?_csrf="+url.QueryEscape(own), url.Values{"reason": {"from the query"}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "Form expired") {
		t.Fatalf("pause with the token in the query string: %d %s", p.status, p.body)
	}
}

// TestConsoleStaticListsNoDirectory (I-N3): the console's assets are served, their
// directory is not listed.
func TestConsoleStaticListsNoDirectory(t *testing.T) {
	u := newConsoleUser(t, baseURL)
	for _, path := range []string{"/console/static/", "/console/static/?x=1"} {
		if p := u.get(path); p.status != http.StatusNotFound || strings.Contains(p.body, "console.css") {
			t.Errorf("GET %s: %d %.200s", path, p.status, p.body)
		}
	}
	if p := u.get("/console/static/console.js"); p.status != 200 {
		t.Errorf("script: %d", p.status)
	}
}

// TestConsoleBoard: the board puts each collaboration's card in its stage's column with
// the column's count; filters show one stage, or no card when none matches; an unknown
// campaign is a page saying so; a bulk pause of the selected cards goes
// through the API and shows its progress; an empty selection is refused inline.
func TestConsoleBoard(t *testing.T) {
	campaign := newCampaign(t)
	var outreach []string
	for range 2 {
		outreach = append(outreach, start(t, campaign, newCreator(t)))
	}
	talking := negotiating(t, campaign)
	for _, id := range outreach {
		waitForListed(t, "campaign_id="+campaign, id, "outreach")
	}
	waitForListed(t, "campaign_id="+campaign, talking, "negotiating")

	u := signedIn(t, opsKey)
	board := u.get("/console/campaigns/" + campaign)
	if board.status != 200 {
		t.Fatalf("board: %d %s", board.status, board.body)
	}
	out, neg := column(t, board.body, "outreach"), column(t, board.body, "negotiating")
	if !strings.Contains(out, `<span class="count">2</span>`) || !strings.Contains(neg, `<span class="count">1</span>`) {
		t.Fatalf("column counts: %s\n%s", out, neg)
	}
	for _, id := range outreach {
		if !strings.Contains(out, "/console/collaborations/"+id) || strings.Contains(neg, id) {
			t.Fatalf("card %s not in outreach alone", id)
		}
	}
	if !strings.Contains(neg, "/console/collaborations/"+talking) || strings.Contains(out, talking) {
		t.Fatalf("card %s not in negotiating alone", talking)
	}
	filtered := u.get("/console/campaigns/" + campaign + "?stage=negotiating")
	if strings.Contains(filtered.body, `data-stage="outreach"`) || !strings.Contains(filtered.body, talking) {
		t.Fatalf("stage filter: %s", filtered.body)
	}
	other := "mega" // the test creators' tier is smaller
	if listed := must(t, 200, call(t, "GET", "/v1/collaborations?campaign_id="+campaign+"&tier=mega", opsKey, nil)); len(listed.Body["items"].([]any)) > 0 {
		other = "nano"
	}
	for _, filter := range []string{"tier=" + other, "attention=true"} {
		if p := u.get("/console/campaigns/" + campaign + "?" + filter); p.status != 200 || strings.Contains(p.body, "/console/collaborations/") {
			t.Fatalf("%s filter shows cards: %s", filter, p.body)
		}
	}
	if p := u.get("/console/campaigns/01a22047-fe95-7c2d-9b1d-1367eab1508b"); p.status != http.StatusNotFound || !strings.Contains(p.body, "campaign not found") || !strings.Contains(p.body, "<!doctype html>") {
		t.Fatalf("unknown campaign: %d %s", p.status, p.body)
	}

	none := u.submit("/console/campaigns/"+campaign, "/console/campaigns/"+campaign+"/bulk", url.Values{"action": {"pause"}})
	if none.status != http.StatusUnprocessableEntity || !strings.Contains(none.body, "select at least one card") {
		t.Fatalf("empty selection: %d %s", none.status, none.body)
	}
	paused := u.submit("/console/campaigns/"+campaign, "/console/campaigns/"+campaign+"/bulk",
		url.Values{"action": {"pause"}, "reason": {"brand review"}, "ids": outreach})
	m := bulkBanner.FindStringSubmatch(paused.location)
	if paused.status != http.StatusSeeOther || m == nil {
		t.Fatalf("bulk pause: %d %s %s", paused.status, paused.location, paused.body)
	}
	if b, items := bulkDone(t, m[1]); b["applied"] != float64(2) || len(items) != 2 {
		t.Fatalf("bulk pause: %v %v", b, items)
	}
	for _, id := range outreach {
		if st := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)); st.Body["outreach"].(map[string]any)["paused_at"] == nil {
			t.Fatalf("%s not paused: %s", id, st.Raw)
		}
	}
	if p := u.get(paused.location); !strings.Contains(p.body, "Bulk pause by ops-team: 2 selected, 2 applied") {
		t.Fatalf("bulk progress: %s", p.body)
	}
	// A cancel without a reason is the API's refusal, shown on the board.
	refused := u.submit("/console/campaigns/"+campaign, "/console/campaigns/"+campaign+"/bulk",
		url.Values{"action": {"cancel"}, "ids": outreach[:1]})
	if refused.status != http.StatusUnprocessableEntity || !strings.Contains(refused.body, "required to cancel") {
		t.Fatalf("cancel without a reason: %d %s", refused.status, refused.body)
	}
}

// TestConsoleCollaborationActions: the page shows the stage path and the timeline with
// its actors; an offer the API refuses shows the API's field errors beside the form, with
// what was typed; a good offer is listed; accepting it moves the collaboration on.
func TestConsoleCollaborationActions(t *testing.T) {
	campaign := newCampaign(t)
	id := start(t, campaign, newCreator(t))
	u := signedIn(t, opsKey)
	path := "/console/collaborations/" + id

	replied := u.submit(path, path+"/reply", url.Values{"note": {"said yes on a call"}})
	if replied.status != http.StatusSeeOther || replied.location != path+"?done=reply" {
		t.Fatalf("reply: %d %s %s", replied.status, replied.location, replied.body)
	}
	p := u.get(replied.location)
	for _, want := range []string{"Reply recorded.", `id="stage">negotiating`, "ops-team (ops)", "outreach → negotiating", `id="form-offer"`} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("page after the reply lacks %q: %s", want, p.body)
		}
	}

	bad := u.submit(path, path+"/offer", url.Values{"from": {"brand"}, "platform": {"instagram"}, "format": {"reel"},
		"count": {"0"}, "currency": {"USD"}, "fixed_fee": {"1200"}, "disclosure_text": {"#ad"}})
	if bad.status != http.StatusUnprocessableEntity || !strings.Contains(bad.body, "terms.deliverables[0].count") ||
		!strings.Contains(bad.body, `id="offer-error"`) || !strings.Contains(bad.body, `name="fixed_fee" inputmode="decimal" value="1200"`) {
		t.Fatalf("refused offer: %d %s", bad.status, bad.body)
	}
	good := u.submit(path, path+"/offer", url.Values{"from": {"brand"}, "platform": {"instagram"}, "format": {"reel"},
		"count": {"1"}, "currency": {"usd"}, "fixed_fee": {"1200.50"}, "disclosure_text": {"#ad"}})
	if good.status != http.StatusSeeOther {
		t.Fatalf("offer: %d %s", good.status, good.body)
	}
	if p := u.get(good.location); !strings.Contains(p.body, "1200.50 USD") || !strings.Contains(p.body, "Accept offer 1") {
		t.Fatalf("offer not shown: %s", p.body)
	}
	accepted := u.submit(path, path+"/accept", url.Values{"offer": {"1"}})
	if accepted.status != http.StatusSeeOther {
		t.Fatalf("accept: %d %s", accepted.status, accepted.body)
	}
	waitForStage(t, id, "contracting")
	eventually(t, "the contract on the page", func() bool { return strings.Contains(u.get(path).body, "SHA-256</dt><dd><code>") })
	must(t, 201, call(t, "POST", "/v1/collaborations/"+id+"/metrics", opsKey, `{"at":"2026-01-02T00:00:00Z","clicks":7,"revenue":5000,"currency":"USD"}`))
	if p := u.get(path); !strings.Contains(p.body, "<dt>Clicks</dt><dd>7</dd>") || !strings.Contains(p.body, "50.00 USD") {
		t.Fatalf("metrics not shown: %s", p.body)
	}
}

// TestConsolePauseResumeCancel: ops pause and resume outreach and cancel with a reason
// from the collaboration page; an ended collaboration offers no actions.
func TestConsolePauseResumeCancel(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	u, path := signedIn(t, opsKey), "/console/collaborations/"+id
	paused := u.submit(path, path+"/pause", url.Values{"reason": {"brand review"}})
	if paused.status != http.StatusSeeOther {
		t.Fatalf("pause: %d %s", paused.status, paused.body)
	}
	if p := u.get(paused.location); !strings.Contains(p.body, "Outreach paused.") || !strings.Contains(p.body, "(paused)") || !strings.Contains(p.body, `id="form-resume"`) {
		t.Fatalf("page after pausing: %s", p.body)
	}
	if r := u.submit(path, path+"/resume", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("resume: %d %s", r.status, r.body)
	}
	if p := u.get(path); strings.Contains(p.body, "(paused)") || !strings.Contains(p.body, `id="form-pause"`) {
		t.Fatalf("page after resuming: %s", p.body)
	}
	if r := u.submit(path, path+"/cancel", url.Values{}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="cancel-error"`) {
		t.Fatalf("cancel without a reason: %d %s", r.status, r.body)
	}
	if r := u.submit(path, path+"/cancel", url.Values{"reason": {"not a fit"}}); r.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if p := u.get(path); !strings.Contains(p.body, `id="stage">cancelled`) || strings.Contains(p.body, `id="h-actions"`) || !strings.Contains(p.body, "not a fit") {
		t.Fatalf("page after cancelling: %s", p.body)
	}
}

// TestConsoleRoles: each role sees only the actions it may take (auditor none), and an
// action posted anyway is the API's refusal, shown inline.
func TestConsoleRoles(t *testing.T) {
	campaign := newCampaign(t)
	id := negotiating(t, campaign)
	waitForListed(t, "campaign_id="+campaign, id, "negotiating")
	path := "/console/collaborations/" + id
	for key, want := range map[string]struct{ page, board bool }{
		opsKey: {true, true}, reviewerKey: {false, false}, financeKey: {false, false}, auditorKey: {false, false},
	} {
		u := signedIn(t, key)
		p := u.get(path)
		if p.status != 200 || strings.Contains(p.body, `id="form-offer"`) != want.page || strings.Contains(p.body, `id="form-cancel"`) != want.page {
			t.Fatalf("%s sees the ops actions: %v, want %v", key, !want.page, want.page)
		}
		if b := u.get("/console/campaigns/" + campaign); strings.Contains(b.body, `name="ids"`) != want.board {
			t.Fatalf("%s sees bulk selection: %v", key, !want.board)
		}
		if note := map[string]string{auditorKey: "takes no action here", financeKey: "in the <a href=\"/console/payouts\">payout queue</a>",
			reviewerKey: "No draft waits for review here."}[key]; !strings.Contains(p.body, note) {
			t.Fatalf("%s page lacks %q: %s", key, note, p.body)
		}
		if key == opsKey {
			continue
		}
		r := u.submit(path, path+"/cancel", url.Values{"reason": {"not mine to do"}})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "Your role may not do this") {
			t.Fatalf("%s cancel: %d %s", key, r.status, r.body)
		}
	}
	if s := stageOf(t, id); s != "negotiating" {
		t.Fatalf("refused cancels moved it to %s", s)
	}
}

// TestConsoleReviewQueue: a draft waiting for review is in the queue with its deadline; a
// reviewer approves it from the collaboration page, with changes asked for and refused
// first when the decision is missing, and it leaves the queue.
func TestConsoleReviewQueue(t *testing.T) {
	id := draftedCollaboration(t, nil)
	waitForListed(t, "stage=in_review", id, "in_review")
	u := signedIn(t, reviewerKey)
	queue := u.get("/console/reviews")
	row := queue.body[strings.Index(queue.body, "/console/collaborations/"+id):]
	row = row[:strings.Index(row, "</tr>")]
	if queue.status != 200 || !strings.Contains(row, "in 1d 23h") && !strings.Contains(row, "in 2d 0h") {
		t.Fatalf("review queue row: %d %s", queue.status, row)
	}
	path := "/console/collaborations/" + id
	page := u.get(path)
	if !strings.Contains(page.body, `id="form-review"`) || strings.Contains(page.body, `id="form-cancel"`) {
		t.Fatalf("reviewer's actions: %s", page.body)
	}
	missing := u.submit(path, path+"/review", url.Values{"draft": {"1"}, "comments": {"looks good"}})
	if missing.status != http.StatusUnprocessableEntity || !strings.Contains(missing.body, `id="review-error"`) || !strings.Contains(missing.body, "decision") {
		t.Fatalf("review without a decision: %d %s", missing.status, missing.body)
	}
	approved := u.submit(path, path+"/review", url.Values{"draft": {"1"}, "decision": {"approve"}, "comments": {"ship it"}})
	if approved.status != http.StatusSeeOther {
		t.Fatalf("approve: %d %s", approved.status, approved.body)
	}
	if p := u.get(approved.location); !strings.Contains(p.body, "approve</strong> by rev") || !strings.Contains(p.body, "ship it") {
		t.Fatalf("review not shown: %s", p.body)
	}
	waitForListed(t, "stage=awaiting_post", id, "awaiting_post")
	if q := u.get("/console/reviews"); strings.Contains(q.body, id) {
		t.Fatalf("reviewed draft still queued: %s", q.body)
	}
}

// TestConsolePayoutQueue: pending payouts are listed for finance with a confirm form (ops
// and auditors read the queue without it, reviewers may not read it); confirming without
// a reference, or a fee the collaboration does not owe yet, shows the API's refusal on the
// row; a good confirmation marks the ledger row paid.
func TestConsolePayoutQueue(t *testing.T) {
	ctx := t.Context()
	id := start(t, newCampaign(t), newCreator(t))
	kill, err := st.CreatePayout(ctx, store.Payout{CollaborationID: id, Kind: "kill_fee", IdempotencyKey: id + "/kill_fee",
		Currency: "USD", Amount: 30_000, Breakdown: []byte(`{}`), Provider: "manual", Status: store.PayoutPending})
	if err != nil {
		t.Fatal(err)
	}
	fee, err := st.CreatePayout(ctx, store.Payout{CollaborationID: id, Kind: "fee", IdempotencyKey: id + "/fee",
		Currency: "USD", Amount: 120_000, Breakdown: []byte(`{}`), Provider: "manual", Status: store.PayoutPending})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{opsKey, auditorKey} {
		if p := queuePageWith(t, signedIn(t, key), kill.ID); strings.Contains(p, "/console/payouts/"+kill.ID+"/confirm") {
			t.Fatalf("payout queue for %s has a confirm form: %s", key, p)
		}
	}
	if p := signedIn(t, reviewerKey).get("/console/payouts"); p.status != http.StatusForbidden {
		t.Fatalf("payout queue for a reviewer: %d", p.status)
	}

	u := signedIn(t, financeKey)
	queue := page{body: queuePageWith(t, u, kill.ID)}
	if !strings.Contains(queue.body, "300.00 USD") || !strings.Contains(queue.body, "/console/payouts/"+kill.ID+"/confirm") {
		t.Fatalf("finance's payout queue: %s", queue.body)
	}
	noRef := u.submit("/console/payouts", "/console/payouts/"+kill.ID+"/confirm", url.Values{})
	if noRef.status != http.StatusUnprocessableEntity || !strings.Contains(noRef.body, `id="confirm-error"`) || !strings.Contains(noRef.body, "reference") {
		t.Fatalf("confirm without a reference: %d %s", noRef.status, noRef.body)
	}
	early := u.submit("/console/payouts", "/console/payouts/"+fee.ID+"/confirm", url.Values{"reference": {"BANK-1"}})
	if early.status != http.StatusConflict || !strings.Contains(early.body, `id="confirm-error"`) || !strings.Contains(early.body, `value="BANK-1"`) {
		t.Fatalf("confirming a fee not owed: %d %s", early.status, early.body)
	}
	paid := u.submit("/console/payouts", "/console/payouts/"+kill.ID+"/confirm", url.Values{"reference": {"BANK-42"}})
	if paid.status != http.StatusSeeOther {
		t.Fatalf("confirm: %d %s", paid.status, paid.body)
	}
	if p := u.get(paid.location); !strings.Contains(p.body, "Payout confirmed.") {
		t.Fatalf("queue after confirming: %s", p.body)
	}
	if row, err := st.PayoutByID(ctx, kill.ID); err != nil || row.Status != store.PayoutPaid || row.Reference != "BANK-42" || row.ConfirmedBy != "fin" {
		t.Fatalf("ledger row: %+v %v", row, err)
	}
}

var nextPayouts = regexp.MustCompile(`href="(/console/payouts\?after=[^"]+)"`)

// queuePageWith follows the payout queue's pages, oldest first, to the one listing the
// payout: other tests leave pending payouts before it.
func queuePageWith(t *testing.T, u *consoleUser, payoutID string) string {
	t.Helper()
	for path := "/console/payouts"; ; {
		p := u.get(path)
		if p.status != 200 {
			t.Fatalf("payout queue %s: %d %s", path, p.status, p.body)
		}
		if strings.Contains(p.body, payoutID) {
			return p.body
		}
		m := nextPayouts.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("payout %s not in the queue", payoutID)
		}
		path = html.UnescapeString(m[1])
	}
}

// TestConsoleReport: the report page shows the API's figures and draws its three charts
// as SVG in the page: spend and conversions per tier, the funnel of stages reached, and
// (without outreach variants) says why the reply-rate chart is empty.
func TestConsoleReport(t *testing.T) {
	campaign := newCampaign(t)
	waiting := start(t, campaign, newCreator(t))
	replied := negotiating(t, campaign)
	waitForListed(t, "campaign_id="+campaign, waiting, "outreach")
	waitForListed(t, "campaign_id="+campaign, replied, "negotiating")
	figures := must(t, 200, call(t, "GET", "/v1/campaigns/"+campaign+"/report", auditorKey, nil))
	tier := figures.Body["by_tier"].([]any)[0].(map[string]any)["tier"].(string)

	p := signedIn(t, auditorKey).get("/console/campaigns/" + campaign + "/report")
	if p.status != 200 {
		t.Fatalf("report page: %d %s", p.status, p.body)
	}
	for _, want := range []string{`<span id="reply-rate">1 of 2 replied</span>`,
		`aria-label="Spend and conversions per tier"`, `class="chart-label">` + tier + `</text>`, "0 conversions",
		`aria-label="Funnel: collaborations that reached each stage"`, "outreach</text>", "2 reached", "negotiating</text>", "1 reached",
		"No outreach variants in this campaign"} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("report page lacks %q: %s", want, p.body)
		}
	}
	if strings.Contains(p.body, "style=") {
		t.Fatal("inline style on the report page")
	}
}

var moreLink = regexp.MustCompile(`class="more" href="([^"]+)"`)

// TestConsoleBoardColumnPages: a column shows its first cards and links to the rest, which
// it shows as the whole board, in pages, with the column's count.
func TestConsoleBoardColumnPages(t *testing.T) {
	campaign := newCampaign(t)
	const n = 27 // more than a board column shows
	for range n {
		creator := newCreator(t)
		if err := st.RecordCollaboration(t.Context(), store.Collaboration{ID: "collab-" + campaign + "-" + creator, CampaignID: campaign,
			CreatorID: creator, Stage: "outreach", StageSeq: 1, UpdatedAt: time.Now(), Tier: "micro"}); err != nil {
			t.Fatal(err)
		}
	}
	u := signedIn(t, auditorKey)
	board := u.get("/console/campaigns/" + campaign)
	col := column(t, board.body, "outreach")
	m := moreLink.FindStringSubmatch(col)
	if shown := strings.Count(col, `<li class="card">`); shown != 25 || m == nil || !strings.Contains(col, `<span class="count">27</span>`) {
		t.Fatalf("outreach column: %d cards, more link %v: %s", shown, m, col)
	}
	rest := u.get(html.UnescapeString(m[1]))
	restCol := column(t, rest.body, "outreach")
	if shown := strings.Count(restCol, `<li class="card">`); rest.status != 200 || shown != n-25 || strings.Contains(rest.body, `data-stage="negotiating"`) {
		t.Fatalf("the rest of the column: %d %d cards: %s", rest.status, shown, rest.body)
	}
	for _, card := range regexp.MustCompile(`/console/collaborations/([a-z0-9-]+)`).FindAllStringSubmatch(restCol, -1) {
		if strings.Contains(col, card[1]) {
			t.Fatalf("card %s on both pages", card[1])
		}
	}
}

// startForm is the HTML of the board's start form, empty when the page has none.
func startForm(board string) string {
	start := strings.Index(board, `id="form-start"`)
	if start < 0 {
		return ""
	}
	return board[start : start+strings.Index(board[start:], "</form>")]
}

// TestConsoleStartCollaboration: ops (only) see a start form on the board offering the
// roster's creators not yet in the campaign; an empty or unknown creator is the API's
// refusal beside the form; a roster creator starts, the browser lands on the new
// collaboration's page, and its workflow carries the search attributes the Web UI lists
// it by; the creator is then no longer offered; one already in the campaign leads to
// their collaboration, said to exist.
func TestConsoleStartCollaboration(t *testing.T) {
	campaign := newCampaign(t)
	fresh, busy := newCreator(t), newCreator(t)
	approve(t, campaign, fresh, busy)
	start(t, campaign, busy)
	board := "/console/campaigns/" + campaign

	for _, key := range []string{reviewerKey, financeKey, auditorKey} {
		if p := signedIn(t, key).get(board); p.status != 200 || startForm(p.body) != "" {
			t.Fatalf("%s sees the start form: %d %s", key, p.status, p.body)
		}
	}
	u := signedIn(t, opsKey)
	form := startForm(u.get(board).body)
	if !strings.Contains(form, `<option value="`+fresh+`">`) || strings.Contains(form, busy) || !strings.Contains(form, `name="creator_id"`) {
		t.Fatalf("start form: %s", form)
	}

	empty := u.submit(board, board+"/start", url.Values{"creator_id": {""}})
	if empty.status != http.StatusUnprocessableEntity || !strings.Contains(startForm(empty.body), `id="start-error"`) ||
		!strings.Contains(startForm(empty.body), "<code>creator_id</code>") {
		t.Fatalf("start without a creator: %d %s", empty.status, empty.body)
	}
	unknown := "01a22047-f28e-7750-bf30-739dc3eb9cbf"
	refused := u.submit(board, board+"/start", url.Values{"creator_id": {unknown}})
	if refused.status != http.StatusUnprocessableEntity || !strings.Contains(startForm(refused.body), "no such creator") ||
		!strings.Contains(startForm(refused.body), `value="`+unknown+`"`) {
		t.Fatalf("start with an unknown creator: %d %s", refused.status, refused.body)
	}

	id := workflows.CollaborationID(campaign, fresh)
	started := u.submit(board, board+"/start", url.Values{"creator_id": {fresh}})
	if started.status != http.StatusSeeOther || started.location != "/console/collaborations/"+id+"?done=start" {
		t.Fatalf("start: %d %s %s", started.status, started.location, started.body)
	}
	if p := u.get(started.location); p.status != 200 || !strings.Contains(p.body, "Collaboration started") {
		t.Fatalf("page of the started collaboration: %d %s", p.status, p.body)
	}
	desc, err := temporalClient.DescribeWorkflowExecution(t.Context(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	attrs := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	for name, want := range map[string]string{workflows.SearchCampaign.GetName(): campaign, workflows.SearchCreator.GetName(): fresh,
		workflows.SearchStage.GetName(): "outreach"} {
		var got string
		if p, ok := attrs[name]; !ok {
			t.Fatalf("search attribute %s missing: %v", name, attrs)
		} else if err := converter.GetDefaultDataConverter().FromPayload(p, &got); err != nil || got != want {
			t.Fatalf("search attribute %s: %q %v, want %q", name, got, err, want)
		}
	}
	if _, ok := workflows.SearchAttributeTypes()[workflows.SearchCampaign.GetName()]; !ok {
		t.Fatal("the campaign attribute is not registered")
	}
	if form := startForm(u.get(board).body); strings.Contains(form, fresh) {
		t.Fatalf("a started creator is still offered: %s", form)
	}
	// A creator typed in who is already in the campaign leads to their collaboration.
	again := u.submit(board, board+"/start", url.Values{"creator_id": {busy}})
	if again.status != http.StatusSeeOther || again.location != "/console/collaborations/"+workflows.CollaborationID(campaign, busy)+"?done=exists" {
		t.Fatalf("start of a started pair: %d %s %s", again.status, again.location, again.body)
	}
	if p := u.get(again.location); !strings.Contains(p.body, "already has this collaboration") {
		t.Fatalf("page of the existing collaboration: %s", p.body)
	}
}

// TestConsoleBoardCountsFollowFilters: with a filter in force, each column's count, the
// totals and the cards are of the filtered collaborations, not the whole campaign's.
func TestConsoleBoardCountsFollowFilters(t *testing.T) {
	campaign := newCampaign(t)
	past := time.Now().Add(-time.Hour)
	for _, c := range []store.Collaboration{
		{Stage: "outreach", Tier: "micro"}, {Stage: "outreach", Tier: "micro"}, {Stage: "outreach", Tier: "mega"},
		{Stage: "contracting", Tier: "mega", DueAt: &past}, {Stage: "contracting", Tier: "micro"},
	} {
		c.CreatorID, c.CampaignID = newCreator(t), campaign
		c.ID, c.StageSeq, c.UpdatedAt = workflows.CollaborationID(campaign, c.CreatorID), 1, time.Now()
		if err := st.RecordCollaboration(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	u := signedIn(t, auditorKey)
	for query, want := range map[string]struct{ total, outreach, contracting int }{
		"":                         {5, 3, 2},
		"?tier=micro":              {3, 2, 1},
		"?tier=mega":               {2, 1, 1},
		"?overdue=true":            {1, 0, 1},
		"?tier=micro&overdue=true": {0, 0, 0},
	} {
		p := u.get("/console/campaigns/" + campaign + query)
		if !strings.Contains(p.body, fmt.Sprintf(`id="total">%d<`, want.total)) {
			t.Errorf("%q: total is not %d: %s", query, want.total, p.body)
		}
		for stage, n := range map[string]int{"outreach": want.outreach, "contracting": want.contracting} {
			col := column(t, p.body, stage)
			if !strings.Contains(col, fmt.Sprintf(`<span class="count">%d</span>`, n)) || strings.Count(col, `<li class="card">`) != n {
				t.Errorf("%q: %s column is not %d cards counted %d: %s", query, stage, n, n, col)
			}
		}
	}
}

// TestConsoleDecline: before signing, ops decline with a reason from the collaboration
// page; without one the API's refusal is shown beside the form.
func TestConsoleDecline(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	u, path := signedIn(t, opsKey), "/console/collaborations/"+id
	if p := signedIn(t, reviewerKey).get(path); strings.Contains(p.body, `id="form-decline"`) {
		t.Fatal("a reviewer sees the decline form")
	}
	if r := u.submit(path, path+"/decline", url.Values{}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, `id="decline-error"`) || !strings.Contains(r.body, "<code>reason</code>") {
		t.Fatalf("decline without a reason: %d %s", r.status, r.body)
	}
	r := u.submit(path, path+"/decline", url.Values{"reason": {"creator said no"}})
	if r.status != http.StatusSeeOther || r.location != path+"?done=decline" {
		t.Fatalf("decline: %d %s %s", r.status, r.location, r.body)
	}
	waitForStage(t, id, "declined")
	if p := u.get(r.location); !strings.Contains(p.body, "Collaboration declined.") || strings.Contains(p.body, `id="form-decline"`) {
		t.Fatalf("page after declining: %s", p.body)
	}
}

// TestConsoleDraftAndPost: once signed (no decline any more), ops submit a draft for the
// creator, refused first without assets; after the review, they submit the live post's
// link, refused first when it is not a link; the post is then listed for verification.
func TestConsoleDraftAndPost(t *testing.T) {
	id := signedCollaboration(t)
	u, path := signedIn(t, opsKey), "/console/collaborations/"+id
	if p := u.get(path); !strings.Contains(p.body, `id="form-draft"`) || strings.Contains(p.body, `id="form-decline"`) || strings.Contains(p.body, `id="form-post"`) {
		t.Fatalf("signed collaboration's actions: %s", p.body)
	}
	if r := u.submit(path, path+"/draft", url.Values{"assets": {" \n "}, "caption": {"#ad hello"}}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, `id="draft-error"`) || !strings.Contains(r.body, "<code>assets</code>") || !strings.Contains(r.body, "#ad hello</textarea>") {
		t.Fatalf("draft without assets: %d %s", r.status, r.body)
	}
	r := u.submit(path, path+"/draft", url.Values{"assets": {"https://cdn.example.com/a.mp4\r\nhttps://cdn.example.com/b.jpg"}, "caption": {"#ad hello"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("draft: %d %s", r.status, r.body)
	}
	if p := u.get(r.location); !strings.Contains(p.body, "Draft submitted for review.") || !strings.Contains(p.body, "<code>https://cdn.example.com/b.jpg</code>") {
		t.Fatalf("page after the draft: %s", p.body)
	}
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/drafts/1/review", reviewerKey, `{"decision":"approve"}`))
	waitForStage(t, id, "awaiting_post")

	if p := u.get(path); !strings.Contains(p.body, "Submit post 1 of 1") {
		t.Fatalf("post form: %s", p.body)
	}
	if r := u.submit(path, path+"/post", url.Values{"url": {"not a link"}}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, `id="post-error"`) || !strings.Contains(r.body, "<code>url</code>") {
		t.Fatalf("post that is not a link: %d %s", r.status, r.body)
	}
	postURL, _ := postPageAs(t, "someone", "NOCODE")
	r = u.submit(path, path+"/post", url.Values{"url": {postURL}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("post: %d %s", r.status, r.body)
	}
	if p := u.get(r.location); !strings.Contains(p.body, "Post submitted for verification.") || !strings.Contains(p.body, "Post 1: <code>"+postURL) {
		t.Fatalf("page after the post: %s", p.body)
	}
}

// TestConsoleResolveEscalation: a kill fee the payout provider refuses waits for ops; the
// page shows the decision form, an override without a reason is refused beside it, and a
// retry lets the cancel finish.
func TestConsoleResolveEscalation(t *testing.T) {
	id := signedCollaboration(t)
	fast := newAPI(t, func(cfg *api.Config) { cfg.UpdateWait = 300 * time.Millisecond })
	refusePayouts(t, id, 1)
	must(t, 202, callAt(t, fast, "POST", "/v1/collaborations/"+id+"/cancel", opsKey, `{"reason":"brand pulled out"}`))
	u, path := signedIn(t, opsKey), "/console/collaborations/"+id
	eventually(t, "the decision form", func() bool { return strings.Contains(u.get(path).body, `id="form-resolve"`) })
	if p := signedIn(t, reviewerKey).get(path); strings.Contains(p.body, `id="form-resolve"`) {
		t.Fatal("a reviewer sees the decision form")
	}
	if r := u.submit(path, path+"/resolve", url.Values{"decision": {"override"}}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, `id="resolve-error"`) || !strings.Contains(r.body, "<code>reason</code>") {
		t.Fatalf("override without a reason: %d %s", r.status, r.body)
	}
	r := u.submit(path, path+"/resolve", url.Values{"decision": {"retry"}})
	if r.status != http.StatusSeeOther || r.location != path+"?done=resolve" {
		t.Fatalf("retry: %d %s %s", r.status, r.location, r.body)
	}
	waitForStage(t, id, "cancelled")
}
