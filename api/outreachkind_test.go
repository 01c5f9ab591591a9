package api_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/collabflow/collabflow/store"
)

// logEmail logs an email of a collaboration as its activity would, to addr.
func logEmail(t *testing.T, id, key, kind, addr string) {
	t.Helper()
	if _, err := st.BeginEmail(context.Background(), store.Email{MessageKey: key, CollaborationID: id, Kind: kind,
		ToEmail: addr, FromEmail: "collabs@acme.test", Subject: kind, BodyText: kind}); err != nil {
		t.Fatal(err)
	}
}

// providerEvent is an Event Webhook event of a logged email.
func providerEvent(id, key, addr, name, eventID string, extra ...string) map[string]any {
	ev := map[string]any{"email": addr, "event": name, "sg_event_id": eventID, "timestamp": time.Now().Unix(),
		"sg_message_id": "msg-" + eventID + ".filterdrecv", "collaboration_id": id, "message_key": key}
	for i := 0; i+1 < len(extra); i += 2 {
		ev[extra[i]] = extra[i+1]
	}
	return ev
}

// emailsSent is the collaboration's count of outreach emails sent, with its state.
func emailsSent(t *testing.T, id string) (float64, string) {
	t.Helper()
	r := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil))
	return r.Body["outreach"].(map[string]any)["emails_sent"].(float64), string(r.Raw)
}

// stoppedFollowUp starts a collaboration whose second email a reply stopped (the log says
// stopped) after its first went out; it returns the collaboration, the stopped email's key
// and the creator's address.
func stoppedFollowUp(t *testing.T) (id, key, addr string) {
	t.Helper()
	id = start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	addr = sentTo(id)[0].To[0]
	key = id + "/outreach/2"
	logEmail(t, id, key, "outreach", addr)
	if stopped, err := st.StopEmail(context.Background(), key, "outreach ended: replied"); err != nil || !stopped {
		t.Fatalf("stop: %v %v", stopped, err)
	}
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{"note":"by phone"}`))
	return id, key, addr
}

// TestEventOfAnEmailSentOverItsStopCountsItSent is N-4: the attempt was at SendGrid when a
// reply stopped its email, and marked it sent afterwards, so the row no longer says
// stopped. SendGrid's first event of it still tells the collaboration, which counts it:
// log and state both say sent. A later event tells nothing more.
func TestEventOfAnEmailSentOverItsStopCountsItSent(t *testing.T) {
	id, key, addr := stoppedFollowUp(t)
	ctx := context.Background()
	if overrode, err := st.MarkEmailSent(ctx, key, "over-0001", time.Now()); err != nil || !overrode {
		t.Fatalf("the attempt's mark: %v %v", overrode, err)
	}

	must(t, 200, postEvents(t, []map[string]any{providerEvent(id, key, addr, "delivered", "over-ev-1")}, webhookKey))
	eventually(t, "the email sent over its stop counted", func() bool { n, _ := emailsSent(t, id); return n == 2 })
	logged, err := st.EmailByKey(ctx, key)
	if err != nil || logged.Status != "delivered" || logged.ProviderMessageID != "over-0001" {
		t.Fatalf("log row %+v, %v", logged, err)
	}
	before := outreachSignals(t, id)
	must(t, 200, postEvents(t, []map[string]any{providerEvent(id, key, addr, "open", "over-ev-2")}, webhookKey))
	if n := outreachSignals(t, id); n != before {
		t.Fatalf("the open event signalled again: %d signals, %d before", n, before)
	}
	if n, raw := emailsSent(t, id); n != 2 || strings.Count(raw, "went out before it was stopped") != 1 {
		t.Fatalf("after the open event: %v %s", n, raw)
	}
}

// TestEventOfAStoppedNoticeIsNoLateSend is N-3: a notice the collaboration stopped (it was
// ending) that SendGrid took anyway is not an outreach email: the collaboration is not
// told, and its outreach count stays.
func TestEventOfAStoppedNoticeIsNoLateSend(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	addr := sentTo(id)[0].To[0]
	ctx := context.Background()
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{"note":"by phone"}`))
	key := id + "/contract/1"
	logEmail(t, id, key, "contract", addr)
	if stopped, err := st.StopEmail(ctx, key, "the collaboration is ending"); err != nil || !stopped {
		t.Fatalf("stop: %v %v", stopped, err)
	}
	before := outreachSignals(t, id)
	r := must(t, 200, postEvents(t, []map[string]any{providerEvent(id, key, addr, "delivered", "notice-ev-1")}, webhookKey))
	if r.Body["applied"].(float64) != 1 {
		t.Fatalf("applied %v", r.Body)
	}
	if n := outreachSignals(t, id); n != before {
		t.Fatalf("a notice's event told the collaboration of a late outreach email: %d signals, %d before", n, before)
	}
	if n, raw := emailsSent(t, id); n != 1 {
		t.Fatalf("outreach count %v: %s", n, raw)
	}
}

// TestOpsNoticeBounceStopsNothing is N-5: an escalation emailed to ops during outreach
// bounces (hard) and is dropped. That says nothing about the creator: the sequence goes
// on, the collaboration is not even told, and the ops address is not suppressed. The
// email log keeps the events.
func TestOpsNoticeBounceStopsNothing(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	const opsAddr = "ops-bounces@collabflow.test"
	key := id + "/ops/attention/7"
	logEmail(t, id, key, "ops", opsAddr)
	before := outreachSignals(t, id)
	r := must(t, 200, postEvents(t, []map[string]any{
		providerEvent(id, key, opsAddr, "bounce", "ops-ev-1", "type", "bounce", "reason", "550 5.1.1 no such mailbox"),
		providerEvent(id, key, opsAddr, "dropped", "ops-ev-2", "reason", "Bounced Address"),
	}, webhookKey))
	if r.Body["applied"].(float64) != 2 {
		t.Fatalf("applied %v", r.Body)
	}
	if n := outreachSignals(t, id); n != before {
		t.Fatalf("an ops notice's bounce signalled the collaboration: %d signals, %d before", n, before)
	}
	if stage := stageOf(t, id); stage != "outreach" {
		t.Fatalf("stage %s after an ops notice bounced", stage)
	}
	if _, err := st.Suppressed(context.Background(), opsAddr); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the ops address was suppressed: %v", err)
	}
	emails, err := st.Emails(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range emails {
		if e.MessageKey == key && len(e.Events) != 2 {
			t.Fatalf("ops notice history %+v", e.Events)
		}
	}
}

// A hard bounce of a notice suppresses the creator's address, and every sequence still
// running to it stops, although the news names a notice of another collaboration: it is
// passed on as news of the address, not of an email (no message key).
func TestNoticeBounceStopsOtherSequencesToTheAddress(t *testing.T) {
	creator := newCreator(t)
	first := start(t, newCampaign(t), creator)
	eventually(t, "the first email", func() bool { return len(sentTo(first)) == 1 })
	addr := sentTo(first)[0].To[0]
	must(t, 200, call(t, "POST", "/v1/collaborations/"+first+"/replies", opsKey, `{"note":"by phone"}`))
	key := first + "/contract/1"
	logEmail(t, first, key, "contract", addr)
	if _, err := st.MarkEmailSent(context.Background(), key, "notice-0001", time.Now()); err != nil {
		t.Fatal(err)
	}
	second := start(t, newCampaign(t), creator)
	eventually(t, "the second collaboration's email", func() bool { return len(sentTo(second)) == 1 })

	must(t, 200, postEvents(t, []map[string]any{
		providerEvent(first, key, addr, "bounce", "notice-bounce-1", "type", "bounce", "reason", "550 5.1.1 gone"),
	}, webhookKey))
	waitForStage(t, second, "no_response")
	r := must(t, 200, call(t, "GET", "/v1/collaborations/"+second, opsKey, nil))
	if reason := r.str("end_reason"); !strings.Contains(reason, "bounce") || !strings.Contains(reason, key) {
		t.Fatalf("end reason %q", reason)
	}
	if stage := stageOf(t, first); stage != "negotiating" {
		t.Fatalf("the notice's own collaboration is in %s", stage)
	}
}

// TestDropOfAStoppedEmailCountsItSent: SendGrid took an outreach email whose answer was
// lost, a reply stopped the retry, and SendGrid's first word of it is that it dropped it.
// SendGrid had accepted it, which the log counts as sent (as it does any email SendGrid
// accepted and then dropped), so the collaboration counts it too; the drop itself, after
// outreach, only goes on record.
func TestDropOfAStoppedEmailCountsItSent(t *testing.T) {
	id, key, addr := stoppedFollowUp(t)
	ctx := context.Background()

	must(t, 200, postEvents(t, []map[string]any{providerEvent(id, key, addr, "dropped", "drop-ev-1", "reason", "Bounced Address")}, webhookKey))
	eventually(t, "the dropped email counted sent", func() bool { n, _ := emailsSent(t, id); return n == 2 })
	logged, err := st.EmailByKey(ctx, key)
	if err != nil || !logged.WentOut() {
		t.Fatalf("log row %+v, %v: want it counted as gone out", logged, err)
	}
	eventually(t, "the drop on record", func() bool {
		_, raw := emailsSent(t, id)
		return strings.Contains(raw, "dropped on "+key)
	})
	if stage := stageOf(t, id); stage != "negotiating" {
		t.Fatalf("stage %s", stage)
	}
}
