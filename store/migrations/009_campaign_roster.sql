-- A campaign's roster: the creators ops approved after qualification, each at the tier
-- the campaign works with them at. Launch starts one collaboration per row.
CREATE TABLE campaign_roster (
    campaign_id uuid        NOT NULL REFERENCES campaigns (id),
    creator_id  uuid        NOT NULL REFERENCES creators (id),
    tier        text        NOT NULL,
    -- The fit score and its reasons when ops approved the creator, for the record.
    score       integer     NOT NULL DEFAULT 0,
    reasons     jsonb       NOT NULL DEFAULT '[]',
    approved_by text        NOT NULL,
    approved_at timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, creator_id)
);
CREATE INDEX campaign_roster_creator_idx ON campaign_roster (creator_id);

-- A launch: one request to start a campaign's roster, run by a durable workflow.
CREATE TABLE launches (
    id           uuid PRIMARY KEY,
    campaign_id  uuid        NOT NULL REFERENCES campaigns (id),
    requested_by text        NOT NULL,
    total        integer     NOT NULL,
    created_at   timestamptz NOT NULL,
    finished_at  timestamptz
);
CREATE INDEX launches_campaign_idx ON launches (campaign_id, created_at);

-- What the launch did for each creator: pending until its turn, then started, skipped
-- (with the reason) or failed (with the error).
CREATE TABLE launch_items (
    launch_id        uuid        NOT NULL REFERENCES launches (id),
    seq              integer     NOT NULL,
    creator_id       uuid        NOT NULL,
    status           text        NOT NULL,
    reason           text        NOT NULL DEFAULT '',
    collaboration_id text        NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (launch_id, seq),
    UNIQUE (launch_id, creator_id)
);

---- create above / drop below ----

DROP TABLE launch_items;
DROP TABLE launches;
DROP TABLE campaign_roster;
