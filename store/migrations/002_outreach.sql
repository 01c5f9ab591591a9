-- Outreach: per-campaign sequences and send windows, the email log with each message's
-- status history, the global suppression list, reply-address tokens and received replies.
ALTER TABLE creators ADD COLUMN recent_post text NOT NULL DEFAULT '';
-- JSON null on older rows: reading applies the defaults.
ALTER TABLE campaigns ADD COLUMN sequence jsonb NOT NULL DEFAULT 'null';
ALTER TABLE campaigns ADD COLUMN send_window jsonb NOT NULL DEFAULT 'null';

-- One row per outreach email; message_key (collaboration, step) is the idempotency key
-- that keeps a retried send activity from sending a step twice.
CREATE TABLE emails (
    message_key         text PRIMARY KEY,
    collaboration_id    text        NOT NULL,
    step                integer     NOT NULL,
    to_email            text        NOT NULL,
    from_email          text        NOT NULL,
    reply_to            text        NOT NULL,
    subject             text        NOT NULL,
    body_text           text        NOT NULL,
    provider_message_id text        NOT NULL DEFAULT '',
    status              text        NOT NULL,
    created_at          timestamptz NOT NULL,
    sent_at             timestamptz
);
CREATE INDEX emails_collaboration_idx ON emails (collaboration_id, step);
CREATE INDEX emails_to_idx ON emails (lower(to_email), created_at DESC);

-- Status history from the provider; sg_event_id deduplicates webhook retries.
CREATE TABLE email_events (
    event_id    text PRIMARY KEY,
    message_key text        NOT NULL REFERENCES emails (message_key),
    event       text        NOT NULL,
    detail      text        NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX email_events_message_idx ON email_events (message_key, occurred_at);

-- Addresses never to email again, whatever the campaign.
CREATE TABLE suppressions (
    email      text PRIMARY KEY, -- lower-cased
    reason     text        NOT NULL,
    source     text        NOT NULL,
    created_at timestamptz NOT NULL
);

-- The token in a collaboration's Reply-To address (reply+<token>@domain).
CREATE TABLE reply_tokens (
    token            text PRIMARY KEY,
    collaboration_id text NOT NULL UNIQUE
);

CREATE TABLE inbound_messages (
    id               bigserial PRIMARY KEY,
    collaboration_id text,
    from_email       text        NOT NULL,
    to_email         text        NOT NULL,
    subject          text        NOT NULL,
    body_text        text        NOT NULL,
    received_at      timestamptz NOT NULL
);
CREATE INDEX inbound_messages_collaboration_idx ON inbound_messages (collaboration_id);

---- create above / drop below ----

DROP TABLE inbound_messages;
DROP TABLE reply_tokens;
DROP TABLE suppressions;
DROP TABLE email_events;
DROP TABLE emails;
ALTER TABLE campaigns DROP COLUMN send_window;
ALTER TABLE campaigns DROP COLUMN sequence;
ALTER TABLE creators DROP COLUMN recent_post;
