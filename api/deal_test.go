package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/devenv/sendgridsink"
)

var (
	csrfField   = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	portalLinks = regexp.MustCompile(`http://collabflow\.test(/portal/[a-z]+/[A-Za-z0-9_.-]+)`)
)

// browser is a creator's browser: it keeps the portal's CSRF cookie.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{Jar: jar}}
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.client.Get(baseURL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// submit loads the form at path and posts it with fields and the page's CSRF token, and
// headers as name, value pairs.
func (b *browser) submit(path string, fields url.Values, headers ...string) (int, string) {
	b.t.Helper()
	status, page := b.get(path)
	m := csrfField.FindStringSubmatch(page)
	if status != 200 || m == nil {
		b.t.Fatalf("form at %s: %d %s", path, status, page)
	}
	fields.Set("_csrf", m[1])
	return b.post(path, fields, headers...)
}

func (b *browser) post(path string, fields url.Values, headers ...string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", baseURL+path, strings.NewReader(fields.Encode()))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TestBrowser/1.0")
	// A client's own claim to an address: not trusted without COLLABFLOW_TRUSTED_PROXIES.
	req.Header.Set("X-Forwarded-For", "203.0.113.99")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// mailOf waits for the collaboration's email of a kind and returns it.
func mailOf(t *testing.T, id, kind string, n int) sendgridsink.Received {
	t.Helper()
	var found []sendgridsink.Received
	eventually(t, fmt.Sprintf("%s email %d", kind, n), func() bool {
		found = nil
		for _, m := range sentTo(id) {
			if m.CustomArgs["kind"] == kind {
				found = append(found, m)
			}
		}
		return len(found) >= n
	})
	return found[n-1]
}

func linkIn(t *testing.T, m sendgridsink.Received) string {
	t.Helper()
	l := portalLinks.FindStringSubmatch(m.Text)
	if l == nil {
		t.Fatalf("no portal link in:\n%s", m.Text)
	}
	return l[1]
}

// TestFromReplyToApprovedContent walks a collaboration from a reply to awaiting_post
// through the API, the email sink and the creator portal over real HTTP.
func TestFromReplyToApprovedContent(t *testing.T) {
	r := must(t, 201, call(t, "POST", "/v1/campaigns", opsKey, map[string]any{
		"name": "Deal", "brand": "Acme", "sender_email": "collabs@acme.test", "disclosure_text": "#AcmePartner",
		"compensation": map[string]any{"fixed_fee": 100000},
		"brief":        map[string]any{"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 1}}, "dos": []string{"show the logo"}},
		"timings":      map[string]any{"reply_wait": "1h", "follow_up_delays": []string{"1h", "1h"}},
		"send_window":  map[string]any{"start": "00:00", "end": "24:00", "days": []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
	}))
	id := start(t, r.str("id"), newCreator(t))
	state := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{"note":"replied by DM"}`))
	if state.str("stage") != "negotiating" || len(state.Body["offers"].([]any)) != 1 {
		t.Fatalf("after reply: %s", state.Raw)
	}

	counter := map[string]any{"from": "creator", "note": "more for two reels", "terms": map[string]any{
		"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 2, "due_date": "2027-02-01"}},
		"currency":     "USD", "fixed_fee": 180000, "kill_fee": 40000, "usage_rights_days": 60, "disclosure_text": "#AcmePartner", "revision_rounds": 2,
	}}
	bad := must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/offers", opsKey, `{"from":"creator","terms":{"currency":"usd"}}`))
	if bad.field("terms.currency") == "" || bad.field("terms.deliverables") == "" {
		t.Fatalf("bad offer: %s", bad.Raw)
	}
	offered := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/offers", opsKey, counter))
	if n := len(offered.Body["offers"].([]any)); n != 2 {
		t.Fatalf("%d offers after a refused and an accepted one", n)
	}
	must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/accept", opsKey, `{"offer":1}`))
	if s := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/accept", opsKey, `{}`)).str("stage"); s != "contracting" {
		t.Fatalf("accept gave %s", s)
	}

	// The creator opens the contract link from the email and signs it.
	contractPath := linkIn(t, mailOf(t, id, "contract", 1))
	b := newBrowser(t)
	status, page := b.get(contractPath)
	if status != 200 || !strings.Contains(page, "USD 1,800.00") || !strings.Contains(page, "#AcmePartner") || !strings.Contains(page, "kill fee of USD 400.00") {
		t.Fatalf("contract page %d:\n%s", status, page)
	}
	forged := contractPath[:len(contractPath)-4] + "AAAA"
	if status, page := b.get(forged); status != 400 || !strings.Contains(page, "not made by us") {
		t.Fatalf("forged link: %d %s", status, page)
	}
	if status, _ := b.post(contractPath, url.Values{"name": {"Ada Lovelace"}, "agree": {"yes"}}); status != 403 {
		t.Fatalf("a post without the CSRF token: %d", status)
	}
	token := csrfField.FindStringSubmatch(page)[1]
	if status, _ := b.post(forged, url.Values{"name": {"Ada Lovelace"}, "agree": {"yes"}, "_csrf": {token}}); status != 400 {
		t.Fatalf("signing through a forged link: %d", status)
	}
	if status, page := b.submit(contractPath, url.Values{"name": {"Ada"}, "agree": {""}}); status != 422 {
		t.Fatalf("sign without agreeing: %d %s", status, page)
	}
	if status, page := b.submit(contractPath, url.Values{"name": {" Ada   Lovelace "}, "agree": {"yes"}}); status != 200 || !strings.Contains(page, "Thank you") {
		t.Fatalf("sign: %d %s", status, page)
	}
	waitForStage(t, id, "in_production")
	if status, page := b.get(contractPath); status != 200 || !strings.Contains(page, "Signed by Ada Lovelace") || csrfField.MatchString(page) {
		t.Fatalf("contract page after signing: %d %s", status, page)
	}
	if status, page := b.post(contractPath, url.Values{"name": {"Mallory"}, "agree": {"yes"}, "_csrf": {token}}); status != 409 || !strings.Contains(page, "already signed") {
		t.Fatalf("signing twice: %d %s", status, page)
	}
	k := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/contract", auditorKey, nil))
	sig, _ := k.Body["signature"].(map[string]any)
	if sig == nil || sig["name"] != "Ada Lovelace" || sig["ip"] == "" || sig["user_agent"] != "TestBrowser/1.0" || len(k.str("sha256")) != 64 {
		eventually(t, "the signature in the contract row", func() bool {
			k = must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/contract", auditorKey, nil))
			sig, _ = k.Body["signature"].(map[string]any)
			return sig != nil && sig["name"] == "Ada Lovelace" && sig["user_agent"] == "TestBrowser/1.0"
		})
	}
	if sig["ip"] != "127.0.0.1" {
		t.Fatalf("signature recorded IP %v: a client header was believed", sig["ip"])
	}
	// I9: where the contract was signed from is for ops and auditors; reviewers and
	// finance see who signed and when, without the fields at all.
	for _, tc := range []struct {
		role, key string
		details   bool
	}{
		{api.RoleOps, opsKey, true},
		{api.RoleAuditor, auditorKey, true},
		{api.RoleReviewer, reviewerKey, false},
		{api.RoleFinance, financeKey, false},
	} {
		k := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/contract", tc.key, nil))
		sig, _ := k.Body["signature"].(map[string]any)
		_, hasIP := sig["ip"]
		_, hasUA := sig["user_agent"]
		if sig["name"] != "Ada Lovelace" || sig["at"] == nil || hasIP != tc.details || hasUA != tc.details ||
			len(k.str("sha256")) != 64 || k.str("html") == "" {
			t.Errorf("%s reads the contract as %s", tc.role, k.Raw)
		}
		if tc.details && (sig["ip"] != "127.0.0.1" || sig["user_agent"] != "TestBrowser/1.0") {
			t.Errorf("%s: signer details %v", tc.role, sig)
		}
	}

	// The brief links to the content portal; the first draft lacks the disclosure.
	brief := mailOf(t, id, "brief", 1)
	if !strings.Contains(brief.Text, "show the logo") || !strings.Contains(brief.Text, "2 x reel on instagram, due 2027-02-01") {
		t.Fatalf("brief:\n%s", brief.Text)
	}
	contentPath := linkIn(t, brief)
	if status, page := b.submit(contentPath, url.Values{"assets": {"https://cdn.example.com/draft1.mp4\n"}, "caption": {"New reels are here"}}); status != 200 {
		t.Fatalf("draft through the portal: %d %s", status, page)
	}
	waitForStage(t, id, "in_review")
	noDisclosure := must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/drafts/1/review", reviewerKey, `{"decision":"approve"}`))
	if !strings.Contains(noDisclosure.field("decision"), "#AcmePartner") {
		t.Fatalf("approve without disclosure: %s", noDisclosure.Raw)
	}
	must(t, 403, call(t, "POST", "/v1/collaborations/"+id+"/drafts/1/review", auditorKey, `{"decision":"changes","comments":"x"}`))
	must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/drafts/1/review", reviewerKey, `{"decision":"changes"}`))
	must(t, 409, call(t, "POST", "/v1/collaborations/"+id+"/drafts/7/review", reviewerKey, `{"decision":"changes","comments":"x"}`))
	back := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/drafts/1/review", reviewerKey, `{"decision":"changes","comments":"Start the caption with #AcmePartner"}`))
	if back.str("stage") != "in_production" {
		t.Fatalf("changes gave %s", back.Raw)
	}
	if changes := mailOf(t, id, "changes", 1); !strings.Contains(changes.Text, "> Start the caption with #AcmePartner") {
		t.Fatalf("changes email:\n%s", changes.Text)
	}

	// Ops submit the second draft for the creator; the reviewer approves it.
	must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/drafts", opsKey, `{"assets":["not a link"],"caption":"x"}`))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/drafts", opsKey, `{"assets":["https://cdn.example.com/draft2.mp4"],"caption":"#AcmePartner New reels are here"}`))
	approved := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/drafts/2/review", reviewerKey, `{"decision":"approve","comments":"Great"}`))
	if approved.str("stage") != "awaiting_post" {
		t.Fatalf("approve gave %s", approved.Raw)
	}
	kept := approved.Body["approved"].(map[string]any)
	if kept["caption"] != "#AcmePartner New reels are here" || kept["assets"].([]any)[0] != "https://cdn.example.com/draft2.mp4" {
		t.Fatalf("approved draft %v", kept)
	}
	// The content link now takes the live post instead of drafts.
	if status, page := b.get(contentPath); status != 200 || !strings.Contains(page, "Submit your live post") || !strings.Contains(page, "#AcmePartner") {
		t.Fatalf("content page after approval: %d %s", status, page)
	}
	// The creator's portal actions are in the timeline as the creator's, with request IDs.
	tl := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/timeline", auditorKey, nil))
	byCreator := map[string]bool{}
	for _, e := range tl.Body["entries"].([]any) {
		m := e.(map[string]any)
		if a, ok := m["actor"].(map[string]any); ok && a["role"] == "creator" && m["request_id"] != "" {
			byCreator[m["what"].(string)] = true
		}
	}
	if !byCreator["contract signed"] || !byCreator["draft submitted"] {
		t.Fatalf("creator actions in the timeline: %v", byCreator)
	}
	must(t, 409, call(t, "POST", "/v1/collaborations/"+id+"/decline", opsKey, `{"reason":"too late"}`))
	cancelled := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/cancel", opsKey, `{"reason":"campaign cut"}`))
	// Cancelled after signing: the contract's kill fee goes to the ledger.
	fees := cancelled.Body["payouts"].([]any)
	if len(fees) != 1 || fees[0].(map[string]any)["kind"] != "kill_fee" || fees[0].(map[string]any)["amount"].(float64) != 40000 {
		t.Fatalf("kill fee: %v", fees)
	}
	exportHistory(t, id, "revision-loop-cancelled-with-kill-fee")
}

// TestPortalTakesCSRFFromBodyOnly (I-N1, as for the console): a portal form's CSRF token
// counts only in the POST body. One in the query string is refused like a missing one,
// since a token in a URL ends up in logs and browser history. The link is not a valid
// one, so a request past the CSRF check is answered "Link not valid" (400) and changes
// nothing.
func TestPortalTakesCSRFFromBodyOnly(t *testing.T) {
	const path = "/portal/contracts/not-a-link"
	b := newBrowser(t)
	b.get(path)
	u, _ := url.Parse(baseURL + path)
	var token string
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "_csrf" {
			token = c.Value
		}
	}
	if token == "" {
		t.Fatal("the portal set no CSRF cookie")
	}
	q := "?_csrf=" + url.QueryEscape(token)
	for _, tc := range []struct {
		name, query, body string
		want              int
	}{
		{"query only", q, "", http.StatusForbidden},
		{"query right, body wrong", q, "wrong", http.StatusForbidden},
		{"body", "", token, http.StatusBadRequest},
		{"neither", "", "", http.StatusForbidden},
	} {
		fields := url.Values{"name": {"Ada Lovelace"}, "agree": {"yes"}}
		if tc.body != "" {
			fields.Set("_csrf", tc.body)
		}
		status, page := b.post(path+tc.query, fields)
		if status != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, status, tc.want, page)
		}
		if tc.want == http.StatusForbidden && !strings.Contains(page, "Form expired") {
			t.Errorf("%s: not the portal's own refusal: %s", tc.name, page)
		}
	}
}
