package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// controlTexts are characters no person types into a form: each is refused in every
// field. bidiTexts are refused in names that are displayed.
var (
	controlTexts = map[string]string{
		"NUL": "\x00", "SOH": "\x01", "ESC": "\x1b[31m", "DEL": "\x7f", "C1 NEL": "\u0085", "C1 CSI": "\u009b",
		"not UTF-8": "\xff",
	}
	bidiTexts = map[string]string{
		"RLO U+202E": "\u202e", "LRE U+202A": "\u202a", "RLI U+2067": "\u2067", "PDI U+2069": "\u2069",
		"RLM U+200F": "\u200f", "LRM U+200E": "\u200e", "ALM U+061C": "\u061c",
	}
)

// TestPortalRefusesControlCharactersNamingTheField: every field of the portal's contract
// and content forms with a NUL, a C0 or C1 control character or bytes that are not UTF-8
// is a 422 page naming the field (before, a NUL in the typed name was a 500 from
// PostgreSQL and the others were stored); the typed name also refuses bidirectional
// controls. Nothing is signed or submitted, and a plain name then signs. The console's
// reply note is refused the same way, by the API it calls.
func TestPortalRefusesControlCharactersNamingTheField(t *testing.T) {
	campaign := must(t, 201, call(t, "POST", "/v1/campaigns", opsKey, map[string]any{
		"name": "Text " + t.Name(), "brand": "Acme", "sender_email": "collabs@acme.test", "compensation": map[string]any{"fixed_fee": 100000},
		"brief":       map[string]any{"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 1}}},
		"timings":     map[string]any{"reply_wait": "1h", "follow_up_delays": []string{"1h", "1h"}},
		"send_window": map[string]any{"start": "00:00", "end": "24:00", "days": []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
	})).str("id")
	id := start(t, campaign, newCreatorWithHandle(t))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{}`))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/accept", opsKey, `{}`))
	contractLink := linkIn(t, mailOf(t, id, "contract", 1))
	b := newBrowser(t)

	refused := func(t *testing.T, path string, form url.Values, field string) {
		t.Helper()
		status, page := b.submit(path, form)
		if status != 422 || !strings.Contains(page, `data-field="`+field+`"`) || !strings.Contains(page, "("+field+")") {
			t.Fatalf("%v: %d, want 422 naming %s:\n%s", form, status, field, page)
		}
	}
	signForm := func(name string) url.Values { return url.Values{"name": {name}, "agree": {"yes"}} }
	for what, bad := range controlTexts {
		t.Run("name "+what, func(t *testing.T) { refused(t, contractLink, signForm("Ada"+bad+"Lovelace"), "name") })
		t.Run("agree "+what, func(t *testing.T) {
			refused(t, contractLink, url.Values{"name": {"Ada Lovelace"}, "agree": {"yes" + bad}}, "agree")
		})
	}
	for what, bad := range bidiTexts {
		t.Run("name "+what, func(t *testing.T) { refused(t, contractLink, signForm("Ada "+bad+"ecalevoL"), "name") })
	}
	if k := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/contract", opsKey, nil)); k.Body["signature"] != nil {
		t.Fatalf("a refused name was signed: %s", k.Raw)
	}
	if status, page := b.submit(contractLink, signForm("Ada Lovelace")); status != 200 {
		t.Fatalf("plain name: %d %s", status, page)
	}
	waitForStage(t, id, "in_production")

	contentLink := linkIn(t, mailOf(t, id, "brief", 1))
	for what, bad := range controlTexts {
		for _, tc := range []struct {
			field string
			form  url.Values
		}{
			{"assets", url.Values{"assets": {"https://cdn.example.com/a" + bad + ".mp4"}, "caption": {"#ad hello"}}},
			{"caption", url.Values{"assets": {"https://cdn.example.com/a.mp4"}, "caption": {"#ad hel" + bad + "lo"}}},
			{"post_url", url.Values{"post_url": {"https://instagram.com/p/" + bad}}},
		} {
			t.Run(tc.field+" "+what, func(t *testing.T) { refused(t, contentLink, tc.form, tc.field) })
		}
	}
	if st := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)); len(st.Body["drafts"].([]any)) != 0 || st.str("stage") != "in_production" {
		t.Fatalf("a refused draft was taken: %s", st.Raw)
	}
	// The console's reply form (a note ops type) goes through the API, which names the field.
	u, path := signedIn(t, opsKey), "/console/collaborations/"+id
	for what, bad := range controlTexts {
		if what == "not UTF-8" {
			continue // the console sends JSON, where such bytes become U+FFFD
		}
		t.Run("console note "+what, func(t *testing.T) {
			if p := u.submit(path, path+"/reply", url.Values{"note": {"pho" + bad + "ned"}}); p.status != 422 || !strings.Contains(p.body, "<code>note</code>") {
				t.Fatalf("%d, want 422 naming note:\n%s", p.status, p.body)
			}
		})
	}
	// Line breaks are text: a caption on two lines is a draft.
	if status, page := b.submit(contentLink, url.Values{"assets": {"https://cdn.example.com/a.mp4\r\nhttps://cdn.example.com/b.mp4"}, "caption": {"#ad hello\r\nworld"}}); status != 200 {
		t.Fatalf("a caption on two lines: %d %s", status, page)
	}
}

// TestDisplayedNamesRefuseBidiControls: the API's creator name, campaign name and brand,
// created or changed, refuse bidirectional controls (and, as before, control characters)
// with a 422 naming the field.
func TestDisplayedNamesRefuseBidiControls(t *testing.T) {
	creator := newCreator(t)
	texts := map[string]string{}
	for what, bad := range bidiTexts {
		texts[what] = bad
	}
	texts["NUL"], texts["ESC"] = "\x00", "\x1b"
	for what, bad := range texts {
		name := "Ada " + bad + "Lovelace"
		t.Run("creator "+what, func(t *testing.T) {
			r := must(t, 422, call(t, "POST", "/v1/creators", opsKey, map[string]any{
				"name": name, "email": fmt.Sprintf("bidi-%d@example.com", len(what)), "timezone": "UTC"}))
			if r.field("name") == "" {
				t.Fatalf("no name field: %s", r.Raw)
			}
			if r := must(t, 422, call(t, "PATCH", "/v1/creators/"+creator, opsKey, map[string]any{"name": name})); r.field("name") == "" {
				t.Fatalf("patch: no name field: %s", r.Raw)
			}
		})
		for _, field := range []string{"name", "brand"} {
			t.Run("campaign "+field+" "+what, func(t *testing.T) {
				body := map[string]any{"name": "Spring", "brand": "Acme", "sender_email": "collabs@acme.test"}
				body[field] = name
				if r := must(t, 422, call(t, "POST", "/v1/campaigns", opsKey, body)); r.field(field) == "" {
					t.Fatalf("no %s field: %s", field, r.Raw)
				}
			})
		}
	}
	// Text in other scripts is a name.
	must(t, 200, call(t, "PATCH", "/v1/creators/"+creator, opsKey, map[string]any{"name": "علي Ωmega 山田"}))
}
