-- A campaign's budget ({currency, amount} in minor units; NULL when it has none), the
-- experiment log, and the index the report reads a campaign's payouts by.
ALTER TABLE campaigns ADD COLUMN budget jsonb;

-- What a campaign tried: a hypothesis, the variable it changes, the variants (for an
-- outreach A/B test, each with its email sequence, which launch assigns), and what came
-- of it. status is open until a decision is recorded.
CREATE TABLE experiments (
    id          uuid PRIMARY KEY,
    campaign_id uuid        NOT NULL REFERENCES campaigns (id),
    kind        text        NOT NULL,
    hypothesis  text        NOT NULL,
    variable    text        NOT NULL,
    variants    jsonb       NOT NULL,
    result      text        NOT NULL DEFAULT '',
    decision    text        NOT NULL DEFAULT '',
    status      text        NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX experiments_campaign_idx ON experiments (campaign_id, id);
-- Launch assigns the variants of the one open outreach test: a second would be ambiguous.
CREATE UNIQUE INDEX experiments_open_outreach_ab_idx ON experiments (campaign_id)
    WHERE kind = 'outreach_ab' AND status = 'open';

CREATE INDEX payouts_collaboration_idx ON payouts (collaboration_id);

---- create above / drop below ----

DROP INDEX payouts_collaboration_idx;
DROP TABLE experiments;
ALTER TABLE campaigns DROP COLUMN budget;
