-- A campaign's fit rules (fit.Rules as JSON): which creators qualify and how they score.
-- '{}' on older campaigns reads as rules that let every creator in.
ALTER TABLE campaigns ADD COLUMN fit jsonb NOT NULL DEFAULT '{}';

---- create above / drop below ----

ALTER TABLE campaigns DROP COLUMN fit;
