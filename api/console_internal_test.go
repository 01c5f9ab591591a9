package api

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// TestSessionSeal: a sealed session opens as its key until it expires; a changed name,
// expiry or MAC, a removed key or a rotated secret does not open; the cookie never holds
// the secret.
func TestSessionSeal(t *testing.T) {
	now := time.Now()
	keys := []Key{{Name: "ops-team", Role: RoleOps, Secret: "ops-secret-0123456789"}, {Name: "fin", Role: RoleFinance, Secret: "fin-secret-0123456789"}}
	s := &Server{keys: keys}
	value := seal(&keys[0], now.Add(time.Hour), "nonce")
	if strings.Contains(value, keys[0].Secret) {
		t.Fatalf("cookie %q holds the secret", value)
	}
	sess, ok := s.openSession(value, now)
	if !ok || sess.key.Name != "ops-team" || sess.csrf != csrfToken(&keys[0], "nonce") {
		t.Fatalf("open: %+v %v", sess, ok)
	}
	if _, ok := s.openSession(value, now.Add(time.Hour+time.Second)); ok {
		t.Fatal("an expired session opened")
	}
	payload, mac, _ := strings.Cut(value, ".")
	forged := seal(&Key{Name: "fin", Secret: "guessed-secret-0123"}, now.Add(time.Hour), "nonce")
	for name, v := range map[string]string{
		"other MAC":     payload + "." + strings.Split(forged, ".")[1],
		"other payload": strings.Split(forged, ".")[0] + "." + mac,
		"no MAC":        payload,
		"garbage":       "not a session",
	} {
		if _, ok := s.openSession(v, now); ok {
			t.Errorf("%s opened", name)
		}
	}
	rotated := &Server{keys: []Key{{Name: "ops-team", Role: RoleOps, Secret: "new-ops-secret-0123456789"}}}
	if _, ok := rotated.openSession(value, now); ok {
		t.Fatal("a session of a rotated secret opened")
	}
	if _, ok := (&Server{keys: keys[1:]}).openSession(value, now); ok {
		t.Fatal("a session of a removed key opened")
	}
}

// filledForms are a console user's filled-in forms, by collabActions name: good input, so
// that the body each makes is one the API's document accepts whole.
var filledForms = map[string]map[string]string{
	"reply":    {"note": "said yes on a call"},
	"offer":    {"from": "brand", "platform": "instagram", "format": "reel", "count": "1", "currency": "usd", "fixed_fee": "1200.50", "disclosure_text": "#ad", "note": "opening"},
	"accept":   {"offer": "1"},
	"pause":    {"reason": "brand review"},
	"resume":   {"reason": "review done"},
	"cancel":   {"reason": "not a fit"},
	"review":   {"draft": "1", "decision": "changes", "comments": "louder logo"},
	"decline":  {"reason": "creator said no"},
	"draft":    {"assets": "https://cdn.example.com/a.mp4\n\n  https://cdn.example.com/b.jpg  \n", "caption": "#ad spring"},
	"post":     {"url": "https://instagram.com/p/abc"},
	"resolve":  {"decision": "override", "reason": "paid by hand"},
	"extend":   {"by": "72h", "reason": "creator is ill"},
	"override": {"post": "0", "reason": "checked by hand"},
}

// consoleOperation is the request-body schema of the API operation at method and path
// (an actual path: /v1/collaborations/collab-…/offers), from the OpenAPI document.
func consoleOperation(t *testing.T, doc *openapi3.T, method, path string) *openapi3.Schema {
	t.Helper()
	segs := strings.Split(path, "/")
	for template, item := range doc.Paths.Map() {
		tsegs := strings.Split(template, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		match := true
		for i := range tsegs {
			if tsegs[i] != segs[i] && !strings.HasPrefix(tsegs[i], "{") {
				match = false
				break
			}
		}
		if op := item.GetOperation(method); match && op != nil {
			if op.RequestBody == nil || op.RequestBody.Value.Content.Get("application/json") == nil {
				t.Fatalf("%s %s (%s) takes no JSON body", method, path, template)
			}
			return op.RequestBody.Value.Content.Get("application/json").Schema.Value
		}
	}
	t.Fatalf("%s %s is no operation of the OpenAPI document", method, path)
	return nil
}

// checkBodyKeys fails for every key of v (a decoded JSON body) that schema does not name,
// and every key schema requires that v lacks, at every depth: a field the console renamed
// and the API did not (or the other way round) fails here by its path.
func checkBodyKeys(t *testing.T, where string, schema *openapi3.Schema, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			prop, ok := schema.Properties[k]
			if !ok {
				t.Errorf("%s: field %q is not in the API's schema (it has %v)", where, k, slices.Sorted(maps.Keys(schema.Properties)))
				continue
			}
			checkBodyKeys(t, where+"."+k, prop.Value, v[k])
		}
		for _, k := range schema.Required {
			if _, ok := v[k]; !ok {
				t.Errorf("%s: the API requires field %q, which the form does not send", where, k)
			}
		}
	case []any:
		if schema.Items == nil {
			t.Errorf("%s: a list where the API takes %v", where, schema.Type)
			return
		}
		for _, item := range v {
			checkBodyKeys(t, where+"[]", schema.Items.Value, item)
		}
	}
}

// checkBody checks a form's body against the operation's schema: its keys (checkBodyKeys)
// and then the whole body, values too.
func checkBody(t *testing.T, doc *openapi3.T, name, method, path string, body any) {
	t.Helper()
	schema := consoleOperation(t, doc, method, path)
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	checkBodyKeys(t, name, schema, v)
	if err := schema.VisitJSON(v); err != nil {
		t.Errorf("%s: the body %s does not match %s %s: %v", name, data, method, path, err)
	}
}

var (
	consoleFormTag = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)"[^>]*>(.*?)</form>`)
	inputName      = regexp.MustCompile(`name="([^"]+)"`)
)

// renderedForms renders a console page and maps each of its POST forms' actions (the
// last path segment) to the field names the form sends.
func renderedForms(t *testing.T, page string, d consoleData) map[string][]string {
	t.Helper()
	var b bytes.Buffer
	if err := consolePages[page].Execute(&b, d); err != nil {
		t.Fatalf("render %s: %v", page, err)
	}
	forms := map[string][]string{}
	for _, m := range consoleFormTag.FindAllStringSubmatch(b.String(), -1) {
		action := m[1][strings.LastIndex(m[1], "/")+1:]
		for _, n := range inputName.FindAllStringSubmatch(m[2], -1) {
			forms[action] = append(forms[action], n[1])
		}
	}
	return forms
}

// TestConsoleFormsMatchOpenAPI: every console form that changes something sends the API
// the field names of its operation's request body in openapi.json: each collabActions
// entry (its body from a filled form, and the form on the page having every field the
// body reads), the board's start and bulk forms and the payout confirm form. A field
// renamed on one side only fails here.
func TestConsoleFormsMatchOpenAPI(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	const campaign, creator = "01a22047-fe95-7c2d-9b1d-1367eab1508b", "01a22047-f28e-7750-bf30-739dc3eb9cbf"
	id := workflows.CollaborationID(campaign, creator)

	// The collaboration page in the states that show each action's form, as ops (and
	// reviewers, for review) see it.
	ops := func(p *collaborationPage) consoleData {
		p.State.ID, p.Open, p.Form = id, true, map[string]string{}
		return consoleData{Role: RoleOps, Page: p}
	}
	pages := []consoleData{
		ops(&collaborationPage{State: workflows.CollaborationState{Stage: workflows.StageOutreach}, Declinable: true}),
		ops(&collaborationPage{State: workflows.CollaborationState{Stage: workflows.StageOutreach, Outreach: workflows.OutreachState{PausedAt: time.Now()}}}),
		ops(&collaborationPage{State: workflows.CollaborationState{Stage: workflows.StageNegotiating}, LatestOffer: 1}),
		ops(&collaborationPage{State: workflows.CollaborationState{Stage: workflows.StageInProduction,
			Attention: &workflows.Attention{Step: "payout", Reason: "refused", Overridable: true}}}),
		ops(&collaborationPage{State: workflows.CollaborationState{Stage: workflows.StageInProduction,
			Attention: &workflows.Attention{Step: workflows.StepDraftDeadline, Reason: "draft 1 is overdue", Due: time.Now()}},
			Deadline: time.Now(), DeadlineOf: "draft 1", ExtendChoices: extendChoices}),
		ops(&collaborationPage{State: workflows.CollaborationState{Stage: workflows.StageInReview}, PendingDraft: 1}),
		ops(&collaborationPage{State: workflows.CollaborationState{Stage: workflows.StageAwaitingPost, PostsRequired: 2,
			Posts: []workflows.Post{{N: 1, URL: "https://instagram.com/p/one"}}}, WantsPost: true}),
	}
	shown := map[string][]string{}
	for _, d := range pages {
		for action, names := range renderedForms(t, "collaboration", d) {
			shown[action] = append(shown[action], names...)
		}
	}

	for _, name := range slices.Sorted(maps.Keys(collabActions)) {
		a := collabActions[name]
		filled, ok := filledForms[name]
		if !ok {
			t.Errorf("action %s has no filled form in this test", name)
			continue
		}
		var read []string
		form := func(k string) string { read = append(read, k); return strings.TrimSpace(filled[k]) }
		body, bad := a.body(form)
		if bad != nil {
			t.Errorf("%s: the filled form was refused: %v", name, bad)
			continue
		}
		path := "/v1/collaborations/" + id + "/" + a.route(form)
		checkBody(t, doc, name, http.MethodPost, path, body)
		fields, ok := shown[name]
		if !ok {
			t.Errorf("action %s: no page state shows its form", name)
			continue
		}
		for _, k := range read {
			if !slices.Contains(fields, k) {
				t.Errorf("action %s reads field %q, which its form does not have (it has %v)", name, k, fields)
			}
		}
	}
	if got := lines(filledForms["draft"]["assets"]); !slices.Equal(got, []string{"https://cdn.example.com/a.mp4", "https://cdn.example.com/b.jpg"}) {
		t.Errorf("draft assets: %q", got)
	}

	checkBody(t, doc, "start", http.MethodPost, "/v1/collaborations", startBody(campaign, creator))
	checkBody(t, doc, "bulk", http.MethodPost, "/v1/campaigns/"+campaign+"/bulk", bulkBody(bulkForm{IDs: []string{id}, Action: "cancel", Reason: "brand pulled out"}))
	checkBody(t, doc, "confirm", http.MethodPost, "/v1/payouts/"+campaign+"/confirm", confirmBody("BANK-42"))

	// The board's and the payout queue's forms send the names their handlers read.
	board := renderedForms(t, "board", consoleData{Role: RoleOps, Page: &boardPage{Campaign: campaigns.Campaign{ID: campaign},
		Columns: []boardColumn{{StageCount: store.StageCount{Stage: "outreach", Count: 1}, Cards: []boardCard{{Collaboration: store.Collaboration{ID: id}}}}}}})
	queue := renderedForms(t, "payouts", consoleData{Role: RoleFinance, Page: payoutQueuePage{Payouts: []store.Payout{{ID: campaign, CollaborationID: id}}}})
	for form, has := range map[string][]string{"start": board["start"], "bulk": board["bulk"], "confirm": queue["confirm"]} {
		need := map[string][]string{"start": {"creator_id"}, "bulk": {"action", "ids", "reason"}, "confirm": {"reference"}}[form]
		for _, k := range need {
			if !slices.Contains(has, k) {
				t.Errorf("the %s form lacks field %q (it has %v)", form, k, has)
			}
		}
	}
}
