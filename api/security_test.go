package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// Tests for the security review of 2026-11-28 (../shared/reviews/security-2026-11-28.md).

// tokenInPath finds link tokens in text: /portal/<page>/<token> and /u/<token>.
var tokenInPath = regexp.MustCompile(`/(?:portal/[a-z]+|u)/([A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+)`)

// H1: reviewer, finance and auditor read the email log with every link token and the
// reply token redacted; ops read it as sent. A portal action records which link it used
// (a short hash of the token, never the token) and the server's request ID, not the
// client's. L9: the signer's user agent is stored cut to 512 bytes.
func TestEmailLogRedactsCreatorLinksForReadOnlyRoles(t *testing.T) {
	// The first outreach email (with its unsubscribe link) goes out before the reply.
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first outreach email", func() bool { return len(sentTo(id)) == 1 })
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{}`))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/offers", opsKey, offerWithCode("")))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/accept", opsKey, `{}`))
	mailOf(t, id, "contract", 1)
	var asSent []map[string]any
	eventually(t, "the contract email in the log", func() bool {
		asSent = emailLog(t, id, opsKey)
		kinds := map[string]bool{}
		for _, e := range asSent {
			kinds[e["kind"].(string)] = e["status"] == "sent"
		}
		return kinds["contract"] && kinds["outreach"]
	})
	var tokens []string
	for _, e := range asSent {
		for _, m := range tokenInPath.FindAllStringSubmatch(e["body_text"].(string), -1) {
			tokens = append(tokens, m[1])
		}
		if _, reply, ok := strings.Cut(e["reply_to"].(string), "reply+"); ok {
			tokens = append(tokens, strings.Split(reply, "@")[0])
		}
	}
	hasUnsubscribe := false
	for _, e := range asSent {
		hasUnsubscribe = hasUnsubscribe || strings.Contains(e["body_text"].(string), "/u/")
	}
	if len(tokens) < 3 || !hasUnsubscribe {
		t.Fatalf("ops should see the bodies as sent, with the contract, unsubscribe and reply tokens: %v", asSent)
	}
	for _, key := range []string{reviewerKey, financeKey, auditorKey} {
		r := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/emails", key, nil))
		for _, tok := range tokens {
			if strings.Contains(string(r.Raw), tok) {
				t.Fatalf("a read-only role got the token %s:\n%s", tok, r.Raw)
			}
		}
		if !strings.Contains(string(r.Raw), "/portal/contracts/[link redacted]") || !strings.Contains(string(r.Raw), "/u/[link redacted]") ||
			!strings.Contains(string(r.Raw), "reply+[token redacted]@") {
			t.Fatalf("the log should keep the emails with the tokens marked as redacted:\n%s", r.Raw)
		}
	}

	// The creator signs with a 4 KB user agent and a forged X-Request-ID.
	contractPath := linkIn(t, mailOf(t, id, "contract", 1))
	token := strings.TrimPrefix(contractPath, "/portal/contracts/")
	b := newBrowser(t)
	_, page := b.get(contractPath)
	csrf := csrfField.FindStringSubmatch(page)[1]
	form := url.Values{"name": {"Ada Lovelace"}, "agree": {"yes"}, "_csrf": {csrf}}
	req, _ := http.NewRequest("POST", baseURL+contractPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Long/"+strings.Repeat("é", 2000))
	req.Header.Set("X-Request-ID", "audit-forged-by-ops-bob")
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	signedPage, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(signedPage), "Thank you") || resp.Header.Get("X-Request-ID") == "audit-forged-by-ops-bob" {
		t.Fatalf("sign: %d, request ID %q: %s", resp.StatusCode, resp.Header.Get("X-Request-ID"), signedPage)
	}
	sum := sha256.Sum256([]byte(token))
	wantLink := "link:" + hex.EncodeToString(sum[:6])
	var tl response
	var signed map[string]any
	eventually(t, "the signature in the timeline", func() bool {
		tl = must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/timeline", auditorKey, nil))
		for _, e := range tl.Body["entries"].([]any) {
			if m := e.(map[string]any); m["what"] == "contract signed" {
				signed = m
			}
		}
		return signed != nil
	})
	rid, _ := signed["request_id"].(string)
	if !strings.HasPrefix(rid, resp.Header.Get("X-Request-ID")+" ") || !strings.HasSuffix(rid, wantLink) ||
		strings.Contains(string(tl.Raw), token) || strings.Contains(string(tl.Raw), "forged") {
		t.Fatalf("signature's request ID %q, want the server's ID and %s: %v\n%s", rid, wantLink, signed, tl.Raw)
	}
	var ua string
	eventually(t, "the signature in the contract row", func() bool {
		k := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/contract", auditorKey, nil))
		sig, _ := k.Body["signature"].(map[string]any)
		ua, _ = sig["user_agent"].(string)
		return ua != ""
	})
	if len(ua) > 512 || !strings.HasPrefix(ua, "Long/éé") || !json.Valid([]byte(`"`+ua+`"`)) {
		t.Fatalf("stored user agent of %d bytes: %.40q…", len(ua), ua)
	}

	// Portal text fields are capped before they reach the workflow.
	contentPath := linkIn(t, mailOf(t, id, "brief", 1))
	status, page := b.submit(contentPath, url.Values{"assets": {"https://cdn.example.com/" + strings.Repeat("a", 2001)}, "caption": {"#ad hi"}})
	if status != 422 || !strings.Contains(page, "2000 characters") {
		t.Fatalf("an asset link of 2 KB: %d %s", status, page)
	}
	status, page = b.submit(contentPath, url.Values{"assets": {"https://cdn.example.com/a.mp4"}, "caption": {strings.Repeat("x", 2201)}})
	if status != 422 || !strings.Contains(page, "2200 characters") {
		t.Fatalf("a caption of 2201 characters: %d %s", status, page)
	}
}

func emailLog(t *testing.T, id, key string) []map[string]any {
	t.Helper()
	r := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/emails", key, nil))
	var out []map[string]any
	for _, e := range r.Body["items"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// logBuffer collects an API instance's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// requestLines are the request log's lines, decoded.
func (l *logBuffer) requestLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

func loggingAPI(t *testing.T, logs *logBuffer, tweaks ...func(*api.Config)) string {
	return newAPI(t, append([]func(*api.Config){func(cfg *api.Config) {
		cfg.Logger = slogJSON(logs)
	}}, tweaks...)...)
}

// L2: the request log names the route and a path with link tokens cut, never a token.
// L3: the request ID is the server's; a client's X-Request-ID of at most 128 printable
// characters is logged apart as client_request_id, a longer one is dropped.
func TestRequestLogHasNoTokensAndServerRequestIDs(t *testing.T) {
	logs := &logBuffer{}
	base := loggingAPI(t, logs)
	secret := "c2VjcmV0LXRva2VuLWZvci10ZXN0.AAAAsecretsig"
	long := strings.Repeat("R", 129)
	for _, tc := range []struct{ path, clientID string }{
		{"/portal/contracts/" + secret, "client-id-1"},
		{"/portal/content/" + secret, strings.Repeat("k", 128)},
		{"/u/" + secret, long},
		{"/x/../u/" + secret + "/more", ""},
	} {
		r := callAt(t, base, "GET", tc.path, "", nil, "X-Request-ID", tc.clientID)
		if got := r.Header.Get("X-Request-ID"); got == "" || got == tc.clientID {
			t.Fatalf("%s: request ID %q, want the server's own", tc.path, got)
		}
	}
	var lines []map[string]any
	eventually(t, "four request lines", func() bool {
		lines = logs.requestLines(t)
		return len(lines) >= 4
	})
	if strings.Contains(logs.String(), "secret") {
		t.Fatalf("a link token in the log:\n%s", logs.String())
	}
	byRoute := map[string]map[string]any{}
	for _, l := range lines {
		byRoute[l["route"].(string)] = l
	}
	contract, content, unsubscribe := byRoute["/portal/contracts/:token"], byRoute["/portal/content/:token"], byRoute["/u/:token"]
	if contract == nil || content == nil || unsubscribe == nil || contract["path"] != "/portal/[link redacted]" {
		t.Fatalf("routes and paths: %v", lines)
	}
	if contract["client_request_id"] != "client-id-1" || content["client_request_id"] != strings.Repeat("k", 128) {
		t.Fatalf("client request IDs: %v / %v", contract, content)
	}
	if _, ok := unsubscribe["client_request_id"]; ok || strings.Contains(logs.String(), long) {
		t.Fatalf("a 129-character client request ID was kept: %v", unsubscribe)
	}
	for _, l := range lines {
		if id, _ := l["request_id"].(string); len(id) != 36 {
			t.Fatalf("request_id %q is not the server's", id)
		}
	}
}

// L8: /readyz says which dependency is unavailable, never why: the error (addresses,
// users, database names) goes to the log.
func TestReadyzShowsNoErrorDetails(t *testing.T) {
	ctx := context.Background()
	dbURL, drop, err := storetest.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drop() })
	closed, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	dead, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dead.Close)
	logs := &logBuffer{}
	base := loggingAPI(t, logs, func(cfg *api.Config) { cfg.Store, cfg.Temporal = closed, dead })
	r := must(t, 503, callAt(t, base, "GET", "/readyz", "", nil))
	checks, _ := r.Body["checks"].(map[string]any)
	if checks["database"] != "unavailable" || checks["migrations"] != "unavailable" || checks["temporal"] != "unavailable" || len(checks) != 3 {
		t.Fatalf("readyz: %s", r.Raw)
	}
	if strings.Contains(string(r.Raw), "127.0.0.1") {
		t.Fatalf("readyz shows an address: %s", r.Raw)
	}
	eventually(t, "the details in the log", func() bool {
		s := logs.String()
		return strings.Contains(s, `"check":"database"`) && strings.Contains(s, "127.0.0.1:1")
	})
}

// L5, L10: an id is a canonical lower-case UUID. Upper case names the same campaign,
// creator and collaboration (one workflow); urn:uuid: and {…} forms are refused with 422
// naming the field, in bodies, paths and query strings.
func TestIDsAreCanonicalUUIDs(t *testing.T) {
	campaign, creator := newCampaign(t), newCreator(t)
	upper := func(s string) string { return strings.ToUpper(s) }
	want := "collab-" + campaign + "-" + creator
	r := must(t, 201, call(t, "POST", "/v1/collaborations", opsKey, map[string]string{"campaign_id": upper(campaign), "creator_id": creator}))
	if r.str("id") != want || r.str("campaign_id") != campaign {
		t.Fatalf("start with an upper-case campaign id: %s", r.Raw)
	}
	if r := must(t, 200, call(t, "POST", "/v1/collaborations", opsKey, map[string]string{"campaign_id": campaign, "creator_id": upper(creator)})); r.str("id") != want {
		t.Fatalf("the same pair again: %s", r.Raw)
	}
	if r := must(t, 200, call(t, "GET", "/v1/collaborations/collab-"+upper(campaign)+"-"+upper(creator), auditorKey, nil)); r.str("id") != want {
		t.Fatalf("get by upper-case id: %s", r.Raw)
	}
	if r := must(t, 200, call(t, "GET", "/v1/creators/"+upper(creator), auditorKey, nil)); r.str("id") != creator {
		t.Fatalf("creator by upper-case id: %s", r.Raw)
	}
	must(t, 200, call(t, "GET", "/v1/campaigns/"+upper(campaign), auditorKey, nil))
	waitForListed(t, "campaign_id="+upper(campaign), want, "outreach")

	for _, bad := range []string{"urn:uuid:" + campaign, "{" + campaign + "}", strings.ReplaceAll(campaign, "-", "")} {
		r := must(t, 422, call(t, "POST", "/v1/collaborations", opsKey, map[string]string{"campaign_id": bad, "creator_id": creator}))
		if r.field("campaign_id") == "" {
			t.Fatalf("start with campaign %s: %s", bad, r.Raw)
		}
		r = must(t, 422, call(t, "POST", "/v1/collaborations", opsKey, map[string]string{"campaign_id": campaign, "creator_id": bad}))
		if r.field("creator_id") == "" {
			t.Fatalf("start with creator %s: %s", bad, r.Raw)
		}
		for _, path := range []string{"/v1/creators/", "/v1/campaigns/"} {
			if r := must(t, 422, call(t, "GET", path+url.PathEscape(bad), financeKey, nil)); r.field("id") == "" {
				t.Fatalf("%s%s: %s", path, bad, r.Raw)
			}
		}
		for _, q := range []string{"/v1/collaborations?campaign_id=", "/v1/collaborations?creator_id=", "/v1/creators?after=", "/v1/campaigns?after=", "/v1/payouts?after="} {
			r := must(t, 422, call(t, "GET", q+url.QueryEscape(bad), financeKey, nil))
			field := q[strings.Index(q, "?")+1 : len(q)-1]
			if r.field(field) == "" {
				t.Fatalf("%s%s: %s", q, bad, r.Raw)
			}
		}
	}
}

func slogJSON(w *logBuffer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// I3: the portal and unsubscribe pages, whose URLs are bearer tokens, answer with a
// Content-Security-Policy that allows nothing but their own style sheet (by hash, checked
// here against the <style> the page holds), forms to this site, no framing and no <base>;
// every answer, pages and JSON, says Referrer-Policy: no-referrer and nosniff; HSTS comes
// with an https public URL only.
func TestSecurityHeaders(t *testing.T) {
	plain, https := baseURL, newAPI(t, func(cfg *api.Config) { cfg.SecureCookies = true })
	for _, base := range []string{plain, https} {
		hsts := ""
		if base == https {
			hsts = "max-age=31536000"
		}
		for _, tc := range []struct {
			path, key string
			page      bool
		}{
			{"/portal/contracts/not-a-token.x", "", true},
			{"/portal/content/not-a-token.x", "", true},
			{"/u/not-a-token.x", "", true},
			{"/v1/creators?limit=1", opsKey, false},
			{"/v1/creators", "", false}, // a 401
			{"/healthz", "", false},
		} {
			r := callAt(t, base, "GET", tc.path, tc.key, nil)
			h := r.Header
			if h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" ||
				h.Get("X-Frame-Options") != "DENY" || h.Get("Strict-Transport-Security") != hsts {
				t.Errorf("%s%s: %d, headers %v", base, tc.path, r.Status, h)
			}
			csp := h.Get("Content-Security-Policy")
			if !tc.page {
				if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
					t.Errorf("%s: not a JSON answer: %v", tc.path, h)
				}
				continue
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Errorf("%s: not a page: %d %v", tc.path, r.Status, h)
			}
			for _, want := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s: CSP %q lacks %q", tc.path, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
				t.Errorf("%s: CSP %q", tc.path, csp)
			}
			style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindSubmatch(r.Raw)
			if style == nil {
				t.Fatalf("%s: no style sheet in %s", tc.path, r.Raw)
			}
			sum := sha256.Sum256(style[1])
			if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, "style-src ") || !strings.Contains(csp, hash) {
				t.Errorf("%s: CSP %q does not allow the page's style sheet %s", tc.path, csp, hash)
			}
		}
	}
}
