-- The Location header of a stored answer (a launch's, a bulk action's, an accepted
-- update's), so that a repeat with the same Idempotency-Key is answered with it too.
ALTER TABLE idempotency_keys ADD COLUMN location text NOT NULL DEFAULT '';
