package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/collabflow/collabflow/audit"
)

// temporalHolds names the needles found in any event of a collaboration's histories, in
// the bytes Temporal stores (payloads are raw bytes in the protobuf encoding).
func temporalHolds(t *testing.T, id string, needles ...string) []string {
	t.Helper()
	runs, err := audit.Fetch(context.Background(), temporalClient, id)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, r := range runs {
		for _, ev := range r.History.GetEvents() {
			raw, err := proto.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range needles {
				if bytes.Contains(bytes.ToLower(raw), bytes.ToLower([]byte(n))) {
					found = append(found, fmt.Sprintf("event %d (%s): %q", ev.GetEventId(), ev.GetEventType(), n))
				}
			}
		}
	}
	return found
}

// TestPersonalDataStaysOutOfTemporalAndErasureRemovesIt: a creator replies by email, signs
// with a typed name and has a reply recorded by hand in a second campaign. Temporal's
// histories carry none of their name, address or words; erasure cancels both running
// collaborations as "erased", leaves no trace of them in PostgreSQL, keeps the address's
// hash suppressed, and leaves every history whole: the timeline reads as before and
// replays.
func TestPersonalDataStaysOutOfTemporalAndErasureRemovesIt(t *testing.T) {
	ctx := context.Background()
	const (
		name      = "Erin Erasmus"
		replyText = "Erin here, ring me on 555-0199 about the shoes"
		noteText  = "Erin phoned and loves the idea"
	)
	email := "erin.erasmus@example.net"
	creator := must(t, 201, call(t, "POST", "/v1/creators", opsKey, map[string]any{
		"name": name, "email": email, "timezone": "Europe/Berlin", "followers": 30_000,
		"handles": map[string]string{"instagram": "erin_makes"},
	})).str("id")

	// A reply by email, then terms and a signature through the portal.
	signed := start(t, newCampaign(t), creator)
	eventually(t, "the first email", func() bool { return len(sentTo(signed)) == 1 })
	first := sentTo(signed)[0]
	must(t, 200, inboundPost(t, map[string]string{
		"from": name + " <" + email + ">", "to": first.ReplyTo, "subject": "Re: " + first.Subject, "text": replyText,
		"envelope": fmt.Sprintf(`{"to":[%q],"from":%q}`, first.ReplyTo, email),
	}, inboundSecret))
	waitForStage(t, signed, "negotiating")
	must(t, 200, call(t, "POST", "/v1/collaborations/"+signed+"/offers", opsKey, map[string]any{"from": "brand", "terms": map[string]any{
		"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 1}},
		"currency":     "USD", "fixed_fee": 100000, "kill_fee": 30000, "disclosure_text": "#ad",
	}}))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+signed+"/accept", opsKey, `{}`))
	if status, page := newBrowser(t).submit(linkIn(t, mailOf(t, signed, "contract", 1)), url.Values{"name": {name}, "agree": {"yes"}},
		"User-Agent", "ErinBrowser/1.0"); status != 200 {
		t.Fatalf("sign: %d %s", status, page)
	}
	waitForStage(t, signed, "in_production")
	contract := must(t, 200, call(t, "GET", "/v1/collaborations/"+signed+"/contract", opsKey, nil))
	if !strings.Contains(string(contract.Raw), name) {
		t.Fatalf("the contract does not show its signer to ops: %s", contract.Raw)
	}

	// A reply recorded by hand in another campaign; ops read the note back by its id.
	noted := start(t, newCampaign(t), creator)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+noted+"/replies", opsKey, map[string]string{"note": noteText}))
	notes := must(t, 200, call(t, "GET", "/v1/collaborations/"+noted+"/notes", opsKey, nil))
	if !strings.Contains(string(notes.Raw), noteText) {
		t.Fatalf("notes: %s", notes.Raw)
	}
	must(t, 403, call(t, "GET", "/v1/collaborations/"+noted+"/notes", reviewerKey, nil))
	// A refused reply keeps nothing of its note.
	must(t, 409, call(t, "POST", "/v1/collaborations/"+noted+"/replies", opsKey, map[string]string{"note": "a second, refused note"}))
	if again := must(t, 200, call(t, "GET", "/v1/collaborations/"+noted+"/notes", opsKey, nil)); strings.Contains(string(again.Raw), "refused note") {
		t.Fatalf("a refused reply's note was kept: %s", again.Raw)
	}

	// The search reads payloads: the contract's hash, which the workflow holds, is found.
	if len(temporalHolds(t, signed, contract.str("sha256"))) == 0 {
		t.Fatalf("the history search does not see the contract hash %q", contract.str("sha256"))
	}
	personal := []string{name, email, "555-0199", "loves the idea", "ErinBrowser"}
	for _, id := range []string{signed, noted} {
		if found := temporalHolds(t, id, personal...); len(found) > 0 {
			t.Errorf("Temporal holds personal data of %s:\n%s", id, strings.Join(found, "\n"))
		}
	}
	before := must(t, 200, call(t, "GET", "/v1/collaborations/"+signed+"/timeline", auditorKey, nil)).Body["entries"].([]any)

	erased := must(t, 200, call(t, "DELETE", "/v1/creators/"+creator, opsKey, nil))
	results := map[string]string{}
	for _, r := range erased.Body["collaborations"].([]any) {
		r := r.(map[string]any)
		results[r["id"].(string)] = r["result"].(string)
	}
	if len(results) != 2 || results[signed] == "" || results[noted] == "" || erased.Body["already_erased"] != false {
		t.Fatalf("erasure: %s", erased.Raw)
	}
	for _, id := range []string{signed, noted} {
		waitForStage(t, id, "cancelled")
		if st := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)); st.str("cancel_reason") != "erased" {
			t.Fatalf("cancel reason of %s: %q", id, st.str("cancel_reason"))
		}
	}
	// The kill fee the signed contract owes is still owed.
	eventually(t, "the kill fee in the ledger", func() bool {
		return strings.Contains(string(must(t, 200, call(t, "GET", "/v1/payouts?collaboration_id="+signed, financeKey, nil)).Raw), `"amount":30000`)
	})

	found, err := st.TablesContaining(ctx, personal...)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Fatalf("PostgreSQL still holds personal data after erasure:\n%s", strings.Join(found, "\n"))
	}
	// The timeline reads as before (the cancel follows), and every history replays.
	after := must(t, 200, call(t, "GET", "/v1/collaborations/"+signed+"/timeline", auditorKey, nil)).Body["entries"].([]any)
	if len(after) <= len(before) || !reflect.DeepEqual(after[:len(before)], before) {
		t.Fatalf("the timeline changed with erasure:\nbefore %v\nafter  %v", before, after)
	}
	for _, id := range []string{signed, noted} {
		if r := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replay", auditorKey, nil)); r.Body["result"].(map[string]any)["deterministic"] != true {
			t.Fatalf("replay of %s after erasure: %s", id, r.Raw)
		}
	}

	// The roster keeps an anonymous row; a repeat says so; nothing new can start with it.
	row := must(t, 200, call(t, "GET", "/v1/creators/"+creator, opsKey, nil))
	if row.str("name") != "" || row.str("erased_at") == "" || strings.Contains(string(row.Raw), "erin") {
		t.Fatalf("erased creator: %s", row.Raw)
	}
	if again := must(t, 200, call(t, "DELETE", "/v1/creators/"+creator, opsKey, nil)); again.Body["already_erased"] != true {
		t.Fatalf("second erasure: %s", again.Raw)
	}
	r := must(t, 422, call(t, "POST", "/v1/collaborations", opsKey, map[string]string{"campaign_id": newCampaign(t), "creator_id": creator}))
	if r.field("creator_id") == "" {
		t.Fatalf("start with an erased creator: %s", r.Raw)
	}
	must(t, 409, call(t, "PATCH", "/v1/creators/"+creator, opsKey, map[string]string{"name": "Back Again"}))
	// The address is remembered only as its hash, and that is enough to never email it:
	// the same person added again gets no outreach.
	back := must(t, 201, call(t, "POST", "/v1/creators", opsKey, map[string]any{"name": "Erin E", "email": strings.ToUpper(email), "timezone": "Europe/Berlin"})).str("id")
	again := start(t, newCampaign(t), back)
	waitForStage(t, again, "no_response")
	if n := len(sentTo(again)); n != 0 {
		t.Fatalf("%d emails to an erased address", n)
	}
	must(t, 404, call(t, "DELETE", "/v1/creators/0190a000-0000-7000-8000-000000000000", opsKey, nil))
	must(t, 404, call(t, "DELETE", "/v1/creators/not-an-id", opsKey, nil))
}

// TestTemporalDatabaseHoldsNoPersonalData runs a whole lifecycle (a reply by email, a
// signature, a draft, a verified post, a confirmed payout) for a creator, then reads the
// embedded Temporal server's database file byte for byte: no payload codec runs in these
// tests, so anything a workflow, signal, update or activity carried is there in clear, and
// none of the creator's name, address or words may be.
func TestTemporalDatabaseHoldsNoPersonalData(t *testing.T) {
	const (
		name      = "Fiona Fairweather"
		email     = "fiona.fairweather@example.org"
		replyText = "Fiona here: count me in, my studio is at 12 Quarry Lane"
	)
	creator := must(t, 201, call(t, "POST", "/v1/creators", opsKey, map[string]any{
		"name": name, "email": email, "timezone": "Europe/Dublin", "followers": 45_000,
		"handles": map[string]string{"instagram": "fionafw"},
	})).str("id")
	campaign := must(t, 201, call(t, "POST", "/v1/campaigns", opsKey, map[string]any{
		"name": "Lifecycle " + t.Name(), "brand": "Acme", "sender_email": "collabs@acme.test", "landing_url": "https://acme.test/spring",
		"compensation": map[string]any{"fixed_fee": 100000},
		"brief":        map[string]any{"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 1}}},
		"timings":      map[string]any{"reply_wait": "1h", "follow_up_delays": []string{"1h", "1h"}, "live_window": "2s", "verification_interval": "1s"},
		"send_window":  map[string]any{"start": "00:00", "end": "24:00", "days": []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
	})).str("id")
	id := start(t, campaign, creator)
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	first := sentTo(id)[0]
	must(t, 200, inboundPost(t, map[string]string{
		"from": name + " <" + email + ">", "to": first.ReplyTo, "subject": "Re: " + first.Subject, "text": replyText,
		"envelope": fmt.Sprintf(`{"to":[%q],"from":%q}`, first.ReplyTo, email),
	}, inboundSecret))
	waitForStage(t, id, "negotiating")
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/accept", opsKey, `{}`))
	if status, page := newBrowser(t).submit(linkIn(t, mailOf(t, id, "contract", 1)), url.Values{"name": {name}, "agree": {"yes"}}); status != 200 {
		t.Fatalf("sign: %d %s", status, page)
	}
	waitForStage(t, id, "in_production")
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/drafts", opsKey, `{"assets":["https://cdn.example.com/f.mp4"],"caption":"#ad spring kit"}`))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/drafts/1/review", reviewerKey, `{"decision":"approve"}`))
	code := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Body["attribution"].(map[string]any)["code"].(string)
	postURL, _ := postPage(t, id, code)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/posts", opsKey, map[string]string{"url": postURL}))
	waitForStage(t, id, "payout")
	var payout string
	eventually(t, "the pending payout", func() bool {
		items := must(t, 200, call(t, "GET", "/v1/payouts?status=pending&collaboration_id="+id, financeKey, nil)).Body["items"].([]any)
		if len(items) == 1 {
			payout = items[0].(map[string]any)["id"].(string)
		}
		return payout != ""
	})
	must(t, 200, call(t, "POST", "/v1/payouts/"+payout+"/confirm", financeKey, `{"reference":"BANK-7"}`))
	waitForStage(t, id, "completed")

	var stored []byte
	for _, f := range []string{temporalDB, temporalDB + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		stored = append(stored, bytes.ToLower(b)...)
	}
	// The file is what was searched: it holds the collaboration and its contract's hash.
	hash := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/contract", opsKey, nil)).str("sha256")
	for _, present := range []string{id, hash} {
		if !bytes.Contains(stored, []byte(strings.ToLower(present))) {
			t.Fatalf("the Temporal database file does not hold %q: not the file in use?", present)
		}
	}
	for _, personal := range []string{name, email, "Quarry Lane", "count me in"} {
		if bytes.Contains(stored, []byte(strings.ToLower(personal))) {
			t.Errorf("the Temporal database file holds %q", personal)
		}
	}
}
