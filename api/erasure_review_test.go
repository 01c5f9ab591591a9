package api_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// signOpeningOffer takes a new collaboration whose campaign makes an opening offer to
// in_production: ops record a reply and accept the offer, and the creator signs in the
// returned browser.
func signOpeningOffer(t *testing.T, id string) *browser {
	t.Helper()
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{}`))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/accept", opsKey, `{}`))
	b := newBrowser(t)
	if status, page := b.submit(linkIn(t, mailOf(t, id, "contract", 1)), url.Values{"name": {"Ada Lovelace"}, "agree": {"yes"}}); status != 200 {
		t.Fatalf("sign: %d %s", status, page)
	}
	waitForStage(t, id, "in_production")
	return b
}

// storedAnswersHolding names the needles found in idempotency_keys (route, body, any
// column), where stored answers to Idempotency-Key requests live.
func storedAnswersHolding(t *testing.T, needles ...string) []string {
	t.Helper()
	found, err := st.TablesContaining(context.Background(), needles...)
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, f := range found {
		if strings.HasPrefix(f, "idempotency_keys: ") {
			held = append(held, f)
		}
	}
	return held
}

// TestPortalAnswersKeepNoLinkTokenOrTypedName is the security review's L-N2: a creator's
// client signs and submits a draft through the portal with an Idempotency-Key. The stored
// answers hold neither link token (a working credential) nor the typed signature name; a
// repeat still gets an answer (its status, with a page saying it was received) and is not
// applied twice. Erasing the creator then deletes every stored answer about their
// collaboration, also the API's (which carry post URLs, captions and codes and quote no
// name or address, so a search by name missed them).
func TestPortalAnswersKeepNoLinkTokenOrTypedName(t *testing.T) {
	seq++
	typed := fmt.Sprintf("Zq7Typed%d Signature", seq)
	creator := newCreatorWithHandle(t)
	id := start(t, newCampaign(t), creator)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{}`, "Idempotency-Key", "reply-1"))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/offers", opsKey, map[string]any{"from": "brand", "terms": map[string]any{
		"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 1}},
		"currency":     "USD", "fixed_fee": 100000, "disclosure_text": "#ad",
	}}, "Idempotency-Key", "offer-1"))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/accept", opsKey, `{}`))

	// The creator's client posts each form twice with one key, as after a lost answer.
	b := newBrowser(t)
	twice := func(path string, form url.Values, key, want, wantRepeat string) {
		t.Helper()
		_, page := b.get(path)
		csrf := csrfField.FindStringSubmatch(page)
		if csrf == nil {
			t.Fatalf("no form at %s: %s", path, page)
		}
		form.Set("_csrf", csrf[1])
		for _, w := range []string{want, wantRepeat} {
			if status, page := b.post(path, form, "Idempotency-Key", key); status != 200 || !strings.Contains(page, w) {
				t.Fatalf("%s: %d, want %q: %s", path, status, w, page)
			}
		}
	}
	contract := linkIn(t, mailOf(t, id, "contract", 1))
	twice(contract, url.Values{"name": {typed}, "agree": {"yes"}}, "sign-1", "Signed", "Thank you")
	waitForStage(t, id, "in_production")
	content := linkIn(t, mailOf(t, id, "brief", 1))
	twice(content, url.Values{"assets": {"https://cdn.example.com/a.mp4"}, "caption": {"#ad hello"}}, "draft-1", "Draft received", "Thank you")
	waitForStage(t, id, "in_review")
	if drafts := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Body["drafts"].([]any); len(drafts) != 1 {
		t.Fatalf("%d drafts after a repeated post", len(drafts))
	}

	tokens := []string{strings.TrimPrefix(contract, "/portal/contracts/"), strings.TrimPrefix(content, "/portal/content/")}
	if held := storedAnswersHolding(t, append(tokens, typed)...); len(held) > 0 {
		t.Fatalf("stored answers hold a link token or the typed name:\n%s", strings.Join(held, "\n"))
	}
	// The search sees stored answers: the API's, and the portal's routes by pattern.
	if len(storedAnswersHolding(t, id)) == 0 || len(storedAnswersHolding(t, "POST /portal/contracts/link:")) == 0 {
		t.Fatalf("no stored answer found for %s: not the table in use?", id)
	}

	must(t, 200, call(t, "DELETE", "/v1/creators/"+creator, opsKey, nil))
	if held := storedAnswersHolding(t, id); len(held) > 0 {
		t.Fatalf("stored answers about the erased creator's collaboration are left:\n%s", strings.Join(held, "\n"))
	}
}

// TestErasedCreatorsHandleLeavesReadViews is the security review's L-N3: a creator's
// handle is in their post's URL, its verification evidence, the draft's asset URL and
// caption. A new discount code and tracking link are not made from it. Once the creator
// is erased, the API's collaboration, timeline and replay answers and the console's page
// (for every role) show none of it, nor the code; PostgreSQL keeps only the code's hash.
func TestErasedCreatorsHandleLeavesReadViews(t *testing.T) {
	seq++
	handle := fmt.Sprintf("zq7handle%d", seq)
	creator := must(t, 201, call(t, "POST", "/v1/creators", opsKey, map[string]any{
		"name": fmt.Sprintf("Creator %d", seq), "email": fmt.Sprintf("c%d-views@example.com", seq), "timezone": "UTC",
		"handles": map[string]string{"instagram": handle},
	})).str("id")
	campaign := must(t, 201, call(t, "POST", "/v1/campaigns", opsKey, map[string]any{
		"name": "Views " + t.Name(), "brand": "Acme", "sender_email": "collabs@acme.test", "landing_url": "https://acme.test/spring",
		"compensation": map[string]any{"fixed_fee": 100000},
		"brief":        map[string]any{"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 1}}},
		"timings":      map[string]any{"reply_wait": "1h", "follow_up_delays": []string{"1h", "1h"}, "live_window": "1h", "verification_interval": "1h"},
		"send_window":  map[string]any{"start": "00:00", "end": "24:00", "days": []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
	})).str("id")
	id := start(t, campaign, creator)
	b := signOpeningOffer(t, id)
	content := linkIn(t, mailOf(t, id, "brief", 1))
	if status, page := b.submit(content, url.Values{"assets": {"https://cdn.example.com/" + handle + "/a.mp4"}, "caption": {"#ad spring kit from @" + handle}}); status != 200 {
		t.Fatalf("draft: %d %s", status, page)
	}
	waitForStage(t, id, "in_review")
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/drafts/1/review", reviewerKey, `{"decision":"approve"}`))
	attr := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Body["attribution"].(map[string]any)
	code, link := attr["code"].(string), attr["tracking_url"].(string)
	if strings.Contains(strings.ToLower(code+link), handle) || code == "" {
		t.Fatalf("code %q and link %q are made from the handle %s", code, link, handle)
	}
	postURL, _ := postPageAs(t, handle, code)
	if status, page := b.submit(content, url.Values{"post_url": {postURL}}); status != 200 {
		t.Fatalf("post: %d %s", status, page)
	}
	waitForStage(t, id, "live")

	consoleOps, consoleReviewer := signedIn(t, opsKey), signedIn(t, reviewerKey)
	views := map[string]func() string{
		"API, ops": func() string { return string(must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Raw) },
		"API, reviewer": func() string {
			return string(must(t, 200, call(t, "GET", "/v1/collaborations/"+id, reviewerKey, nil)).Raw)
		},
		"timeline, auditor": func() string {
			return string(must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/timeline", auditorKey, nil)).Raw)
		},
		"console, ops":      func() string { return consoleOps.get("/console/collaborations/" + id).body },
		"console, reviewer": func() string { return consoleReviewer.get("/console/collaborations/" + id).body },
	}
	// Before erasure each view shows the post, so the checks below can see it.
	for name, view := range views {
		if !strings.Contains(strings.ToLower(view()), handle) {
			t.Fatalf("%s does not show the handle %s before erasure: not the page checked?", name, handle)
		}
	}

	must(t, 200, call(t, "DELETE", "/v1/creators/"+creator, opsKey, nil))
	views["replay, auditor"] = func() string {
		return string(must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replay", auditorKey, nil)).Raw)
	}
	for name, view := range views {
		shown := strings.ToLower(view())
		for _, s := range []string{handle, strings.ToLower(code)} {
			if strings.Contains(shown, s) {
				t.Errorf("%s shows %q after erasure:\n%s", name, s, shown)
			}
		}
		if !strings.Contains(shown, "[erased]") {
			t.Errorf("%s shows no [erased] mark", name)
		}
	}
	found, err := st.TablesContaining(context.Background(), handle, code)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("PostgreSQL still holds the handle or the code after erasure:\n%s", strings.Join(found, "\n"))
	}
}
