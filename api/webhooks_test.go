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
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/workflows"
)

// outreachSignals counts the outreach events a collaboration's history received.
func outreachSignals(t *testing.T, id string) int {
	t.Helper()
	n := 0
	iter := temporalClient.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == workflows.SignalOutreachEvent {
			n++
		}
	}
	return n
}

// TestRepeatedInboundPostIsHandledOnce: SendGrid posts an Inbound Parse email again when
// it missed the answer. The repeat (same Message-ID) answers 200, records no second reply
// and does not signal the workflow again.
func TestRepeatedInboundPostIsHandledOnce(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	m := sentTo(id)[0]
	fields := map[string]string{
		"headers": "Received: by mx.example.com\nMessage-Id: <reply-" + id + "@mail.example.com>\r\nSubject: Re: " + m.Subject + "\n",
		"from":    "Creator <" + m.To[0] + ">", "to": m.ReplyTo, "subject": "Re: " + m.Subject, "text": "Yes, tell me more",
		"envelope": fmt.Sprintf(`{"to":[%q],"from":%q}`, m.ReplyTo, m.To[0]),
	}
	if r := must(t, 200, inboundPost(t, fields, inboundSecret)); r.str("collaboration_id") != id || r.Body["duplicate"] != nil {
		t.Fatalf("first post: %s", r.Raw)
	}
	waitForStage(t, id, "negotiating")

	for range 2 {
		r := must(t, 200, inboundPost(t, fields, inboundSecret))
		if r.Body["duplicate"] != true {
			t.Fatalf("repeat: %s, want it named a duplicate", r.Raw)
		}
	}
	// Each post's signal, when there is one, is in the history before the post answers.
	if n := outreachSignals(t, id); n != 1 {
		t.Fatalf("%d outreach signals, want the reply once", n)
	}
	received, err := st.InboundMessages(context.Background(), id)
	if err != nil || len(received) != 1 || received[0].MessageID != "<reply-"+id+"@mail.example.com>" {
		t.Fatalf("received %+v %v, want the reply once", received, err)
	}

	// Another email from the creator (a new Message-ID) is recorded.
	fields["headers"] = "Message-ID: <second-" + id + "@mail.example.com>\n"
	must(t, 200, inboundPost(t, fields, inboundSecret))
	if received, err := st.InboundMessages(context.Background(), id); err != nil || len(received) != 2 {
		t.Fatalf("received %+v %v, want two emails", received, err)
	}
}

// countingReader is an endless body of 'a' that counts what the server reads of it.
type countingReader struct {
	n     atomic.Int64
	limit int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	left := r.limit - r.n.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	for i := range p {
		p[i] = 'a'
	}
	r.n.Add(int64(len(p)))
	return len(p), nil
}

// TestUnauthenticatedWebhookBodiesAreNotRead (M1): a 31 MB post without credentials, or
// with credentials that the headers already show to be wrong, is refused before the body
// is read; a well-formed but oversized event batch is read no further than its limit.
func TestUnauthenticatedWebhookBodiesAreNotRead(t *testing.T) {
	e, err := api.New(apiConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	validSig := base64.StdEncoding.EncodeToString(make([]byte, 70))
	for _, tc := range []struct {
		name, path string
		headers    map[string]string
		length     int64 // Content-Length; -1 is chunked
		status     int
		maxRead    int64
	}{
		{"events without signature", "/webhooks/sendgrid/events", nil, 31_000_000, 401, 0},
		{"events without signature, chunked", "/webhooks/sendgrid/events", nil, -1, 401, 0},
		{"events with garbage signature", "/webhooks/sendgrid/events", map[string]string{
			"X-Twilio-Email-Event-Webhook-Signature": "not base64 !!", "X-Twilio-Email-Event-Webhook-Timestamp": now}, -1, 401, 0},
		{"events with a non-numeric timestamp", "/webhooks/sendgrid/events", map[string]string{
			"X-Twilio-Email-Event-Webhook-Signature": validSig, "X-Twilio-Email-Event-Webhook-Timestamp": "yesterday"}, -1, 401, 0},
		{"events signed in 2001", "/webhooks/sendgrid/events", map[string]string{
			"X-Twilio-Email-Event-Webhook-Signature": validSig, "X-Twilio-Email-Event-Webhook-Timestamp": "978307200"}, -1, 401, 0},
		{"events too large by Content-Length", "/webhooks/sendgrid/events", map[string]string{
			"X-Twilio-Email-Event-Webhook-Signature": validSig, "X-Twilio-Email-Event-Webhook-Timestamp": now}, 31_000_000, 413, 0},
		{"events too large, chunked", "/webhooks/sendgrid/events", map[string]string{
			"X-Twilio-Email-Event-Webhook-Signature": validSig, "X-Twilio-Email-Event-Webhook-Timestamp": now}, -1, 413, 1<<20 + 64<<10},
		{"inbound without credentials", "/webhooks/sendgrid/inbound", nil, 31_000_000, 401, 0},
		{"inbound with a wrong password", "/webhooks/sendgrid/inbound", map[string]string{
			"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("sendgrid:wrong"))}, -1, 401, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingReader{limit: 31_000_000}
			req := httptest.NewRequest("POST", tc.path, body)
			req.ContentLength = tc.length
			req.Header.Set("Content-Type", "application/json")
			if strings.HasSuffix(tc.path, "/inbound") {
				req.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			contract.validated(e).ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if n := body.n.Load(); n > tc.maxRead {
				t.Fatalf("read %d bytes of the body, want at most %d", n, tc.maxRead)
			}
		})
	}
}

// TestInboundOversizedFieldIsRefused (M1): after authentication the form is streamed: a
// header-like field larger than its limit is refused and the rest is not read.
func TestInboundOversizedFieldIsRefused(t *testing.T) {
	e, err := api.New(apiConfig())
	if err != nil {
		t.Fatal(err)
	}
	head := "--xyz\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\n"
	body := &countingReader{limit: 20_000_000}
	req := httptest.NewRequest("POST", "/webhooks/sendgrid/inbound", io.MultiReader(strings.NewReader(head), body))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
	req.SetBasicAuth("sendgrid", inboundSecret)
	rec := httptest.NewRecorder()
	contract.validated(e).ServeHTTP(rec, req)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"subject"`) {
		t.Fatalf("status %d %s, want 400 naming the subject", rec.Code, rec.Body)
	}
	if n := body.n.Load(); n > 1<<20 {
		t.Fatalf("read %d bytes, want the read to stop near the field's limit", n)
	}
}

// postEventsAt sends a batch to the API at base, signed with the given Unix timestamp.
func postEventsAt(t *testing.T, base string, events []map[string]any, ts int64) response {
	t.Helper()
	body, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", base+"/webhooks/sendgrid/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	stamp := strconv.FormatInt(ts, 10)
	digest := sha256.Sum256(append([]byte(stamp), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, webhookKey, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Twilio-Email-Event-Webhook-Signature", base64.StdEncoding.EncodeToString(sig))
	req.Header.Set("X-Twilio-Email-Event-Webhook-Timestamp", stamp)
	return send(t, req)
}

// TestEventWebhookTimestampTolerance (L1): a validly signed batch whose timestamp is more
// than ten minutes from now, either way, is refused and changes nothing.
func TestEventWebhookTimestampTolerance(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	m := sentTo(id)[0]
	bounce := event(m, "bounce", "ev-stale-bounce-"+id, "type", "bounce", "reason", "550 no such user")
	now := time.Now()
	for _, ts := range []int64{978307200, now.Add(-11 * time.Minute).Unix(), now.Add(11 * time.Minute).Unix()} {
		r := postEventsAt(t, baseURL, []map[string]any{bounce}, ts)
		if r.Status < 400 || r.Status >= 500 {
			t.Fatalf("timestamp %d: status %d %s, want 4xx", ts, r.Status, r.Raw)
		}
	}
	if stageOf(t, id) != "outreach" {
		t.Fatal("a stale batch moved the collaboration")
	}
	// The window is configurable: an instance allowing an hour takes the 11-minute-old one.
	old := event(m, "open", "ev-old-open-"+id)
	other := newAPI(t, func(cfg *api.Config) { cfg.WebhookTolerance = time.Hour })
	must(t, 200, postEventsAt(t, other, []map[string]any{old}, now.Add(-11*time.Minute).Unix()))
	// Within the window the same batch applies.
	delivered := event(m, "delivered", "ev-fresh-delivered-"+id)
	if r := must(t, 200, postEventsAt(t, baseURL, []map[string]any{delivered}, now.Add(-5*time.Minute).Unix())); r.Body["applied"] != float64(1) {
		t.Fatalf("fresh batch: %s", r.Raw)
	}
}

// TestEventWebhookSkipsEventsItCannotStore: a signed batch with an event holding a NUL or
// another control character, or a timestamp before 2000 or more than a day ahead, answers
// 200 and applies its good events; the bad ones are counted as skipped (never applied, so
// SendGrid does not resend the batch for a day) and logged without the address.
func TestEventWebhookSkipsEventsItCannotStore(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	m := sentTo(id)[0]
	at := func(ev map[string]any, ts int64) map[string]any { ev["timestamp"] = ts; return ev }
	batch := []map[string]any{
		event(m, "delivered", "ev-nul-"+id, "reason", "250 ok\x00"),
		event(m, "open", "ev-escape-"+id, "useragent", "x", "response", "\x1b[2J"),
		at(event(m, "open", "ev-1999-"+id), 915148800),
		at(event(m, "open", "ev-far-future-"+id), 10_000_000_000_000),
		at(event(m, "open", "ev-tomorrow-"+id), time.Now().Add(25*time.Hour).Unix()),
		event(m, "delivered", "ev-good-"+id, "response", "250 2.0.0 OK\r\n\tqueued"),
	}
	logs := &logBuffer{}
	base := loggingAPI(t, logs)
	r := must(t, 200, postEventsAt(t, base, batch, time.Now().Unix()))
	if r.Body["received"] != float64(6) || r.Body["applied"] != float64(1) || r.Body["skipped"] != float64(5) {
		t.Fatalf("batch with bad events: %s", r.Raw)
	}
	// Resent, the good event is a repeat and the bad ones are still skipped: 200 again.
	if r := must(t, 200, postEventsAt(t, base, batch, time.Now().Unix())); r.Body["applied"] != float64(0) || r.Body["skipped"] != float64(5) {
		t.Fatalf("batch again: %s", r.Raw)
	}
	eventually(t, "the skips in the log", func() bool {
		return strings.Count(logs.String(), "event webhook: event skipped") == 10
	})
	if out := logs.String(); strings.Contains(out, m.To[0]) || !strings.Contains(out, `ev-nul-`) || !strings.Contains(out, `reason: control character`) ||
		!strings.Contains(out, "timestamp: out of range") {
		t.Fatalf("log:\n%s", out)
	}
}

// TestInboundSpoofedSenderIsNotMatched (M2): a reply without the reply token is matched by
// its sender only when DKIM or SPF passes for the sender's own domain.
func TestInboundSpoofedSenderIsNotMatched(t *testing.T) {
	campaign := newCampaign(t)
	r := must(t, 201, call(t, "POST", "/v1/creators", opsKey, `{"name":"Mal Spoofed","email":"mal.spoofed@example.com","timezone":"UTC"}`))
	id := start(t, campaign, r.str("id"))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	base := func(extra ...string) map[string]string {
		f := map[string]string{"from": "Mal <mal.spoofed@example.com>", "to": "collabs@acme.test", "subject": "Re: yes for $50", "text": "forged reply"}
		for i := 0; i+1 < len(extra); i += 2 {
			f[extra[i]] = extra[i+1]
		}
		return f
	}
	for _, f := range []map[string]string{
		// B14: the attacker's own domain passes.
		base("dkim", "{@evil.test : pass}", "SPF", "pass", "envelope", `{"from":"bounce@evil.test","to":["collabs@acme.test"]}`),
		// B15: results that merely contain "pass".
		base("dkim", "{@example.com : fail (bypass)}", "SPF", "softfail (passthrough)", "envelope", `{"from":"mal.spoofed@example.com","to":["collabs@acme.test"]}`),
		// SPF passes, but for another envelope domain.
		base("SPF", "pass", "envelope", `{"from":"bounce@example.com.evil.test","to":["collabs@acme.test"]}`),
	} {
		if got := must(t, 200, inboundPost(t, f, inboundSecret)).str("collaboration_id"); got != "" {
			t.Fatalf("spoofed sender %v matched %s", f, got)
		}
	}
	if stageOf(t, id) != "outreach" {
		t.Fatal("a spoofed reply moved the collaboration")
	}
	// SPF passing for the sender's own envelope domain vouches for it.
	f := base("SPF", "pass", "envelope", `{"from":"mal.spoofed@example.com","to":["collabs@acme.test"]}`, "text", "real reply")
	if got := must(t, 200, inboundPost(t, f, inboundSecret)).str("collaboration_id"); got != id {
		t.Fatalf("aligned SPF pass matched %q, want %s", got, id)
	}
	waitForStage(t, id, "negotiating")
}

// TestInboundRawMessageNeverPanics (L11): with "send raw" on, a raw message with CRLF line
// endings, or without a blank line, used to panic in sendgrid-go (500, email lost). It is
// now recorded; a raw field that is no MIME message answers 400 naming the field.
func TestInboundRawMessageNeverPanics(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	m := sentTo(id)[0]
	raw := "From: Creator <" + m.To[0] + ">\r\nTo: " + m.ReplyTo + "\r\nSubject: Re: hi\r\nMessage-ID: <raw-" + id + "@mail.example.com>\r\n\r\nYes, in CRLF\r\n"
	f := map[string]string{"from": "Creator <" + m.To[0] + ">", "to": m.ReplyTo, "subject": "Re: hi", "email": raw,
		"envelope": fmt.Sprintf(`{"to":[%q],"from":%q}`, m.ReplyTo, m.To[0])}
	if got := must(t, 200, inboundPost(t, f, inboundSecret)).str("collaboration_id"); got != id {
		t.Fatalf("raw CRLF reply matched %q, want %s", got, id)
	}
	received, err := st.InboundMessages(context.Background(), id)
	if err != nil || len(received) != 1 || received[0].MessageID != "<raw-"+id+"@mail.example.com>" || !strings.Contains(received[0].BodyText, "Yes, in CRLF") {
		t.Fatalf("received %+v %v, want the raw reply with its text", received, err)
	}

	// No blank line at all (the review's reproduction): recorded, unmatched, 200.
	must(t, 200, inboundPost(t, map[string]string{"from": "a@b.c", "to": "x@y.z", "email": "Subject: x"}, inboundSecret))
	// Not a MIME message: 400 naming the field.
	r := must(t, 400, inboundPost(t, map[string]string{"from": "a@b.c", "to": "x@y.z", "email": "no header line"}, inboundSecret))
	if r.field("email") == "" {
		t.Fatalf("400 without naming the email field: %s", r.Raw)
	}
}

// TestLargeInboundReplyIsRecorded (M1): an authenticated post larger than the memory
// budget is streamed to disk and recorded, its text cut at 1 MB.
func TestLargeInboundReplyIsRecorded(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	m := sentTo(id)[0]
	f := map[string]string{"from": "Creator <" + m.To[0] + ">", "to": m.ReplyTo, "subject": "Re: big",
		"headers": "Message-ID: <big-" + id + "@mail.example.com>\n", "text": strings.Repeat("long reply ", 500_000)}
	if got := must(t, 200, inboundPost(t, f, inboundSecret)).str("collaboration_id"); got != id {
		t.Fatalf("matched %q, want %s", got, id)
	}
	received, err := st.InboundMessages(context.Background(), id)
	if err != nil || len(received) != 1 || len(received[0].BodyText) != 1<<20 {
		t.Fatalf("received %d messages %v, want one with 1 MB of text", len(received), err)
	}
}
