-- Escalations: what a collaboration waits for ops to decide, mirrored from its workflow so
-- that ops can list every collaboration needing attention.
ALTER TABLE collaborations ADD COLUMN attention_reason text NOT NULL DEFAULT '';
ALTER TABLE collaborations ADD COLUMN attention_since timestamptz;
CREATE INDEX collaborations_attention_idx ON collaborations (id) WHERE attention_reason <> '';

---- create above / drop below ----

DROP INDEX collaborations_attention_idx;
ALTER TABLE collaborations DROP COLUMN attention_since;
ALTER TABLE collaborations DROP COLUMN attention_reason;
