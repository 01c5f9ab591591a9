-- Attribution codes, performance metrics and the payout ledger.
CREATE TABLE attributions (
    code             text PRIMARY KEY, -- upper-cased; unique across campaigns
    collaboration_id text NOT NULL UNIQUE,
    tracking_url     text NOT NULL,
    created_at       timestamptz NOT NULL
);

-- Cumulative snapshots; each newer than the last (checked under an advisory lock).
CREATE TABLE metrics (
    id               bigserial PRIMARY KEY,
    collaboration_id text        NOT NULL,
    at               timestamptz NOT NULL,
    impressions      bigint      NOT NULL,
    reach            bigint      NOT NULL,
    likes            bigint      NOT NULL,
    comments         bigint      NOT NULL,
    saves            bigint      NOT NULL,
    shares           bigint      NOT NULL,
    clicks           bigint      NOT NULL,
    conversions      bigint      NOT NULL,
    revenue          bigint      NOT NULL,
    currency         text        NOT NULL,
    created_at       timestamptz NOT NULL,
    UNIQUE (collaboration_id, at)
);

-- One row per payment owed; idempotency_key (collaboration and what is paid) makes a
-- retried or replayed activity find the row it wrote instead of writing a second.
CREATE TABLE payouts (
    id               uuid PRIMARY KEY,
    collaboration_id text        NOT NULL,
    kind             text        NOT NULL,
    idempotency_key  text        NOT NULL UNIQUE,
    currency         text        NOT NULL,
    amount           bigint      NOT NULL CHECK (amount >= 0),
    breakdown        jsonb       NOT NULL,
    provider         text        NOT NULL,
    status           text        NOT NULL,
    reference        text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    confirmed_at     timestamptz,
    confirmed_by     text        NOT NULL DEFAULT ''
);
CREATE INDEX payouts_status_idx ON payouts (status, id);

---- create above / drop below ----

DROP TABLE payouts;
DROP TABLE metrics;
DROP TABLE attributions;
