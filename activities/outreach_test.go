package activities_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/devenv/sendgridsink"
	"github.com/collabflow/collabflow/links"
	"github.com/collabflow/collabflow/mailer"
	"github.com/collabflow/collabflow/outreach"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// outreachEnv is a real store and a SendGrid fake over HTTP behind the activities.
type outreachEnv struct {
	st   *store.Store
	sink *sendgridsink.Sink
	env  *testsuite.TestActivityEnvironment
	acts *activities.Activities
	in   activities.SendEmailInput
}

func newOutreachEnv(t *testing.T) *outreachEnv {
	t.Helper()
	ctx := context.Background()
	st := storetest.New(t)
	sink := sendgridsink.New()
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	sg, err := mailer.NewSendGrid("SG.test", srv.URL, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := links.NewSigner([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	cr, err := st.CreateCreator(ctx, roster.Creator{Name: "Ada Lovelace", Email: "ada@example.com", Timezone: "Europe/London",
		Handles: map[string]string{"tiktok": "ada"}})
	if err != nil {
		t.Fatal(err)
	}
	cp := campaigns.Campaign{Name: "Spring", Brand: "Acme", SenderEmail: "collabs@acme.test",
		Compensation: campaigns.Compensation{Currency: "EUR", FixedFee: 123456}}
	cp.ApplyDefaults()
	if cp, err = st.CreateCampaign(ctx, cp); err != nil {
		t.Fatal(err)
	}
	acts := &activities.Activities{Store: st, Mailer: sg, Links: signer, PublicURL: "https://cf.test",
		PostalAddress: "Acme, 1 Main St", ReplyDomain: "in.acme.test"}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return &outreachEnv{st: st, sink: sink, env: env, acts: acts,
		in: activities.SendEmailInput{CollaborationID: "collab-1", CampaignID: cp.ID, CreatorID: cr.ID, Step: 0}}
}

func (o *outreachEnv) send(t *testing.T) (activities.SendEmailResult, error) {
	t.Helper()
	v, err := o.env.ExecuteActivity(o.acts.SendOutreachEmail, o.in)
	if err != nil {
		return activities.SendEmailResult{}, err
	}
	var res activities.SendEmailResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

func TestSendOutreachEmailRendersAndLogs(t *testing.T) {
	o := newOutreachEnv(t)
	res, err := o.send(t)
	if err != nil || res.Status != activities.SendSent {
		t.Fatalf("send: %+v %v", res, err)
	}
	got := o.sink.Messages()
	if len(got) != 1 {
		t.Fatalf("sink has %d", len(got))
	}
	m := got[0]
	for _, want := range []string{"Hi Ada,", "tiktok profile (@ada)", "EUR 1,234.56", "Acme, 1 Main St", "https://cf.test/u/", "public tiktok profile"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("email lacks %q:\n%s", want, m.Text)
		}
	}
	emails, err := o.st.Emails(context.Background(), "collab-1")
	if err != nil || len(emails) != 1 {
		t.Fatalf("log: %v %v", emails, err)
	}
	if emails[0].BodyText != m.Text || emails[0].ProviderMessageID != m.MessageID || emails[0].Status != store.EmailSent {
		t.Fatalf("logged %+v, sent %+v", emails[0], m)
	}
	// The unsubscribe link verifies and names this creator and collaboration.
	link := strings.Trim(m.Headers["List-Unsubscribe"], "<>")
	payload, err := o.acts.Links.Verify(activities.UnsubscribePurpose, strings.TrimPrefix(link, "https://cf.test/u/"), time.Now())
	if err != nil || payload != o.in.CreatorID+"|collab-1" {
		t.Fatalf("unsubscribe token: %q %v", payload, err)
	}
}

// TestRetriedSendDoesNotDuplicate is Temporal retrying the activity: after an attempt
// that reached SendGrid, a retry finds the key logged as sent and sends nothing.
func TestRetriedSendDoesNotDuplicate(t *testing.T) {
	o := newOutreachEnv(t)
	first, err := o.send(t)
	if err != nil {
		t.Fatal(err)
	}
	second, err := o.send(t)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(o.sink.Messages()); n != 1 {
		t.Fatalf("sink got %d emails for one step", n)
	}
	if second.Status != activities.SendSent || second.ProviderMessageID != first.ProviderMessageID {
		t.Fatalf("retry reported %+v, first %+v", second, first)
	}
}

func TestSendRetriesProviderOutagesAndFailsRefusals(t *testing.T) {
	o := newOutreachEnv(t)
	o.sink.FailNext(429, 503)
	for range 2 {
		_, err := o.send(t)
		var appErr *temporal.ApplicationError
		if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
			t.Fatalf("an outage must be a retryable error, got %v", err)
		}
	}
	if res, err := o.send(t); err != nil || res.Status != activities.SendSent {
		t.Fatalf("after the outage: %+v %v", res, err)
	}
	if n := len(o.sink.Messages()); n != 1 {
		t.Fatalf("sink got %d", n)
	}

	o.in.Step = 1
	o.sink.FailNext(400)
	res, err := o.send(t)
	if err != nil || res.Status != activities.SendFailed || !strings.Contains(res.Reason, "400") {
		t.Fatalf("a refusal: %+v %v", res, err)
	}
	// A retry of a refused step does not try again.
	if res, err := o.send(t); err != nil || res.Status != activities.SendFailed {
		t.Fatalf("retry of a refusal: %+v %v", res, err)
	}
	if n := len(o.sink.Messages()); n != 1 {
		t.Fatalf("sink got %d", n)
	}
}

func TestSuppressedAddressIsNeverEmailed(t *testing.T) {
	o := newOutreachEnv(t)
	if _, err := o.st.Suppress(context.Background(), "ADA@example.com", "unsubscribed", "test"); err != nil {
		t.Fatal(err)
	}
	res, err := o.send(t)
	if err != nil || res.Status != activities.SendSuppressed {
		t.Fatalf("send to suppressed: %+v %v", res, err)
	}
	if n := len(o.sink.Messages()); n != 0 {
		t.Fatalf("sink got %d", n)
	}
}

func TestSendRefusesBadInput(t *testing.T) {
	o := newOutreachEnv(t)
	for _, in := range []activities.SendEmailInput{
		{CollaborationID: "c", CampaignID: o.in.CampaignID, CreatorID: "01a21e0c-0000-7000-8000-000000000000"},
		{CollaborationID: "c", CampaignID: "01a21e0c-0000-7000-8000-000000000000", CreatorID: o.in.CreatorID},
		{CollaborationID: "c", CampaignID: o.in.CampaignID, CreatorID: o.in.CreatorID, Step: 9},
	} {
		o.in = in
		_, err := o.send(t)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || !appErr.NonRetryable() {
			t.Errorf("%+v: %v, want non-retryable", in, err)
		}
	}
}

func TestNextSendTime(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	after := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC) // Saturday
	v, err := env.ExecuteLocalActivity(acts.NextSendTime, activities.NextSendTimeInput{Timezone: "Europe/Berlin", Window: outreach.BusinessHours(), After: after})
	if err != nil {
		t.Fatal(err)
	}
	var got time.Time
	if err := v.Get(&got); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("got %s, want %s", got, want)
	}
	_, err = env.ExecuteLocalActivity(acts.NextSendTime, activities.NextSendTimeInput{Timezone: "Mars/Olympus", Window: outreach.Always(), After: after})
	if err == nil {
		t.Fatal("unknown time zone accepted")
	}
}

// lossyMailer points a SendGrid client at the sink through a proxy that lets the sink take
// the email and then loses the answer: the client times out after SendGrid accepted, as
// it does when a connection drops or a proxy stalls.
func lossyMailer(t *testing.T, sink *sendgridsink.Sink) *mailer.SendGrid {
	t.Helper()
	late := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sink.ServeHTTP(httptest.NewRecorder(), r) // accepted
		<-late                                    // the answer never arrives in time
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(late) })
	sg, err := mailer.NewSendGrid("SG.test", srv.URL, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return sg
}

// outcomeUnknown asserts that err asks Temporal to retry after a delay of at most limit.
func outcomeUnknown(t *testing.T, err error, limit time.Duration) time.Duration {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrSendOutcomeUnknown || appErr.NonRetryable() {
		t.Fatalf("got %v, want a retryable %s error", err, activities.ErrSendOutcomeUnknown)
	}
	if d := appErr.NextRetryDelay(); d <= 0 || d > limit {
		t.Fatalf("next retry in %s, want (0, %s]", d, limit)
	}
	return appErr.NextRetryDelay()
}

// TestLostAnswerIsNotSentTwice: SendGrid accepted the first attempt but its answer was
// lost. The retry does not send again while the wait for provider events lasts (it asks
// Temporal to come back when the wait is over), and once SendGrid's event arrives the
// email counts as sent: one email in all.
func TestLostAnswerIsNotSentTwice(t *testing.T) {
	o := newOutreachEnv(t)
	o.acts.Mailer = lossyMailer(t, o.sink)
	o.acts.ProviderEventWait = time.Hour
	if _, err := o.send(t); err == nil {
		t.Fatal("a lost answer reported success")
	}
	if n := len(o.sink.Messages()); n != 1 {
		t.Fatalf("sink got %d", n)
	}
	outcomeUnknown(t, func() error { _, err := o.send(t); return err }(), time.Hour)
	if n := len(o.sink.Messages()); n != 1 {
		t.Fatalf("the retry sent again: sink got %d", n)
	}

	key := o.in.MessageKey()
	if _, err := o.st.RecordEmailEvent(context.Background(), key, store.EmailEvent{EventID: "sg-processed-1", Event: "processed", OccurredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	res, err := o.send(t)
	if err != nil || res.Status != activities.SendSent {
		t.Fatalf("after the provider's event: %+v %v", res, err)
	}
	if n := len(o.sink.Messages()); n != 1 {
		t.Fatalf("sink got %d", n)
	}
}

// TestLostAnswerFromAProxyWaitsToo: a 500, 502 or 504 may come from a proxy after SendGrid
// accepted, so the retry waits for events; a 429 or 503 means SendGrid took nothing, so
// the retry sends at once (TestSendRetriesProviderOutagesAndFailsRefusals).
func TestLostAnswerFromAProxyWaitsToo(t *testing.T) {
	o := newOutreachEnv(t)
	o.acts.ProviderEventWait = time.Hour
	o.sink.FailNext(502)
	if _, err := o.send(t); err == nil {
		t.Fatal("a 502 reported success")
	}
	outcomeUnknown(t, func() error { _, err := o.send(t); return err }(), time.Hour)
	if n := len(o.sink.Messages()); n != 0 {
		t.Fatalf("sink got %d", n)
	}
}

// TestLostAnswerIsSentAgainAfterTheWait: with no provider event within ProviderEventWait
// (the Event Webhook is down or not set up), the email goes out again: the documented
// duplicate, bounded by the wait.
func TestLostAnswerIsSentAgainAfterTheWait(t *testing.T) {
	o := newOutreachEnv(t)
	direct := o.acts.Mailer
	o.acts.Mailer = lossyMailer(t, o.sink)
	o.acts.ProviderEventWait = 500 * time.Millisecond
	if _, err := o.send(t); err == nil {
		t.Fatal("a lost answer reported success")
	}
	o.acts.Mailer = direct
	_, err := o.send(t)
	time.Sleep(outcomeUnknown(t, err, 500*time.Millisecond)) // what Temporal's NextRetryDelay does
	res, err := o.send(t)
	if err != nil || res.Status != activities.SendSent {
		t.Fatalf("after the wait: %+v %v", res, err)
	}
	if got := o.sink.Messages(); len(got) != 2 || res.ProviderMessageID != got[1].MessageID {
		t.Fatalf("sink %+v, result %+v: want the second copy logged", got, res)
	}
}

// blipStore is the real store with MarkEmailSent failing a number of times, as a
// PostgreSQL failover right after SendGrid accepted does.
type blipStore struct {
	*store.Store
	failures int
}

func (b *blipStore) MarkEmailSent(ctx context.Context, key, providerID string, at time.Time) (bool, error) {
	if b.failures > 0 {
		b.failures--
		return false, errors.New("connection reset by peer")
	}
	return b.Store.MarkEmailSent(ctx, key, providerID, at)
}

// TestDatabaseBlipAfterAcceptIsNotADuplicate: a short blip is retried in process; a long
// one fails the attempt, and the retry waits for provider events instead of sending again.
func TestDatabaseBlipAfterAcceptIsNotADuplicate(t *testing.T) {
	o := newOutreachEnv(t)
	blips := &blipStore{Store: o.st, failures: 2}
	o.acts.Store = blips
	o.acts.ProviderEventWait = time.Hour
	res, err := o.send(t)
	if err != nil || res.Status != activities.SendSent {
		t.Fatalf("a short blip: %+v %v", res, err)
	}
	emails, err := o.st.Emails(context.Background(), o.in.CollaborationID)
	if err != nil || len(emails) != 1 || emails[0].Status != store.EmailSent || emails[0].ProviderMessageID != res.ProviderMessageID {
		t.Fatalf("log %+v %v", emails, err)
	}

	o.in.Step = 1
	blips.failures = 100
	if _, err := o.send(t); err == nil {
		t.Fatal("a long blip reported success")
	}
	blips.failures = 0
	outcomeUnknown(t, func() error { _, err := o.send(t); return err }(), time.Hour)
	if n := len(o.sink.Messages()); n != 2 {
		t.Fatalf("sink got %d, want one email per step", n)
	}
}

// TestStopEmailSaysWhetherItWentOut: stopping a send whose answer was lost tells the
// workflow when the log already holds the email as sent (marked, or by SendGrid's event),
// so the collaboration counts it rather than recording it stopped.
func TestStopEmailSaysWhetherItWentOut(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	acts := &activities.Activities{Store: st}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	logEmail := func(key string) {
		t.Helper()
		if _, err := st.BeginEmail(ctx, store.Email{MessageKey: key, CollaborationID: "collab-went", Step: 1, Kind: "outreach",
			ToEmail: "ada@example.com", FromEmail: "collabs@acme.test", Subject: "Hi", BodyText: "Hi"}); err != nil {
			t.Fatal(err)
		}
	}
	logEmail("collab-went/sending")
	logEmail("collab-went/marked")
	if _, err := st.MarkEmailSent(ctx, "collab-went/marked", "sg-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	logEmail("collab-went/event")
	if _, err := st.RecordEmailEvent(ctx, "collab-went/event", store.EmailEvent{EventID: "ev-1", Event: "processed", OccurredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key        string
		wentOut    bool
		wantStatus string
	}{
		{"collab-went/sending", false, store.EmailStopped},
		{"collab-went/marked", true, store.EmailSent},
		{"collab-went/event", true, "processed"},
		{"collab-went/never-logged", false, ""},
	} {
		t.Run(tc.key, func(t *testing.T) {
			v, err := env.ExecuteActivity(acts.StopEmail, activities.StopEmailInput{MessageKey: tc.key, Reason: "replied"})
			if err != nil {
				t.Fatal(err)
			}
			var res activities.StopEmailResult
			if err := v.Get(&res); err != nil {
				t.Fatal(err)
			}
			if res.WentOut != tc.wentOut {
				t.Fatalf("went out %v, want %v", res.WentOut, tc.wentOut)
			}
			if tc.wantStatus == "" {
				return
			}
			if e, err := st.EmailByKey(ctx, tc.key); err != nil || e.Status != tc.wantStatus {
				t.Fatalf("log row %+v %v, want status %s", e, err, tc.wantStatus)
			}
		})
	}
}

// TestAnAttemptAtSendGridWhenItsEmailIsStoppedLogsItSent is N-4: the attempt had passed
// may_send and was inside Send when a reply stopped the email (StopEmail marks the row
// stopped). SendGrid took it, so the log says sent, keeps the stop in its history, and
// leaves SendGrid's first event of it to tell the collaboration (LateSendUnheard), which
// recorded it not sent.
func TestAnAttemptAtSendGridWhenItsEmailIsStoppedLogsItSent(t *testing.T) {
	o := newOutreachEnv(t)
	ctx := context.Background()
	key := o.in.MessageKey()
	stopped := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The workflow's stop lands while SendGrid has the request.
		ok, err := o.st.StopEmail(ctx, key, "outreach ended: replied")
		stopped = ok && err == nil
		o.sink.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	sg, err := mailer.NewSendGrid("SG.test", srv.URL, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	o.acts.Mailer = sg

	res, err := o.send(t)
	if err != nil || res.Status != activities.SendSent || !stopped {
		t.Fatalf("send: %+v %v (stopped meanwhile: %v)", res, err, stopped)
	}
	emails, err := o.st.Emails(ctx, o.in.CollaborationID)
	if err != nil || len(emails) != 1 {
		t.Fatalf("log: %+v %v", emails, err)
	}
	e := emails[0]
	if e.Status != store.EmailSent || e.ProviderMessageID != o.sink.Messages()[0].MessageID || len(e.Events) != 1 || e.Events[0].Event != store.EmailStopped {
		t.Fatalf("log row %+v: want sent, with the stop in its history", e)
	}
	if unheard, err := o.st.LateSendUnheard(ctx, key); err != nil || !unheard {
		t.Fatalf("SendGrid's first event of it must tell the collaboration: %v %v", unheard, err)
	}
	// A retry finds it sent and sends nothing more.
	if again, err := o.send(t); err != nil || again.Status != activities.SendSent || len(o.sink.Messages()) != 1 {
		t.Fatalf("retry: %+v %v, %d sent", again, err, len(o.sink.Messages()))
	}
}
