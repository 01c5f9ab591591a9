package api_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

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
