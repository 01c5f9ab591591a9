-- send_attempted_at: when an attempt last handed the email to the provider without learning
-- whether it was accepted (NULL when none is outstanding). A retry that finds it set looks
-- for a provider event and waits out webhook latency before it sends again.
ALTER TABLE emails ADD COLUMN send_attempted_at timestamptz;

-- Inbound Parse posts repeat (SendGrid retries for three days); the reply's Message-ID
-- header records each reply once. signalled_at is when its workflow was told, so a repeat
-- of a post whose signal failed tells it again.
ALTER TABLE inbound_messages ADD COLUMN message_id text NOT NULL DEFAULT '';
ALTER TABLE inbound_messages ADD COLUMN signalled_at timestamptz;
UPDATE inbound_messages SET signalled_at = received_at WHERE collaboration_id IS NOT NULL;
CREATE UNIQUE INDEX inbound_messages_message_id_idx ON inbound_messages (message_id) WHERE message_id <> '';

---- create above / drop below ----

DROP INDEX inbound_messages_message_id_idx;
ALTER TABLE inbound_messages DROP COLUMN signalled_at;
ALTER TABLE inbound_messages DROP COLUMN message_id;
ALTER TABLE emails DROP COLUMN send_attempted_at;
