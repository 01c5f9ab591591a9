package api

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	"github.com/sendgrid/sendgrid-go/helpers/inbound"

	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// Header names of SendGrid's signed Event Webhook.
const (
	signatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	timestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// sendgridEvent is one Event Webhook event; custom args arrive as top-level keys.
type sendgridEvent struct {
	Email           string `json:"email"`
	Event           string `json:"event"`
	Timestamp       int64  `json:"timestamp"`
	EventID         string `json:"sg_event_id"`
	Reason          string `json:"reason"`
	Type            string `json:"type"`
	Response        string `json:"response"`
	CollaborationID string `json:"collaboration_id"`
	MessageKey      string `json:"message_key"`
	// SGMessageID is SendGrid's message id: the send's X-Message-Id, a dot, and a suffix.
	SGMessageID string `json:"sg_message_id"`

	// defect names what makes the event unfit to apply (a field holding a control
	// character, a timestamp out of range), "" for a sound event. See parseEventBatch.
	defect string
}

// A per-event timestamp says when the event happened, not when the batch was signed. The
// signed header's timestamp is what SENDGRID_WEBHOOK_TOLERANCE holds close to now (replay
// protection); an event in a batch SendGrid has retried for hours is rightly that old, so
// events are only held to a range PostgreSQL and the workflows can take: not before 2000,
// not more than a day ahead of this server's clock.
var (
	earliestEvent   = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	eventClockAhead = 24 * time.Hour
)

// sendgridEvents takes a batch of delivery events. The ECDSA signature is checked over the
// raw body before anything is parsed; an unsigned or forged batch gets 401 and changes
// nothing. Each event is applied once: SendGrid retries for a day, so repeats are skipped
// by sg_event_id. An error answers 500 so that SendGrid delivers the batch again.
func (s *Server) sendgridEvents(c echo.Context) error {
	if s.webhookKey == nil {
		return &Error{Status: http.StatusUnauthorized, Msg: "event webhook verification key not configured (SENDGRID_WEBHOOK_PUBLIC_KEY)"}
	}
	// Everything the headers can tell is checked before a byte of the body is read, so an
	// unsigned upload costs nothing however large or slow it is.
	sig, ts := c.Request().Header.Get(signatureHeader), c.Request().Header.Get(timestampHeader)
	if !wellFormedSignature(sig) || ts == "" {
		return &Error{Status: http.StatusUnauthorized, Msg: "missing event webhook signature"}
	}
	at, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return &Error{Status: http.StatusUnauthorized, Msg: "event webhook timestamp is not a Unix time"}
	}
	// The signature covers the timestamp: a batch signed long ago is a replay.
	if skew := time.Since(time.Unix(at, 0)); skew > s.eventTolerance() || skew < -s.eventTolerance() {
		return &Error{Status: http.StatusUnauthorized, Msg: "event webhook timestamp outside the accepted window"}
	}
	if c.Request().ContentLength > maxEventBody {
		return &Error{Status: http.StatusRequestEntityTooLarge, Msg: "event batch larger than 1 MB"}
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxEventBody+1))
	if err != nil {
		return badRequest("body", "unreadable")
	}
	if len(body) > maxEventBody {
		return &Error{Status: http.StatusRequestEntityTooLarge, Msg: "event batch larger than 1 MB"}
	}
	if ok, err := eventwebhook.VerifySignature(s.webhookKey, body, sig, ts); err != nil || !ok {
		return &Error{Status: http.StatusUnauthorized, Msg: "event webhook signature does not verify"}
	}
	events, err := parseEventBatch(body, time.Now())
	if err != nil {
		return badRequest("body", "must be a JSON array of events")
	}
	applied, skipped := 0, 0
	for i, ev := range events {
		if ev.defect != "" {
			// The address stays out of the log; the event ID (quoted, as it may be the
			// field at fault) is enough to find the event in SendGrid's activity feed.
			s.logger.Warn("event webhook: event skipped", "index", i, "event", strconv.QuoteToASCII(truncate(ev.Event, 40)),
				"sg_event_id", strconv.QuoteToASCII(truncate(ev.EventID, 100)), "defect", ev.defect)
			skipped++
			continue
		}
		done, err := s.applyEvent(c.Request().Context(), ev)
		if err != nil {
			return err
		}
		if done {
			applied++
		}
	}
	return c.JSON(http.StatusOK, map[string]int{"received": len(events), "applied": applied, "skipped": skipped})
}

// parseEventBatch reads a verified Event Webhook body: a JSON array of events, or null
// for none. A body that does not parse in full yields no events at all, so a malformed
// batch is refused whole (400) and nothing in it is applied. Events that are not about an
// email of ours (no sg_event_id, message_key or collaboration_id) are kept here and
// skipped by applyEvent, so that the answer counts every event received.
//
// An event that parses but cannot be stored (a NUL or another control character in a
// string, which PostgreSQL refuses or no address or reason holds; a timestamp before 2000
// or more than a day after now, which PostgreSQL may not even represent) is marked with
// its defect, and the handler skips it. Failing the batch instead would answer 500, and
// SendGrid would send the same batch for a day, holding back the good events in it every
// time; refusing it with 400 would drop them. Skipping keeps them applied, and the bad
// event could never be applied however often it came.
func parseEventBatch(body []byte, now time.Time) ([]sendgridEvent, error) {
	var events []sendgridEvent
	if err := json.Unmarshal(body, &events); err != nil {
		return nil, fmt.Errorf("parse event batch: %w", err)
	}
	latest := now.Add(eventClockAhead).Unix()
	for i := range events {
		ev := &events[i]
		if field := controlIn(reflect.ValueOf(*ev), ""); field != "" {
			ev.defect = field + ": control character"
		} else if ev.Timestamp < earliestEvent.Unix() || ev.Timestamp > latest {
			ev.defect = "timestamp: out of range"
		}
	}
	return events, nil
}

// providerMessageID is the send's X-Message-Id within an event's sg_message_id.
func providerMessageID(sgMessageID string) string {
	id, _, _ := strings.Cut(sgMessageID, ".")
	return id
}

// applyEvent updates the email log and tells the workflows what they must know. Effects
// come before the log entry that marks the event done, so a failure midway is retried.
func (s *Server) applyEvent(ctx context.Context, ev sendgridEvent) (bool, error) {
	if ev.EventID == "" || ev.MessageKey == "" || ev.CollaborationID == "" {
		return false, nil // not an email of ours
	}
	if seen, err := s.store.EmailEventRecorded(ctx, ev.EventID); err != nil || seen {
		return false, err
	}
	logged, err := s.store.EmailByKey(ctx, ev.MessageKey)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	isLogged := err == nil
	if isOpsEmail(ev.MessageKey, logged, isLogged) {
		// An escalation sent to ops, not to the creator: news of it says nothing about
		// the creator, so it neither stops outreach nor suppresses anything (notices to
		// ops are never checked against the suppression list, and suppressing the ops
		// address could stop a creator's outreach). The log keeps the event; a bounce or
		// drop is worth a warning, as ops did not get the notice.
		if ev.Event == "bounce" || ev.Event == "dropped" {
			s.logger.Warn("event webhook: an ops notice did not reach ops; check COLLABFLOW_OPS_EMAIL", "message_key", ev.MessageKey,
				"event", ev.Event, "sg_event_id", ev.EventID)
		}
		return s.recordEvent(ctx, ev)
	}
	at := time.Unix(ev.Timestamp, 0).UTC()
	// The workflow hears the event's kind and where its details are, never the details:
	// a bounce's reason and the receiving server's answer quote the address.
	news := workflows.OutreachEvent{At: at, MessageKey: ev.MessageKey, Ref: "provider event " + truncate(ev.EventID, 100)}
	if isLogged && logged.Kind == outreachKind && workflows.IsOutreachKey(ev.MessageKey) {
		// Any event of an email says SendGrid took it. Of an outreach email its
		// collaboration recorded stopped, that is news: the send's answer was lost and a
		// reply or cancel stopped the retry before it learned the outcome (the row says
		// stopped), or the attempt was in SendGrid's call when the stop came (the row says
		// sent). The first event tells the collaboration, which counts it sent as the log
		// does, once; a bounce or drop is told after it. Later events are no news. Notices
		// and ops notices are not outreach emails and are never counted.
		unheard, err := s.store.LateSendUnheard(ctx, ev.MessageKey)
		if err != nil {
			return false, err
		}
		if unheard {
			late := news
			late.Kind = workflows.OutreachSentAfterStop
			if err := s.signalOutreach(ctx, ev.CollaborationID, late); err != nil {
				return false, err
			}
		}
	}
	if ev.Event == "bounce" && (ev.Type == "bounce" || ev.Type == "blocked") {
		news.Detail = ev.Type
	}
	switch ev.Event {
	case "bounce":
		news.Kind = workflows.OutreachBounce
		// A "blocked" bounce is temporary; any other is a hard bounce: never again.
		if ev.Type != "blocked" {
			if err := s.suppress(ctx, ev.Email, "hard bounce", ev.CollaborationID, news); err != nil {
				return false, err
			}
		}
	case "dropped":
		news.Kind = workflows.OutreachDropped
	case "spamreport":
		news.Kind = workflows.OutreachSpamReport
		if err := s.suppress(ctx, ev.Email, "spam report", ev.CollaborationID, news); err != nil {
			return false, err
		}
	case "unsubscribe", "group_unsubscribe":
		news.Kind = workflows.OutreachUnsubscribe
		if err := s.suppress(ctx, ev.Email, "unsubscribed", ev.CollaborationID, news); err != nil {
			return false, err
		}
	}
	if news.Kind != "" {
		if err := s.signalOutreach(ctx, ev.CollaborationID, news); err != nil {
			return false, err
		}
	}
	return s.recordEvent(ctx, ev)
}

// outreachKind is the email log's kind of a sequence email (store.Email.Kind).
const outreachKind = "outreach"

// isOpsEmail reports whether an event is about a notice to ops: the log's kind when the
// email is logged, else its key's ("<collaboration>/ops/<key>").
func isOpsEmail(key string, logged store.Email, isLogged bool) bool {
	if isLogged {
		return logged.Kind == "ops"
	}
	_, rest, _ := strings.Cut(key, "/")
	return strings.HasPrefix(rest, "ops/")
}

// recordEvent adds the event to its email's history, the last step of applying it.
func (s *Server) recordEvent(ctx context.Context, ev sendgridEvent) (bool, error) {
	detail := strings.TrimSpace(strings.Join(nonEmpty(ev.Type, ev.Reason, ev.Response), ": "))
	_, err := s.store.RecordEmailEvent(ctx, ev.MessageKey, store.EmailEvent{EventID: ev.EventID, Event: ev.Event, Detail: detail,
		OccurredAt: time.Unix(ev.Timestamp, 0).UTC(), ProviderMessageID: providerMessageID(ev.SGMessageID)})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // an email this database never logged
	}
	return err == nil, err
}

// suppress puts an address on the suppression list and stops every running outreach to
// it, not only the collaboration the event came from.
func (s *Server) suppress(ctx context.Context, address, reason, from string, news workflows.OutreachEvent) error {
	if address == "" {
		return nil
	}
	if _, err := s.store.Suppress(ctx, address, reason, "sendgrid:"+from); err != nil {
		return err
	}
	return s.stopOutreachTo(ctx, address, from, news)
}

// stopOutreachTo signals every collaboration still in outreach with the creator at
// address, except the one named by skip (the caller signals it itself). News of a notice
// (a contract email that bounced) goes without its key: a workflow lets only its outreach
// emails' news stop it, and this news is about the address, not about a notice of theirs.
func (s *Server) stopOutreachTo(ctx context.Context, address, skip string, news workflows.OutreachEvent) error {
	if news.MessageKey != "" && !workflows.IsOutreachKey(news.MessageKey) {
		news.Ref += " of " + news.MessageKey
		news.MessageKey = ""
	}
	creatorID, err := s.store.CreatorIDByEmail(ctx, address)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	f := store.CollaborationFilter{CreatorID: creatorID, Stage: string(workflows.StageOutreach), Limit: maxLimit}
	for {
		list, next, err := s.store.ListCollaborations(ctx, f)
		if err != nil {
			return err
		}
		for _, collab := range list {
			if collab.ID == skip {
				continue
			}
			if err := s.signalOutreach(ctx, collab.ID, news); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		f.After = next
	}
}

// signalOutreach delivers news to a collaboration; one that has ended no longer cares.
func (s *Server) signalOutreach(ctx context.Context, id string, news workflows.OutreachEvent) error {
	err := s.temporal.SignalWorkflow(ctx, id, "", workflows.SignalOutreachEvent, news)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("signal %s: %w", id, err)
	}
	return nil
}

// sendgridInbound takes a reply through SendGrid Inbound Parse. It is matched to its
// collaboration by the token in the Reply-To address it was sent to, else by the sender's
// address when DKIM or SPF passes for the sender's own domain. Basic auth is checked
// before the body is read; the form is streamed with a bounded memory budget. Every received email is kept once per
// Message-ID; a match moves the collaboration to negotiating. A repeated post of the same
// email records nothing and tells the collaboration nothing, and answers 200.
func (s *Server) sendgridInbound(c echo.Context) error {
	_, pass, ok := c.Request().BasicAuth()
	if !ok || s.inboundSecret == "" || subtle.ConstantTimeCompare([]byte(pass), []byte(s.inboundSecret)) != 1 {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="inbound"`)
		return &Error{Status: http.StatusUnauthorized, Msg: "inbound parse credentials required"}
	}
	form, err := readInboundForm(c.Response(), c.Request())
	if err != nil {
		return err
	}
	defer form.close()
	parsed, raw, err := parseInbound(form, c.Request().Header)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	from := senderAddress(parsed)
	to := append(append([]string{}, parsed.Envelope.To...), addressList(parsed.ParsedValues["to"])...)
	authenticated := senderAuthenticated(from, parsed.Envelope.From, parsed.ParsedValues["dkim"], parsed.ParsedValues["SPF"])

	collabID, err := s.matchReply(ctx, to, from, authenticated)
	if err != nil {
		return err
	}
	// Each field is read in the charset SendGrid declares for it; an HTML-only reply is
	// kept as text. The raw message, when there is one, fills what the fields lack.
	charsets := formCharsets(parsed)
	msg := store.InboundMessage{
		CollaborationID: collabID, FromEmail: from, ToEmail: strings.Join(to, ", "),
		Subject: formSubject(parsed, charsets), BodyText: formText(parsed, charsets), ReceivedAt: time.Now(),
		MessageID: clipField(header(parsed.Headers, "Message-ID")),
	}
	if raw != nil {
		if strings.TrimSpace(msg.BodyText) == "" {
			msg.BodyText = raw.Text
		}
		if msg.Subject == "" {
			msg.Subject = raw.Subject
		}
		if msg.MessageID == "" {
			msg.MessageID = raw.MessageID
		}
	}
	rec, err := s.store.RecordInbound(ctx, msg)
	if err != nil {
		return err
	}
	if rec.Duplicate && (rec.Signalled || collabID == "") {
		// A repeated post of a reply already handled: 200, or SendGrid posts it again.
		return c.JSON(http.StatusOK, map[string]any{"collaboration_id": collabID, "duplicate": true})
	}
	if collabID == "" {
		s.logger.Warn("inbound email matched no collaboration", "from", from, "to", msg.ToEmail)
		return c.JSON(http.StatusOK, map[string]string{"collaboration_id": ""})
	}
	// Told after the email is recorded and marked once told: a post whose signal failed
	// (500) is posted again by SendGrid and tells the collaboration then.
	err = s.signalOutreach(ctx, collabID, workflows.OutreachEvent{
		Kind: workflows.OutreachReply, At: msg.ReceivedAt.UTC(),
		Detail: "email received", Ref: fmt.Sprintf("inbound message %d", rec.ID),
	})
	if err != nil {
		return err
	}
	if err := s.store.MarkInboundSignalled(ctx, rec.ID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"collaboration_id": collabID})
}

// DefaultWebhookTolerance is how far an Event Webhook timestamp may be from now, either
// way, before the batch is refused as a replay.
const DefaultWebhookTolerance = 10 * time.Minute

func (s *Server) eventTolerance() time.Duration {
	if s.webhookTolerance > 0 {
		return s.webhookTolerance
	}
	return DefaultWebhookTolerance
}

// wellFormedSignature reports whether sig looks like SendGrid's signature: base64 of an
// ASN.1 ECDSA signature, a hundred-odd characters at most.
func wellFormedSignature(sig string) bool {
	if sig == "" || len(sig) > 256 {
		return false
	}
	_, err := base64.StdEncoding.DecodeString(sig)
	return err == nil
}

// header returns a header of a received email by name, ignoring case; Inbound Parse passes
// the headers as the sender's client wrote them.
func header(headers map[string]string, name string) string {
	for k, v := range headers {
		if strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// matchReply finds the collaboration a reply belongs to; "" when none.
func (s *Server) matchReply(ctx context.Context, to []string, from string, authenticated bool) (string, error) {
	for _, addr := range to {
		local, domain, ok := strings.Cut(strings.ToLower(addr), "@")
		token, hasToken := strings.CutPrefix(local, "reply+")
		if !ok || !hasToken || domain != strings.ToLower(s.replyDomain) {
			continue
		}
		id, err := s.store.CollaborationByReplyToken(ctx, token)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	}
	if from == "" || !authenticated {
		return "", nil
	}
	id, err := s.store.LatestEmailTo(ctx, from)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return id, err
}

func senderAddress(p *inbound.ParsedEmail) string {
	if list := addressList(p.ParsedValues["from"]); len(list) > 0 {
		return list[0]
	}
	return strings.TrimSpace(p.Envelope.From)
}

// addressList reads the addresses of a header value, ignoring display names.
func addressList(header string) []string {
	if strings.TrimSpace(header) == "" {
		return nil
	}
	// A display name may be RFC 2047 encoded in any charset (=?KOI8-R?B?…?=): net/mail
	// alone knows only UTF-8 and ISO-8859-1 and would fail the whole list.
	list, err := (&mail.AddressParser{WordDecoder: headerDecoder}).ParseList(header)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, a.Address)
	}
	return out
}

func nonEmpty(values ...string) []string {
	var out []string
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}
