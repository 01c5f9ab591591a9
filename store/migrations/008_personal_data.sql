-- Personal data lives here, never in Temporal's history: what a person typed is stored
-- before the workflow hears of it, and the workflow keeps only the row's id. Erasing a
-- creator then clears these rows while every history still replays.

-- A signature as the creator gave it through the contract portal, written before the
-- workflow is asked to accept it; contracts.signature_id points here once it has.
CREATE TABLE signatures (
    id               uuid PRIMARY KEY,
    contract_id      uuid        NOT NULL REFERENCES contracts (id),
    collaboration_id text        NOT NULL,
    name             text        NOT NULL,
    ip               text        NOT NULL,
    user_agent       text        NOT NULL,
    request_id       text        NOT NULL,
    link_hash        text        NOT NULL DEFAULT '',
    signed_at        timestamptz NOT NULL
);
CREATE INDEX signatures_collaboration_idx ON signatures (collaboration_id);
ALTER TABLE contracts ADD COLUMN signature_id uuid REFERENCES signatures (id);

-- Free text a person typed about a collaboration that may name or quote the creator: a
-- reply ops recorded by hand. The workflow's event carries the note's id.
CREATE TABLE notes (
    id               uuid PRIMARY KEY,
    collaboration_id text        NOT NULL,
    kind             text        NOT NULL,
    body             text        NOT NULL,
    author           text        NOT NULL,
    created_at       timestamptz NOT NULL
);
CREATE INDEX notes_collaboration_idx ON notes (collaboration_id);

-- Erasure keeps the creator's row (collaborations, ledgers and reports refer to it) with
-- every personal field cleared; email then holds 'erased:' and the address's SHA-256.
ALTER TABLE creators ADD COLUMN erased_at timestamptz;

---- create above / drop below ----

ALTER TABLE creators DROP COLUMN erased_at;
DROP TABLE notes;
ALTER TABLE contracts DROP COLUMN signature_id;
DROP TABLE signatures;
