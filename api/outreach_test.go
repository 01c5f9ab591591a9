package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/collabflow/collabflow/devenv/sendgridsink"
	"github.com/collabflow/collabflow/store"
)

// start begins a collaboration and returns its id.
func start(t *testing.T, campaign, creator string) string {
	t.Helper()
	return must(t, 201, call(t, "POST", "/v1/collaborations", opsKey,
		fmt.Sprintf(`{"campaign_id":%q,"creator_id":%q}`, campaign, creator))).str("id")
}

// sentTo lists what the sink received for one collaboration.
func sentTo(id string) []sendgridsink.Received {
	var out []sendgridsink.Received
	for _, m := range sink.Messages() {
		if m.CustomArgs["collaboration_id"] == id {
			out = append(out, m)
		}
	}
	return out
}

func stageOf(t *testing.T, id string) string {
	t.Helper()
	return must(t, 200, call(t, "GET", "/v1/collaborations/"+id, auditorKey, nil)).str("stage")
}

func waitForStage(t *testing.T, id, stage string) {
	t.Helper()
	eventually(t, id+" in "+stage, func() bool { return stageOf(t, id) == stage })
}

// inboundPost builds an Inbound Parse multipart form as SendGrid sends it.
func inboundPost(t *testing.T, fields map[string]string, password string) response {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", baseURL+"/webhooks/sendgrid/inbound", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	if password != "" {
		req.SetBasicAuth("sendgrid", password)
	}
	return send(t, req)
}

// postEvents sends a batch to the Event Webhook, signed with key (nil: unsigned).
func postEvents(t *testing.T, events []map[string]any, key *ecdsa.PrivateKey) response {
	t.Helper()
	body, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", baseURL+"/webhooks/sendgrid/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != nil {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		digest := sha256.Sum256(append([]byte(ts), body...))
		sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Twilio-Email-Event-Webhook-Signature", base64.StdEncoding.EncodeToString(sig))
		req.Header.Set("X-Twilio-Email-Event-Webhook-Timestamp", ts)
	}
	return send(t, req)
}

func event(m sendgridsink.Received, name, id string, extra ...string) map[string]any {
	ev := map[string]any{
		"email": m.To[0], "event": name, "sg_event_id": id, "timestamp": time.Now().Unix(),
		"sg_message_id": m.MessageID + ".filter", "collaboration_id": m.CustomArgs["collaboration_id"],
		"message_key": m.CustomArgs["message_key"], "step": m.CustomArgs["step"],
	}
	for i := 0; i+1 < len(extra); i += 2 {
		ev[extra[i]] = extra[i+1]
	}
	return ev
}

func TestOutreachEmailThenReplyByInboundParse(t *testing.T) {
	campaign, creator := newCampaign(t), newCreator(t)
	id := start(t, campaign, creator)
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	m := sentTo(id)[0]
	if !strings.HasPrefix(m.ReplyTo, "reply+") || !strings.HasSuffix(m.ReplyTo, "@"+replyDomain) {
		t.Fatalf("reply-to %q", m.ReplyTo)
	}
	for _, want := range []string{"Acme Inc., 1 Main Street, Springfield", "http://collabflow.test/u/"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("email lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.HasPrefix(m.Headers["List-Unsubscribe"], "<http://collabflow.test/u/") || m.Headers["List-Unsubscribe-Post"] == "" {
		t.Errorf("unsubscribe headers %v", m.Headers)
	}
	if m.CustomArgs["step"] != "1" || m.CustomArgs["message_key"] != id+"/outreach/1" {
		t.Errorf("custom args %v", m.CustomArgs)
	}

	// The sink has the email before the activity marks the log: wait for the mark, the
	// state this test asserts. Ops read the log as sent (other roles get the link tokens
	// redacted: TestEmailLogRedactsCreatorLinksForReadOnlyRoles).
	var emails response
	eventually(t, "the log to say sent", func() bool {
		emails = must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/emails", opsKey, nil))
		items := emails.Body["items"].([]any)
		return len(items) == 1 && items[0].(map[string]any)["status"] == "sent"
	})
	items := emails.Body["items"].([]any)
	logged := items[0].(map[string]any)
	if logged["body_text"] != m.Text || logged["subject"] != m.Subject || logged["reply_to"] != m.ReplyTo ||
		logged["provider_message_id"] != m.MessageID || logged["status"] != "sent" {
		t.Fatalf("log differs from what was sent: %v", logged)
	}

	// Wrong credentials change nothing.
	fields := map[string]string{
		"from": "Creator <someone@example.com>", "to": m.ReplyTo, "subject": "Re: " + m.Subject,
		"text": "Sounds great, tell me more!", "envelope": fmt.Sprintf(`{"to":[%q],"from":"someone@example.com"}`, m.ReplyTo),
	}
	must(t, 401, inboundPost(t, fields, "wrong"))
	must(t, 401, inboundPost(t, fields, ""))
	if stageOf(t, id) != "outreach" {
		t.Fatal("an unauthenticated inbound post moved the collaboration")
	}

	r := must(t, 200, inboundPost(t, fields, inboundSecret))
	if r.str("collaboration_id") != id {
		t.Fatalf("matched %v", r.Body)
	}
	waitForStage(t, id, "negotiating")
	state := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil))
	if state.Body["outreach"].(map[string]any)["status"] != "replied" {
		t.Fatalf("outreach %v", state.Body["outreach"])
	}
}

func TestInboundMatchesBySenderWhenTheTokenIsGone(t *testing.T) {
	campaign := newCampaign(t)
	r := must(t, 201, call(t, "POST", "/v1/creators", opsKey, `{"name":"Sam Sender","email":"sam.sender@example.com","timezone":"UTC"}`))
	id := start(t, campaign, r.str("id"))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	base := map[string]string{"from": "Sam <SAM.SENDER@example.com>", "to": "collabs@acme.test", "subject": "hello", "text": "yes"}

	// Without SPF and DKIM passing, a sender address proves nothing.
	if got := must(t, 200, inboundPost(t, base, inboundSecret)).str("collaboration_id"); got != "" {
		t.Fatalf("unauthenticated sender matched %s", got)
	}
	base["SPF"], base["dkim"] = "pass", "{@example.com : pass}"
	if got := must(t, 200, inboundPost(t, base, inboundSecret)).str("collaboration_id"); got != id {
		t.Fatalf("sender match gave %q", got)
	}
	waitForStage(t, id, "negotiating")
}

func TestFollowUpsThenBounceStopsAndSuppresses(t *testing.T) {
	campaign := newCampaign(t, map[string]any{"follow_up_delays": []string{"1s", "1h"}})
	r := must(t, 201, call(t, "POST", "/v1/creators", opsKey, `{"name":"Bea Bounce","email":"bea.bounce@example.com","timezone":"Asia/Tokyo"}`))
	id := start(t, campaign, r.str("id"))
	eventually(t, "the follow-up", func() bool { return len(sentTo(id)) == 2 })
	second := sentTo(id)[1]
	if second.CustomArgs["step"] != "2" {
		t.Fatalf("second email %v", second.CustomArgs)
	}

	delivered := event(second, "delivered", "ev-delivered-"+id)
	bounce := event(second, "bounce", "ev-bounce-"+id, "type", "bounce", "reason", "550 5.1.1 mailbox does not exist")

	// Unsigned and forged batches are refused and change nothing.
	must(t, 401, postEvents(t, []map[string]any{bounce}, nil))
	forger, _ := ecdsa.GenerateKey(webhookKey.Curve, rand.Reader)
	must(t, 401, postEvents(t, []map[string]any{bounce}, forger))
	if stageOf(t, id) != "outreach" {
		t.Fatal("a forged event moved the collaboration")
	}

	ok := must(t, 200, postEvents(t, []map[string]any{delivered, bounce}, webhookKey))
	if ok.Body["applied"].(float64) != 2 {
		t.Fatalf("applied %v", ok.Body)
	}
	waitForStage(t, id, "no_response")
	// SendGrid delivers the same batch again: nothing more happens.
	again := must(t, 200, postEvents(t, []map[string]any{delivered, bounce}, webhookKey))
	if again.Body["applied"].(float64) != 0 {
		t.Fatalf("a repeated delivery was applied: %v", again.Body)
	}
	state := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil))
	// The workflow hears which event it was, never the receiving server's words (they
	// quote the address): those stay in the email log.
	if reason := state.str("end_reason"); !strings.Contains(reason, "bounce") || !strings.Contains(reason, "(provider event ev-bounce-") ||
		strings.Contains(reason, "mailbox does not exist") {
		t.Fatalf("end reason %q", reason)
	}
	var stops int
	for _, e := range state.Body["events"].([]any) {
		if k := e.(map[string]any)["kind"]; k == "outreach_stopped" || k == "email_event" {
			stops++
		}
	}
	if stops != 1 {
		t.Fatalf("%d stop events, want 1: %s", stops, state.Raw)
	}

	log := must(t, 200, call(t, "GET", "/v1/collaborations/"+id+"/emails", opsKey, nil)).Body["items"].([]any)
	last := log[1].(map[string]any)
	if last["status"] != "bounce" || len(last["events"].([]any)) != 2 || !strings.Contains(fmt.Sprint(last["events"]), "mailbox does not exist") {
		t.Fatalf("email log after events: %v", last)
	}
	// The hard bounce suppressed the address for every campaign.
	other := start(t, newCampaign(t), r.str("id"))
	waitForStage(t, other, "no_response")
	if n := len(sentTo(other)); n != 0 {
		t.Fatalf("%d emails to a suppressed address", n)
	}
	exportHistory(t, id, "no-response-after-bounce")
}

func TestUnsubscribeLinkStopsEverySequence(t *testing.T) {
	r := must(t, 201, call(t, "POST", "/v1/creators", opsKey, `{"name":"Uma Unsub","email":"uma@example.com","timezone":"Europe/Paris"}`))
	creator := r.str("id")
	first := start(t, newCampaign(t), creator)
	second := start(t, newCampaign(t), creator)
	eventually(t, "both first emails", func() bool { return len(sentTo(first)) == 1 && len(sentTo(second)) == 1 })
	eventually(t, "the read model", func() bool {
		list := must(t, 200, call(t, "GET", "/v1/collaborations?stage=outreach&creator_id="+creator, opsKey, nil))
		return len(list.Body["items"].([]any)) == 2
	})

	link := strings.Trim(sentTo(first)[0].Headers["List-Unsubscribe"], "<>")
	path := strings.TrimPrefix(link, "http://collabflow.test")

	form := call(t, "GET", path, "", nil)
	if form.Status != 200 || !strings.Contains(string(form.Raw), "<form method=\"post\">") {
		t.Fatalf("confirm page: %d %s", form.Status, form.Raw)
	}
	if stageOf(t, first) != "outreach" {
		t.Fatal("a GET unsubscribed")
	}
	forged := call(t, "POST", path[:len(path)-3]+"abc", "", nil)
	if forged.Status != 400 || !strings.Contains(string(forged.Raw), "not valid") {
		t.Fatalf("forged link: %d %s", forged.Status, forged.Raw)
	}
	done := call(t, "POST", path, "", nil)
	if done.Status != 200 || !strings.Contains(string(done.Raw), "Unsubscribed") {
		t.Fatalf("unsubscribe: %d %s", done.Status, done.Raw)
	}
	waitForStage(t, first, "declined")
	waitForStage(t, second, "declined")
	if n := len(sentTo(first)) + len(sentTo(second)); n != 2 {
		t.Fatalf("%d emails after unsubscribing", n)
	}
	exportHistory(t, first, "declined-by-unsubscribe")
}

func TestOpsRecordsAReply(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	must(t, 403, call(t, "POST", "/v1/collaborations/"+id+"/replies", auditorKey, `{}`))
	must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{"note":"`+strings.Repeat("x", 1001)+`"}`))
	r := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{"note":"she answered on Instagram"}`))
	if r.str("stage") != "negotiating" {
		t.Fatalf("after reply %s", r.Raw)
	}
	again := must(t, 409, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{}`))
	if !strings.Contains(again.str("error"), "not waiting for a reply") {
		t.Fatalf("second reply: %s", again.Raw)
	}
	must(t, 404, call(t, "GET", "/v1/collaborations/collab-nope/emails", opsKey, nil))
}

// TestEventOfAStoppedEmailCountsItSent: SendGrid took an email whose answer was lost, and a
// reply stopped its retry, so the log says "stopped" and the collaboration did not count
// it. SendGrid's event then tells the collaboration, which counts it once, and gives the
// log the message id the lost answer carried.
func TestEventOfAStoppedEmailCountsItSent(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	m := sentTo(id)[0]
	ctx := context.Background()
	key := id + "/outreach/2"
	if _, err := st.BeginEmail(ctx, store.Email{MessageKey: key, CollaborationID: id, Step: 2, ToEmail: m.To[0], FromEmail: m.From, Subject: "follow-up"}); err != nil {
		t.Fatal(err)
	}
	if stopped, err := st.StopEmail(ctx, key, "outreach ended: replied"); err != nil || !stopped {
		t.Fatalf("stop: %v %v", stopped, err)
	}
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{"note":"by phone"}`))

	late := func(name, eventID string) map[string]any {
		return map[string]any{"email": m.To[0], "event": name, "sg_event_id": eventID, "timestamp": time.Now().Unix(),
			"sg_message_id": "late-0001.filterdrecv", "collaboration_id": id, "message_key": key}
	}
	must(t, 200, postEvents(t, []map[string]any{late("delivered", "late-ev-1")}, webhookKey))
	sentCount := func() (float64, string) {
		r := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil))
		return r.Body["outreach"].(map[string]any)["emails_sent"].(float64), string(r.Raw)
	}
	eventually(t, "the stopped email counted sent", func() bool { n, _ := sentCount(); return n == 2 })
	logged, err := st.EmailByKey(ctx, key)
	if err != nil || logged.ProviderMessageID != "late-0001" || logged.Status != "delivered" {
		t.Fatalf("log row %+v, %v", logged, err)
	}
	// A later event of it tells the collaboration nothing more: the API signals before it
	// answers, and the row is no longer "stopped". (The workflow counts repeated news once:
	// workflows TestSentAfterStopNewsIsCountedOnce.)
	before := outreachSignals(t, id)
	must(t, 200, postEvents(t, []map[string]any{late("open", "late-ev-2")}, webhookKey))
	if n := outreachSignals(t, id); n != before {
		t.Fatalf("the open event signalled again: %d signals, %d before", n, before)
	}
	if n, raw := sentCount(); n != 2 || strings.Count(raw, "went out before it was stopped") != 1 || !strings.Contains(raw, `"stage":"negotiating"`) {
		t.Fatalf("after the open event: %v %s", n, raw)
	}
}
