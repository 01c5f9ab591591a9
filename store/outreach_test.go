package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// N-4: an attempt that was at SendGrid when the workflow stopped its email marks it sent
// afterwards. The log says sent (it went out), keeps the stop in its history, and says it
// overrode the stop; the first provider event of it is then news for the collaboration
// (LateSendUnheard), a later one is not.
func TestMarkEmailSentReportsAnOverriddenStop(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	begin := func(key string) {
		t.Helper()
		if _, err := s.BeginEmail(ctx, store.Email{MessageKey: key, CollaborationID: "collab-late", Step: 1, Kind: "outreach",
			ToEmail: "ada@example.com", FromEmail: "collabs@acme.test", Subject: "Hi", BodyText: "Hi"}); err != nil {
			t.Fatal(err)
		}
	}
	unheard := func(key string) bool {
		t.Helper()
		u, err := s.LateSendUnheard(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	begin("collab-late/outreach/1")
	if stopped, err := s.StopEmail(ctx, "collab-late/outreach/1", "outreach ended: replied"); err != nil || !stopped {
		t.Fatalf("stop: %v %v", stopped, err)
	}
	if unheard("collab-late/outreach/1") != true {
		t.Fatal("a stopped email SendGrid has not reported on should be unheard")
	}
	overrode, err := s.MarkEmailSent(ctx, "collab-late/outreach/1", "sg-late", time.Now())
	if err != nil || !overrode {
		t.Fatalf("mark sent over a stop: overrode %v, %v", overrode, err)
	}
	e, err := s.EmailByKey(ctx, "collab-late/outreach/1")
	if err != nil || e.Status != store.EmailSent || e.SentAt == nil || e.ProviderMessageID != "sg-late" || !e.WentOut() {
		t.Fatalf("log row %+v, %v: want sent", e, err)
	}
	emails, err := s.Emails(ctx, "collab-late")
	if err != nil || len(emails) != 1 || len(emails[0].Events) != 1 || emails[0].Events[0].Event != store.EmailStopped {
		t.Fatalf("history %+v, %v: want the stop kept", emails, err)
	}
	if !unheard("collab-late/outreach/1") {
		t.Fatal("the first provider event of an email sent over a stop must be news")
	}
	if again, err := s.MarkEmailSent(ctx, "collab-late/outreach/1", "", time.Now()); err != nil || again {
		t.Fatalf("a second mark: overrode %v, %v", again, err)
	}
	if _, err := s.RecordEmailEvent(ctx, "collab-late/outreach/1", store.EmailEvent{EventID: "ev-late-1", Event: "processed", OccurredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if unheard("collab-late/outreach/1") {
		t.Fatal("after a provider event, later events are no news")
	}

	// An ordinary send overrides nothing and is never news; neither is a key never logged.
	begin("collab-late/outreach/2")
	if overrode, err := s.MarkEmailSent(ctx, "collab-late/outreach/2", "sg-2", time.Now()); err != nil || overrode {
		t.Fatalf("plain mark: overrode %v, %v", overrode, err)
	}
	if unheard("collab-late/outreach/2") {
		t.Fatal("an email never stopped is no late send")
	}
	if overrode, err := s.MarkEmailSent(ctx, "collab-late/outreach/9", "sg-9", time.Now()); err != nil || overrode {
		t.Fatalf("unlogged key: overrode %v, %v", overrode, err)
	}
}
