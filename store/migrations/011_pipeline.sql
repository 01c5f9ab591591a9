-- The read model grows what steering a campaign needs in one query: the tier the campaign
-- works with the creator at, the outreach variant, the deadline of the current step, a
-- payout hold, and the agreed fee. stage_since is when the current stage began.
ALTER TABLE collaborations ADD COLUMN tier        text        NOT NULL DEFAULT '';
ALTER TABLE collaborations ADD COLUMN variant     text        NOT NULL DEFAULT '';
ALTER TABLE collaborations ADD COLUMN due_at      timestamptz;
ALTER TABLE collaborations ADD COLUMN on_hold     boolean     NOT NULL DEFAULT false;
ALTER TABLE collaborations ADD COLUMN fee         bigint      NOT NULL DEFAULT 0;
ALTER TABLE collaborations ADD COLUMN currency    text        NOT NULL DEFAULT '';
ALTER TABLE collaborations ADD COLUMN stage_since timestamptz;
UPDATE collaborations SET stage_since = updated_at;
UPDATE collaborations c SET tier = r.tier FROM campaign_roster r WHERE r.campaign_id = c.campaign_id AND r.creator_id = c.creator_id;
UPDATE collaborations c SET tier = k.tier FROM creators k WHERE c.tier = '' AND k.id = c.creator_id;
CREATE INDEX collaborations_campaign_stage_idx ON collaborations (campaign_id, stage, id);

-- Every stage a collaboration entered, in order: reply rates and time per stage.
CREATE TABLE stage_history (
    collaboration_id text        NOT NULL,
    seq              integer     NOT NULL,
    stage            text        NOT NULL,
    entered_at       timestamptz NOT NULL,
    PRIMARY KEY (collaboration_id, seq)
);
INSERT INTO stage_history (collaboration_id, seq, stage, entered_at)
    SELECT id, stage_seq, stage, updated_at FROM collaborations;

---- create above / drop below ----

DROP TABLE stage_history;
DROP INDEX collaborations_campaign_stage_idx;
ALTER TABLE collaborations DROP COLUMN stage_since;
ALTER TABLE collaborations DROP COLUMN currency;
ALTER TABLE collaborations DROP COLUMN fee;
ALTER TABLE collaborations DROP COLUMN on_hold;
ALTER TABLE collaborations DROP COLUMN due_at;
ALTER TABLE collaborations DROP COLUMN variant;
ALTER TABLE collaborations DROP COLUMN tier;
