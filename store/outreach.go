package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Email is one outreach email in the log: exactly what was sent, and what became of it.
type Email struct {
	MessageKey      string `json:"message_key"`
	CollaborationID string `json:"collaboration_id"`
	// Kind is "outreach" for the sequence, else the transactional email's purpose.
	Kind              string       `json:"kind"`
	Step              int          `json:"step"`
	ToEmail           string       `json:"to"`
	FromEmail         string       `json:"from"`
	ReplyTo           string       `json:"reply_to"`
	Subject           string       `json:"subject"`
	BodyText          string       `json:"body_text"`
	ProviderMessageID string       `json:"provider_message_id"`
	Status            string       `json:"status"`
	CreatedAt         time.Time    `json:"created_at"`
	SentAt            *time.Time   `json:"sent_at"`
	Events            []EmailEvent `json:"events"`
	// SendAttemptedAt is when an attempt handed the email to the provider and did not
	// learn whether it was accepted; nil when no such attempt is outstanding.
	SendAttemptedAt *time.Time `json:"-"`
}

// Email statuses this package sets; provider events set their own names (delivered, open…).
const (
	EmailSending = "sending"
	EmailSent    = "sent"
	EmailFailed  = "failed"
	// EmailStopped is an email its collaboration no longer wanted when its turn came (a
	// reply, a stop event or a cancel came first): it was never handed to the provider.
	EmailStopped = "stopped"
)

// EmailEvent is one status change reported by the provider.
type EmailEvent struct {
	EventID    string    `json:"event_id"`
	Event      string    `json:"event"`
	Detail     string    `json:"detail,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	// ProviderMessageID, when set, is SendGrid's id of the email, which the log takes
	// when it has none (the send's answer was lost). Not stored with the event.
	ProviderMessageID string `json:"-"`
}

const emailColumns = `message_key, collaboration_id, step, to_email, from_email, reply_to, subject, body_text,
	provider_message_id, status, created_at, sent_at, kind`

// emailSelect is what scanEmail reads.
const emailSelect = emailColumns + `, send_attempted_at`

// WentOut reports whether SendGrid took the email, as far as the log knows: marked sent,
// or a status from one of SendGrid's events (anything but sending, failed or stopped).
func (e Email) WentOut() bool {
	return e.SentAt != nil || (e.Status != EmailSending && e.Status != EmailFailed && e.Status != EmailStopped)
}

// BeginEmail logs an email about to be sent, unless its message key is already logged; it
// returns the logged row either way. The caller sends only when the row is not yet sent.
func (s *Store) BeginEmail(ctx context.Context, e Email) (Email, error) {
	e.Status = EmailSending
	e.CreatedAt = now()
	if e.Kind == "" {
		e.Kind = "outreach"
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO emails (`+emailColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9, $10, NULL, $11) ON CONFLICT (message_key) DO NOTHING`,
		e.MessageKey, e.CollaborationID, e.Step, e.ToEmail, e.FromEmail, e.ReplyTo, e.Subject, e.BodyText, e.Status, e.CreatedAt, e.Kind)
	if err != nil {
		return Email{}, fmt.Errorf("log email %s: %w", e.MessageKey, err)
	}
	return s.EmailByKey(ctx, e.MessageKey)
}

// EmailByKey returns one logged email without its events.
func (s *Store) EmailByKey(ctx context.Context, key string) (Email, error) {
	e, err := scanEmail(s.pool.QueryRow(ctx, `SELECT `+emailSelect+` FROM emails WHERE message_key = $1`, key))
	if err != nil {
		return Email{}, fmt.Errorf("email %s: %w", key, pgError(err, nil))
	}
	return e, nil
}

// MarkSendAttempt records that an attempt is about to hand the email to the provider: until
// the outcome is logged, a retry cannot know whether the provider accepted it.
func (s *Store) MarkSendAttempt(ctx context.Context, key string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE emails SET send_attempted_at = $2 WHERE message_key = $1 AND status = 'sending'`, key, at.UTC())
	if err != nil {
		return fmt.Errorf("mark email %s attempted: %w", key, err)
	}
	return nil
}

// ClearSendAttempt records that the last attempt surely did not reach the provider (it
// refused the connection, or answered that it took nothing), so a retry may send at once.
func (s *Store) ClearSendAttempt(ctx context.Context, key string) error {
	_, err := s.pool.Exec(ctx, `UPDATE emails SET send_attempted_at = NULL WHERE message_key = $1 AND status = 'sending'`, key)
	if err != nil {
		return fmt.Errorf("clear send attempt of email %s: %w", key, err)
	}
	return nil
}

// FirstProviderEvent returns when the provider first reported on an email (processed,
// delivered, deferred, bounce…), which proves it accepted the email; ErrNotFound when it
// has not reported yet. The failed and stopped entries this package writes do not count.
func (s *Store) FirstProviderEvent(ctx context.Context, key string) (time.Time, error) {
	var at *time.Time
	err := s.pool.QueryRow(ctx, `SELECT min(occurred_at) FROM email_events
		WHERE message_key = $1 AND event NOT IN ('failed', 'stopped')`, key).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("provider events of email %s: %w", key, err)
	}
	if at == nil {
		return time.Time{}, fmt.Errorf("provider events of email %s: %w", key, ErrNotFound)
	}
	return *at, nil
}

// MarkEmailSent records the provider's acceptance. A provider event that came first keeps
// its status; an empty providerID keeps one already known. A row marked stopped meanwhile
// (the workflow abandoned the send while this attempt was already at the provider) says
// sent, as the log tells what happened, and keeps its stopped entry in its history;
// overrodeStop reports that case, in which the collaboration recorded the email not sent
// and must be told (LateSendUnheard is the webhook's side of it).
func (s *Store) MarkEmailSent(ctx context.Context, key, providerID string, at time.Time) (overrodeStop bool, err error) {
	// One statement, as it sits in the window between SendGrid's answer and the log (the
	// DuplicateWindow benchmark): the subquery locks the row and yields its status before
	// the update, also when a concurrent StopEmail committed just before.
	err = s.pool.QueryRow(ctx, `UPDATE emails e SET provider_message_id = CASE WHEN $2 = '' THEN e.provider_message_id ELSE $2 END,
		sent_at = $3, send_attempted_at = NULL,
		status = CASE WHEN e.status IN ('sending', 'failed', 'stopped') THEN 'sent' ELSE e.status END
		FROM (SELECT message_key, status FROM emails WHERE message_key = $1 FOR UPDATE) old
		WHERE e.message_key = old.message_key RETURNING old.status = 'stopped'`, key, providerID, at.UTC()).Scan(&overrodeStop)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mark email %s sent: %w", key, err)
	}
	return overrodeStop, nil
}

// LateSendUnheard reports whether an email its collaboration stopped (its history has the
// stopped entry) has no provider event yet. A provider event saying it went out is then
// the first news of it, which the collaboration must hear (sent_after_stop); a later event
// of the same email is not news. This holds whether the row still says stopped (the send's
// answer was lost) or sent (the attempt was at SendGrid when the stop came: MarkEmailSent).
func (s *Store) LateSendUnheard(ctx context.Context, key string) (bool, error) {
	var unheard bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM email_events WHERE message_key = $1 AND event = 'stopped')
		AND NOT EXISTS (SELECT 1 FROM email_events WHERE message_key = $1 AND event NOT IN ('failed', 'stopped'))`, key).Scan(&unheard)
	if err != nil {
		return false, fmt.Errorf("stopped email %s: %w", key, err)
	}
	return unheard, nil
}

// MarkEmailFailed records that the provider refused the email for good.
func (s *Store) MarkEmailFailed(ctx context.Context, key, reason string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE emails SET status = 'failed' WHERE message_key = $1 AND sent_at IS NULL`, key); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO email_events (event_id, message_key, event, detail, occurred_at, received_at)
			VALUES ($1, $2, 'failed', $3, $4, $4) ON CONFLICT DO NOTHING`, "failed:"+key, key, reason, now())
		return err
	})
	if err != nil {
		return fmt.Errorf("mark email %s failed: %w", key, err)
	}
	return nil
}

// MarkEmailStopped records that the email was not sent because its collaboration stopped
// it, with the reason as an event in its history. Only an email not yet sent is marked.
func (s *Store) MarkEmailStopped(ctx context.Context, key, reason string) error {
	_, err := s.StopEmail(ctx, key, reason)
	return err
}

// StopEmail is MarkEmailStopped that also reports whether this call marked the email
// (false: it was already sent, failed or stopped, or never logged), so that a stop is
// counted once however often its activity runs.
func (s *Store) StopEmail(ctx context.Context, key, reason string) (bool, error) {
	var stopped bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE emails SET status = 'stopped' WHERE message_key = $1 AND status = 'sending'`, key)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		stopped = true
		_, err = tx.Exec(ctx, `INSERT INTO email_events (event_id, message_key, event, detail, occurred_at, received_at)
			VALUES ($1, $2, 'stopped', $3, $4, $4) ON CONFLICT DO NOTHING`, "stopped:"+key, key, reason, now())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("mark email %s stopped: %w", key, err)
	}
	return stopped, nil
}

// RecordEmailEvent adds a provider event to an email's history and makes it the email's
// status when it is the newest. It reports false for an event already recorded (webhook
// deliveries repeat) and ErrNotFound for an email not in the log.
func (s *Store) RecordEmailEvent(ctx context.Context, key string, ev EmailEvent) (bool, error) {
	var inserted bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO email_events (event_id, message_key, event, detail, occurred_at, received_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING`,
			ev.EventID, key, ev.Event, ev.Detail, ev.OccurredAt.UTC(), now())
		if err != nil {
			return err
		}
		if inserted = tag.RowsAffected() == 1; !inserted {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE emails SET status = $2 WHERE message_key = $1 AND NOT EXISTS (
			SELECT 1 FROM email_events WHERE message_key = $1 AND occurred_at > $3 AND event NOT IN ('failed', 'stopped'))`,
			key, ev.Event, ev.OccurredAt.UTC())
		if err != nil || ev.ProviderMessageID == "" {
			return err
		}
		// A send whose answer was lost never logged SendGrid's id; its events carry it.
		_, err = tx.Exec(ctx, `UPDATE emails SET provider_message_id = $2 WHERE message_key = $1 AND provider_message_id = ''`,
			key, ev.ProviderMessageID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record %s event for %s: %w", ev.Event, key, pgError(err, nil))
	}
	return inserted, nil
}

// Emails returns a collaboration's emails in step order, each with its event history.
func (s *Store) Emails(ctx context.Context, collaborationID string) ([]Email, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+emailSelect+` FROM emails WHERE collaboration_id = $1 ORDER BY created_at, step`, collaborationID)
	if err != nil {
		return nil, fmt.Errorf("emails of %s: %w", collaborationID, err)
	}
	emails, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Email, error) { return scanEmail(r) })
	if err != nil {
		return nil, fmt.Errorf("emails of %s: %w", collaborationID, err)
	}
	events, err := s.pool.Query(ctx, `SELECT e.message_key, e.event_id, e.event, e.detail, e.occurred_at
		FROM email_events e JOIN emails m USING (message_key)
		WHERE m.collaboration_id = $1 ORDER BY e.occurred_at, e.received_at`, collaborationID)
	if err != nil {
		return nil, fmt.Errorf("email events of %s: %w", collaborationID, err)
	}
	byKey := map[string][]EmailEvent{}
	var (
		key string
		ev  EmailEvent
	)
	_, err = pgx.ForEachRow(events, []any{&key, &ev.EventID, &ev.Event, &ev.Detail, &ev.OccurredAt}, func() error {
		byKey[key] = append(byKey[key], ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("email events of %s: %w", collaborationID, err)
	}
	for i := range emails {
		emails[i].Events = byKey[emails[i].MessageKey]
		if emails[i].Events == nil {
			emails[i].Events = []EmailEvent{}
		}
	}
	return emails, nil
}

// LatestEmailTo returns the collaboration that last emailed an address, to match a reply
// that lost its Reply-To token.
func (s *Store) LatestEmailTo(ctx context.Context, address string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT collaboration_id FROM emails WHERE lower(to_email) = lower($1)
		ORDER BY created_at DESC LIMIT 1`, address).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("latest email to address: %w", pgError(err, nil))
	}
	return id, nil
}

func scanEmail(row pgx.Row) (Email, error) {
	var e Email
	err := row.Scan(&e.MessageKey, &e.CollaborationID, &e.Step, &e.ToEmail, &e.FromEmail, &e.ReplyTo, &e.Subject, &e.BodyText,
		&e.ProviderMessageID, &e.Status, &e.CreatedAt, &e.SentAt, &e.Kind, &e.SendAttemptedAt)
	return e, err
}

// Suppression is an address that is never emailed again.
type Suppression struct {
	Email     string    `json:"email"`
	Reason    string    `json:"reason"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
}

// Suppress adds an address to the suppression list; the first reason stays. It reports
// whether the address was new to the list.
func (s *Store) Suppress(ctx context.Context, address, reason, source string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO suppressions (email, reason, source, created_at) VALUES (lower($1), $2, $3, $4)
		ON CONFLICT (email) DO NOTHING`, strings.TrimSpace(address), reason, source, now())
	if err != nil {
		return false, fmt.Errorf("suppress address: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Suppressed returns the suppression of an address, or ErrNotFound.
func (s *Store) Suppressed(ctx context.Context, address string) (Suppression, error) {
	var sup Suppression
	// An erased creator's address is listed by its hash (AddressHash).
	err := s.pool.QueryRow(ctx, `SELECT email, reason, source, created_at FROM suppressions WHERE email = lower($1) OR email = $2
		ORDER BY created_at LIMIT 1`,
		strings.TrimSpace(address), AddressHash(address)).Scan(&sup.Email, &sup.Reason, &sup.Source, &sup.CreatedAt)
	if err != nil {
		return Suppression{}, fmt.Errorf("suppression lookup: %w", pgError(err, nil))
	}
	return sup, nil
}

// ReplyToken returns the collaboration's Reply-To token, creating it on first use. Tokens
// are random, so a reply address reveals nothing and cannot be guessed.
func (s *Store) ReplyToken(ctx context.Context, collaborationID string) (string, error) {
	raw := make([]byte, 10)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("reply token: %w", err)
	}
	candidate := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	var token string
	err := s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO reply_tokens (token, collaboration_id) VALUES ($1, $2)
			ON CONFLICT (collaboration_id) DO NOTHING RETURNING token)
		SELECT token FROM ins UNION ALL SELECT token FROM reply_tokens WHERE collaboration_id = $2 LIMIT 1`,
		candidate, collaborationID).Scan(&token)
	if err != nil {
		return "", fmt.Errorf("reply token of %s: %w", collaborationID, err)
	}
	return token, nil
}

// CollaborationByReplyToken finds the collaboration a reply address belongs to.
func (s *Store) CollaborationByReplyToken(ctx context.Context, token string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT collaboration_id FROM reply_tokens WHERE token = lower($1)`, token).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("reply token: %w", pgError(err, nil))
	}
	return id, nil
}

// InboundMessage is a received reply, kept for the audit record.
type InboundMessage struct {
	CollaborationID string    `json:"collaboration_id"`
	FromEmail       string    `json:"from"`
	ToEmail         string    `json:"to"`
	Subject         string    `json:"subject"`
	BodyText        string    `json:"body_text"`
	ReceivedAt      time.Time `json:"received_at"`
	// MessageID is the reply's Message-ID header, which identifies a repeated post of the
	// same email; empty when the email had none.
	MessageID string `json:"message_id,omitempty"`
}

// InboundRecord is what RecordInbound did with a received email.
type InboundRecord struct {
	ID int64
	// Duplicate means an earlier post of the same Message-ID was recorded: nothing new was.
	Duplicate bool
	// Signalled means the collaboration was told of the email (MarkInboundSignalled).
	Signalled bool
}

// maxMessageIDLength bounds the stored Message-ID; longer ones are stored as their hash.
const maxMessageIDLength = 256

// RecordInbound stores a received email, once per Message-ID: a repeated post (SendGrid
// retries Inbound Parse for three days) returns the first record as a Duplicate, with
// whether its collaboration was told. CollaborationID is empty when it matched none.
func (s *Store) RecordInbound(ctx context.Context, m InboundMessage) (InboundRecord, error) {
	var collab *string
	if m.CollaborationID != "" {
		collab = &m.CollaborationID
	}
	messageID := strings.TrimSpace(m.MessageID)
	if len(messageID) > maxMessageIDLength {
		sum := sha256.Sum256([]byte(messageID))
		messageID = "sha256:" + hex.EncodeToString(sum[:])
	}
	var rec InboundRecord
	err := s.pool.QueryRow(ctx, `INSERT INTO inbound_messages (collaboration_id, from_email, to_email, subject, body_text, received_at, message_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (message_id) WHERE message_id <> '' DO NOTHING RETURNING id`,
		collab, m.FromEmail, m.ToEmail, m.Subject, m.BodyText, m.ReceivedAt.UTC(), messageID).Scan(&rec.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		rec.Duplicate = true
		err = s.pool.QueryRow(ctx, `SELECT id, signalled_at IS NOT NULL FROM inbound_messages WHERE message_id = $1`, messageID).
			Scan(&rec.ID, &rec.Signalled)
	}
	if err != nil {
		return InboundRecord{}, fmt.Errorf("record inbound email: %w", err)
	}
	return rec, nil
}

// MarkInboundSignalled records that the received email's collaboration was told of it, so
// that a repeated post does not tell it again.
func (s *Store) MarkInboundSignalled(ctx context.Context, id int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE inbound_messages SET signalled_at = $2 WHERE id = $1 AND signalled_at IS NULL`, id, now()); err != nil {
		return fmt.Errorf("mark inbound email %d signalled: %w", id, err)
	}
	return nil
}

// InboundMessages returns the emails received for a collaboration, oldest first.
func (s *Store) InboundMessages(ctx context.Context, collaborationID string) ([]InboundMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT collaboration_id, from_email, to_email, subject, body_text, received_at, message_id
		FROM inbound_messages WHERE collaboration_id = $1 ORDER BY received_at, id`, collaborationID)
	if err != nil {
		return nil, fmt.Errorf("inbound emails of %s: %w", collaborationID, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InboundMessage, error) {
		var m InboundMessage
		err := r.Scan(&m.CollaborationID, &m.FromEmail, &m.ToEmail, &m.Subject, &m.BodyText, &m.ReceivedAt, &m.MessageID)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("inbound emails of %s: %w", collaborationID, err)
	}
	return list, nil
}

// CreatorIDByEmail finds a creator by address, ignoring case.
func (s *Store) CreatorIDByEmail(ctx context.Context, address string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id FROM creators WHERE lower(email) = lower($1)`, strings.TrimSpace(address)).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("creator by email: %w", pgError(err, nil))
	}
	return id, nil
}

// EmailEventRecorded reports whether a provider event is already in the log.
func (s *Store) EmailEventRecorded(ctx context.Context, eventID string) (bool, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM email_events WHERE event_id = $1)`, eventID).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up email event: %w", err)
	}
	return exists, nil
}
