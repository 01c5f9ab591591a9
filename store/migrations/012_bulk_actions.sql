-- A bulk action: one ops request to pause, resume or cancel many collaborations of a
-- campaign, applied by a durable workflow, with a result per collaboration.
CREATE TABLE bulk_actions (
    id           uuid PRIMARY KEY,
    campaign_id  uuid        NOT NULL REFERENCES campaigns (id),
    action       text        NOT NULL,
    reason       text        NOT NULL DEFAULT '',
    requested_by text        NOT NULL,
    total        integer     NOT NULL,
    created_at   timestamptz NOT NULL,
    finished_at  timestamptz
);
CREATE INDEX bulk_actions_campaign_idx ON bulk_actions (campaign_id, created_at);

-- pending until its turn, then applied, refused (the collaboration's answer) or failed.
CREATE TABLE bulk_items (
    bulk_id          uuid        NOT NULL REFERENCES bulk_actions (id),
    seq              integer     NOT NULL,
    collaboration_id text        NOT NULL,
    status           text        NOT NULL,
    result           text        NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (bulk_id, seq)
);

---- create above / drop below ----

DROP TABLE bulk_items;
DROP TABLE bulk_actions;
