-- The collaboration a stored answer belongs to ('' for none), so that erasing a creator
-- deletes the answers of their collaborations by id rather than by searching bodies for
-- their name. Portal answers are no longer stored (only their status): the ones stored
-- before lose their bodies, which quote the typed signature name, and their routes, which
-- held the link token, keep the route's pattern.
ALTER TABLE idempotency_keys ADD COLUMN collaboration_id text NOT NULL DEFAULT '';
CREATE INDEX idempotency_keys_collaboration_idx ON idempotency_keys (collaboration_id) WHERE collaboration_id <> '';
UPDATE idempotency_keys SET body = ''::bytea, route = regexp_replace(route, '^(\S+ /portal/[a-z]+/).*$', '\1:token')
    WHERE route ~ '^\S+ /portal/';

---- create above / drop below ----

DROP INDEX idempotency_keys_collaboration_idx;
ALTER TABLE idempotency_keys DROP COLUMN collaboration_id;
