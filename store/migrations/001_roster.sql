CREATE TABLE creators (
    id                 uuid PRIMARY KEY,
    name               text        NOT NULL,
    email              text        NOT NULL,
    timezone           text        NOT NULL,
    handles            jsonb       NOT NULL DEFAULT '{}',
    followers          bigint      NOT NULL CHECK (followers >= 0),
    avg_engagement     bigint      NOT NULL CHECK (avg_engagement >= 0),
    audience_countries jsonb       NOT NULL DEFAULT '{}',
    niches             text[]      NOT NULL DEFAULT '{}',
    tier               text        NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
-- One roster entry per address: outreach and suppression are keyed by it.
CREATE UNIQUE INDEX creators_email_key ON creators (lower(email));
CREATE INDEX creators_tier_idx ON creators (tier, id);
CREATE INDEX creators_niches_idx ON creators USING gin (niches);

CREATE TABLE campaigns (
    id                uuid PRIMARY KEY,
    name              text        NOT NULL,
    brand             text        NOT NULL,
    sender_email      text        NOT NULL,
    landing_url       text        NOT NULL DEFAULT '',
    brief             jsonb       NOT NULL,
    compensation      jsonb       NOT NULL,
    usage_rights_days integer     NOT NULL,
    disclosure_text   text        NOT NULL,
    timings           jsonb       NOT NULL,
    created_at        timestamptz NOT NULL
);

-- A read model of the collaboration workflows: Temporal holds the truth, this table lets
-- ops list and filter hundreds of them. stage_seq orders updates so a late, retried
-- activity never moves a row backwards.
CREATE TABLE collaborations (
    id          text        PRIMARY KEY,
    campaign_id uuid        NOT NULL REFERENCES campaigns (id),
    creator_id  uuid        NOT NULL REFERENCES creators (id),
    stage       text        NOT NULL,
    stage_seq   integer     NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (campaign_id, creator_id)
);
CREATE INDEX collaborations_creator_idx ON collaborations (creator_id);
CREATE INDEX collaborations_stage_idx ON collaborations (stage, id);

---- create above / drop below ----

DROP TABLE collaborations;
DROP TABLE campaigns;
DROP TABLE creators;
