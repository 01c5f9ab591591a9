-- Answers to changes a client sent with an Idempotency-Key, so that a repeat gets the first
-- answer even after the workflow continued as new (Temporal deduplicates update IDs only
-- within one run) or the API restarted. key is the scoped key: the hex SHA-256 of the
-- caller, the method and path, and the client's key, so no caller can claim another's.
CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY,
    route        text        NOT NULL,
    body_sha256  text        NOT NULL,
    -- final is false while the change was accepted but not yet finished (the 202 answer):
    -- a repeat then asks Temporal again; once final, a repeat gets status and body verbatim.
    final        boolean     NOT NULL,
    status       integer     NOT NULL,
    content_type text        NOT NULL,
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
-- Rows are kept for seven days; each write prunes a few expired ones through this index.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

---- create above / drop below ----

DROP TABLE idempotency_keys;
