package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/mailer"
	"github.com/collabflow/collabflow/outreach"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
)

// NextSendTimeInput asks when an email may go out.
type NextSendTimeInput struct {
	Timezone string          `json:"timezone"`
	Window   outreach.Window `json:"window"`
	After    time.Time       `json:"after"`
}

// NextSendTime is the first instant at or after in.After inside the send window in the
// creator's time zone. It runs as a local activity because loading a time zone reads
// the zone database, which workflow code must not.
func (a *Activities) NextSendTime(_ context.Context, in NextSendTimeInput) (time.Time, error) {
	loc, err := time.LoadLocation(in.Timezone)
	if err != nil {
		return time.Time{}, temporal.NewNonRetryableApplicationError("unknown time zone "+in.Timezone, "BadInput", err)
	}
	return in.Window.Next(in.After, loc).UTC(), nil
}

// SendEmailInput names one outreach email: the step of a collaboration's sequence.
type SendEmailInput struct {
	CollaborationID string `json:"collaboration_id"`
	CampaignID      string `json:"campaign_id"`
	CreatorID       string `json:"creator_id"`
	// Step counts from 0.
	Step int `json:"step"`
	// Experiment and Variant name the A/B test arm whose sequence this collaboration
	// was given at launch; empty for the campaign's own sequence.
	Experiment string `json:"experiment,omitempty"`
	Variant    string `json:"variant,omitempty"`
}

// MessageKey is the idempotency key of an outreach email.
func (in SendEmailInput) MessageKey() string {
	return in.CollaborationID + "/outreach/" + strconv.Itoa(in.Step+1)
}

// Results of SendOutreachEmail and SendNotice; SendStopped is the fourth.
const (
	SendSent       = "sent"
	SendSuppressed = "suppressed"
	SendFailed     = "failed"
)

// SendEmailResult says what became of the email.
type SendEmailResult struct {
	Status            string `json:"status"`
	MessageKey        string `json:"message_key"`
	ProviderMessageID string `json:"provider_message_id,omitempty"`
	// Reason explains a suppressed, stopped or failed send.
	Reason string `json:"reason,omitempty"`
}

// SendOutreachEmail renders a step of the campaign's sequence for the creator, logs it
// under its message key and sends it. A key already sent is not sent again, and a retry
// after an attempt whose answer was lost waits for SendGrid's events first (see deliver).
// A suppressed address is never emailed, and neither is a creator whose collaboration,
// asked right before the send, no longer wants the email (SendStopped). SendGrid's 429 and
// 5xx return an error, which Temporal retries with backoff; other refusals are final and
// reported as failed.
func (a *Activities) SendOutreachEmail(ctx context.Context, in SendEmailInput) (SendEmailResult, error) {
	key := in.MessageKey()
	res := SendEmailResult{MessageKey: key}
	creator, err := a.Store.Creator(ctx, in.CreatorID)
	if err != nil {
		return res, lookupError("creator", err)
	}
	campaign, err := a.Store.Campaign(ctx, in.CampaignID)
	if err != nil {
		return res, lookupError("campaign", err)
	}
	sequence, err := a.sequenceFor(ctx, in, campaign)
	if err != nil {
		return res, err
	}
	if in.Step < 0 || in.Step >= len(sequence) {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("campaign has no email %d", in.Step+1), "BadInput", nil)
	}
	if creator.ErasedAt != nil {
		res.Status, res.Reason = SendSuppressed, "creator erased"
		return res, nil
	}
	if sup, err := a.Store.Suppressed(ctx, creator.Email); err == nil {
		res.Status, res.Reason = SendSuppressed, "address suppressed: "+sup.Reason
		return res, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return res, err
	}

	if done, ok, err := a.sentBefore(ctx, key); ok || err != nil {
		return done, err
	}
	msg, err := a.compose(ctx, in, creator, campaign, sequence)
	if err != nil {
		return res, err
	}
	return a.deliver(ctx, store.Email{MessageKey: key, CollaborationID: in.CollaborationID, Step: in.Step + 1, Kind: "outreach"}, msg,
		&SendCheck{Kind: "outreach", Step: in.Step})
}

// sentBefore reports the result of an earlier attempt that finished the email under key,
// so that a retry neither renders nor sends it again.
func (a *Activities) sentBefore(ctx context.Context, key string) (SendEmailResult, bool, error) {
	logged, err := a.Store.EmailByKey(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return SendEmailResult{}, false, nil
	case err != nil:
		return SendEmailResult{}, false, err
	case logged.Status == store.EmailSending:
		return SendEmailResult{}, false, nil
	}
	return finished(logged), true, nil
}

// deliver logs an email under its key and sends it, unless the log says an earlier attempt
// already did. A retry sends the text the first attempt logged. With a check, the
// collaboration is asked right before the send whether it still wants the email; one it
// no longer wants is logged as stopped and reported as SendStopped.
//
// An attempt that handed the email to SendGrid and did not learn the answer (a timeout, a
// 5xx from a proxy, the log write failing, a crash) leaves the row `sending` with the
// attempt's time. The next attempt does not send at once: SendGrid may have accepted. It
// looks for a provider event (accepted: logged as sent), else waits until ProviderEventWait
// has passed since that attempt (a retryable error whose NextRetryDelay is the rest of the
// wait), and only then sends again. A duplicate remains possible when SendGrid accepted
// and no event arrives within the wait (Event Webhook down or not configured).
func (a *Activities) deliver(ctx context.Context, e store.Email, msg mailer.Message, check *SendCheck) (SendEmailResult, error) {
	key := e.MessageKey
	res := SendEmailResult{MessageKey: key}
	logger := activity.GetLogger(ctx)
	// The log holds the headers exactly as they go out.
	msg = msg.Sanitized()
	e.ToEmail, e.FromEmail, e.ReplyTo, e.Subject, e.BodyText = msg.ToEmail, msg.FromEmail, msg.ReplyTo, msg.Subject, msg.Text
	logged, err := a.Store.BeginEmail(ctx, e)
	if err != nil {
		return res, err
	}
	if logged.Status != store.EmailSending {
		return finished(logged), nil
	}
	if logged.SendAttemptedAt != nil {
		if done, ok, err := a.outcomeOfLostAttempt(ctx, logged); ok || err != nil {
			return done, err
		}
	}
	msg.Subject, msg.Text = logged.Subject, logged.BodyText
	if check != nil && (a.Collaborations != nil || !check.Until.IsZero()) {
		// Asked after the row is begun, so that a stopped email's retry finds it stopped
		// and every attempt reaches the same answer.
		verdict := SendVerdict{Allowed: true}
		if !check.Until.IsZero() && !time.Now().Before(check.Until) {
			verdict = SendVerdict{Reason: "its deadline passed " + check.Until.UTC().Format(time.RFC3339)}
		} else if a.Collaborations != nil {
			if verdict, err = a.Collaborations.MaySend(ctx, e.CollaborationID, *check); err != nil {
				return res, err
			}
		}
		if verdict.Paused {
			// The workflow cancels this attempt; until it does, retrying later is right.
			return res, temporal.NewApplicationErrorWithOptions("outreach paused", "Paused",
				temporal.ApplicationErrorOptions{NextRetryDelay: time.Minute})
		}
		if !verdict.Allowed {
			stopped, err := a.Store.StopEmail(ctx, key, verdict.Reason)
			if err != nil {
				return res, err
			}
			if stopped {
				a.Metrics.emailStopped(e.Kind)
			}
			logger.Info("email stopped by its collaboration", "message_key", key, "reason", verdict.Reason)
			res.Status, res.Reason = SendStopped, verdict.Reason
			return res, nil
		}
	}

	// Written before the send, so that whatever happens next a retry knows this attempt
	// may have reached SendGrid.
	if err := a.Store.MarkSendAttempt(ctx, key, time.Now()); err != nil {
		return res, err
	}
	logger.Info("sending email", "message_key", key, "kind", e.Kind)
	providerID, err := a.Mailer.Send(ctx, msg)
	if err != nil {
		if !mailer.MayHaveAccepted(err) {
			if err := a.Store.ClearSendAttempt(ctx, key); err != nil {
				// The retry then waits for provider events first: slower, never doubled.
				logger.Warn("could not record that SendGrid took nothing", "message_key", key, "error", err)
			}
		}
		var refused *mailer.ProviderError
		if errors.As(err, &refused) && !refused.Retryable() {
			if err := a.Store.MarkEmailFailed(ctx, key, refused.Error()); err != nil {
				return res, err
			}
			res.Status, res.Reason = SendFailed, refused.Error()
			return res, nil
		}
		return res, fmt.Errorf("send %s: %w", key, err)
	}
	accepted := time.Now()
	overrodeStop, err := a.markSent(ctx, key, providerID, accepted)
	if err != nil {
		return res, fmt.Errorf("SendGrid accepted %s as %s, but the log does not say so yet (a retry looks for its provider events before sending again): %w",
			key, providerID, err)
	}
	if overrodeStop {
		a.lateSend(ctx, key)
	}
	// The duplicate window: a crash before the mark commits leaves the retry to the
	// provider events.
	logger.Info("email sent", "message_key", key, "provider_message_id", providerID, "logged_after", time.Since(accepted))
	// Counted here, by the attempt that handed it over: a retry after this finds the row
	// sent (sentBefore, BeginEmail) and never reaches this line.
	a.Metrics.emailSent(e.Kind)
	res.Status, res.ProviderMessageID = SendSent, providerID
	return res, nil
}

// DefaultProviderEventWait is how long after an attempt with a lost answer a retry waits
// for a provider event before it sends again. SendGrid's Event Webhook posts within
// seconds, usually; two minutes covers its batching and a slow webhook.
const DefaultProviderEventWait = 2 * time.Minute

// ErrSendOutcomeUnknown is the ApplicationError type of a send that waits for the provider
// to report on an earlier attempt; its NextRetryDelay is the rest of the wait.
const ErrSendOutcomeUnknown = "SendOutcomeUnknown"

// outcomeOfLostAttempt decides what an attempt does about an earlier one that may have
// reached SendGrid: report it sent when a provider event proves it was (ok), wait (an
// error with NextRetryDelay), or, once the wait is over without an event, send again.
func (a *Activities) outcomeOfLostAttempt(ctx context.Context, logged store.Email) (SendEmailResult, bool, error) {
	key := logged.MessageKey
	at, err := a.Store.FirstProviderEvent(ctx, key)
	switch {
	case err == nil:
		overrodeStop, err := a.markSent(ctx, key, "", at)
		if err != nil {
			return SendEmailResult{}, false, err
		}
		if overrodeStop {
			a.lateSend(ctx, key)
		}
		// The attempt that sent it never learned so; this one is the first to log it.
		a.Metrics.emailSent(logged.Kind)
		return SendEmailResult{Status: SendSent, MessageKey: key, ProviderMessageID: logged.ProviderMessageID}, true, nil
	case !errors.Is(err, store.ErrNotFound):
		return SendEmailResult{}, false, err
	}
	wait := a.ProviderEventWait
	if wait <= 0 {
		wait = DefaultProviderEventWait
	}
	since := time.Since(*logged.SendAttemptedAt)
	if remaining := wait - since; remaining > 0 {
		return SendEmailResult{}, false, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("email %s may have reached SendGrid %s ago; waiting %s more for its provider events before sending again",
				key, since.Round(time.Millisecond), remaining.Round(time.Millisecond)),
			ErrSendOutcomeUnknown, temporal.ApplicationErrorOptions{NextRetryDelay: remaining})
	}
	activity.GetLogger(ctx).Warn("no provider event for an email that may have reached SendGrid; sending again",
		"message_key", key, "attempted", since.Round(time.Second))
	return SendEmailResult{}, false, nil
}

// markSent logs SendGrid's acceptance, retrying a failed write a few times in process: a
// database blip right after SendGrid accepted is the commonest cause of a duplicate, and a
// Temporal retry would have to wait out ProviderEventWait. overrodeStop reports that the
// workflow had stopped the email meanwhile (store.MarkEmailSent).
func (a *Activities) markSent(ctx context.Context, key, providerID string, at time.Time) (overrodeStop bool, err error) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		overrodeStop, err = a.Store.MarkEmailSent(ctx, key, providerID, at)
		if err == nil || attempt == markSentAttempts {
			return overrodeStop, err
		}
		activity.GetLogger(ctx).Warn("marking an email sent failed; trying again", "message_key", key, "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return false, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// lateSend notes an email SendGrid took after its collaboration stopped it: the attempt
// was past may_send, at SendGrid, when a reply or cancel came. The log says sent, which is
// what happened; the collaboration, which recorded it not sent, learns it from the first
// SendGrid event of it (the webhook's sent_after_stop, store.LateSendUnheard) and counts
// it once.
func (a *Activities) lateSend(ctx context.Context, key string) {
	activity.GetLogger(ctx).Warn("email went out after its collaboration stopped it; the log says sent, SendGrid's events tell the collaboration",
		"message_key", key)
}

// markSentAttempts bounds markSent: about 2.5 s of retries in all.
const markSentAttempts = 6

// compose renders the email of a step with the footer, headers and custom args every
// outreach email carries.
func (a *Activities) compose(ctx context.Context, in SendEmailInput, c roster.Creator, camp campaigns.Campaign, sequence []outreach.Step) (mailer.Message, error) {
	platform, handle := c.MainHandle()
	data := outreach.Data{
		Creator: outreach.CreatorData{Name: c.Name, FirstName: c.FirstName(), Handle: handle, Platform: platform,
			RecentPost: c.RecentPost, Followers: c.Followers},
		Campaign: outreach.CampaignData{Name: camp.Name, Brand: camp.Brand, LandingURL: camp.LandingURL},
		Offer:    offer(camp.Compensation.Currency, camp.Compensation.FixedFee),
		Step:     in.Step + 1,
	}
	subject, body, err := sequence[in.Step].Render(data)
	if err != nil {
		return mailer.Message{}, temporal.NewNonRetryableApplicationError("render email: "+err.Error(), "BadInput", err)
	}
	token, err := a.Store.ReplyToken(ctx, in.CollaborationID)
	if err != nil {
		return mailer.Message{}, err
	}
	unsubscribe := a.PublicURL + "/u/" + a.Links.Sign(UnsubscribePurpose, c.ID+"|"+in.CollaborationID, time.Time{})
	source := ""
	if in.Step == 0 && platform != "" {
		source = platform
	}
	return mailer.Message{
		FromEmail: camp.SenderEmail, FromName: camp.Brand,
		ToEmail: c.Email, ToName: c.Name,
		ReplyTo: "reply+" + token + "@" + a.ReplyDomain,
		Subject: subject,
		Text:    body + outreach.Footer(camp.Brand, a.PostalAddress, source, unsubscribe),
		Headers: map[string]string{
			// RFC 8058 one-click unsubscribe, which mailbox providers now expect.
			"List-Unsubscribe":      "<" + unsubscribe + ">",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		},
		CustomArgs: map[string]string{
			"collaboration_id": in.CollaborationID,
			"step":             strconv.Itoa(in.Step + 1),
			"message_key":      in.MessageKey(),
		},
	}, nil
}

// UnsubscribePurpose is the links purpose of unsubscribe tokens; their payload is
// "<creator id>|<collaboration id>".
const UnsubscribePurpose = "unsubscribe"

func finished(e store.Email) SendEmailResult {
	switch e.Status {
	case store.EmailFailed:
		return SendEmailResult{Status: SendFailed, MessageKey: e.MessageKey, Reason: "the provider refused this email earlier"}
	case store.EmailStopped:
		return SendEmailResult{Status: SendStopped, MessageKey: e.MessageKey, Reason: "the collaboration stopped this email earlier"}
	}
	return SendEmailResult{Status: SendSent, MessageKey: e.MessageKey, ProviderMessageID: e.ProviderMessageID}
}

// offer writes the fee for templates; no fee is no offer line.
func offer(currency string, minor int64) string {
	if minor <= 0 {
		return ""
	}
	return contract.Money(currency, minor)
}

func lookupError(what string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(what+" not found", "NotFound", err)
	}
	return err
}

// sequenceFor is the outreach sequence of a collaboration: its A/B test arm's, when it
// was given one at launch (kept after the test is decided, so the sequence it started
// with is the one it finishes), else the campaign's.
func (a *Activities) sequenceFor(ctx context.Context, in SendEmailInput, campaign campaigns.Campaign) ([]outreach.Step, error) {
	if in.Experiment == "" {
		return campaign.Sequence, nil
	}
	e, err := a.Store.Experiment(ctx, in.CampaignID, in.Experiment)
	if err != nil {
		return nil, lookupError("experiment", err)
	}
	for _, v := range e.Variants {
		if v.Name == in.Variant {
			return v.Sequence, nil
		}
	}
	return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("experiment %s has no variant %q", in.Experiment, in.Variant), "BadInput", nil)
}
