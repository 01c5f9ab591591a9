-- Contracts as sent for signature: the exact document, its hash and, once signed, who
-- signed it from where. Transactional emails (contract links, briefs, review comments)
-- share the email log with outreach, told apart by kind.
CREATE TABLE contracts (
    id                uuid PRIMARY KEY,
    collaboration_id  text        NOT NULL,
    version           integer     NOT NULL,
    terms             jsonb       NOT NULL,
    html              text        NOT NULL,
    sha256            text        NOT NULL,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    signed_name       text,
    signed_at         timestamptz,
    signed_ip         text,
    signed_user_agent text,
    UNIQUE (collaboration_id, version)
);

ALTER TABLE emails ADD COLUMN kind text NOT NULL DEFAULT 'outreach';
ALTER TABLE campaigns ADD COLUMN auto_approve boolean NOT NULL DEFAULT false;

---- create above / drop below ----

ALTER TABLE campaigns DROP COLUMN auto_approve;
ALTER TABLE emails DROP COLUMN kind;
DROP TABLE contracts;
