package store

import (
	"context"
	"fmt"
	"time"
)

// IdempotencyTTL is how long a stored answer is returned for a repeated key. Older rows
// are treated as absent and pruned a few at a time as new ones are written.
const IdempotencyTTL = 7 * 24 * time.Hour

// pruneBatch bounds the expired rows one write deletes, so pruning never costs a write
// more than a small, indexed delete.
const pruneBatch = 100

// IdempotentAnswer is the answer given to a request that carried an Idempotency-Key.
type IdempotentAnswer struct {
	// Key is the scoped key (caller, route and client key hashed together).
	Key string
	// Route is the method and path the key was used on, a link token in it replaced by
	// its hash: the route is kept for reading, and a token is a credential.
	Route string
	// CollaborationID is the collaboration the answer is about, "" for none: erasing its
	// creator deletes it.
	CollaborationID string
	// BodySHA256 is the hex SHA-256 of the request's meaningful body.
	BodySHA256 string
	// Final is false while the change is accepted but unfinished (answered 202).
	Final       bool
	Status      int
	ContentType string
	// Location is the answer's Location header, "" when it had none.
	Location  string
	Body      []byte
	CreatedAt time.Time
}

// IdempotentAnswer returns the answer stored under a scoped key, or ErrNotFound when there
// is none younger than IdempotencyTTL.
func (s *Store) IdempotentAnswer(ctx context.Context, key string) (IdempotentAnswer, error) {
	a := IdempotentAnswer{Key: key}
	err := s.pool.QueryRow(ctx, `SELECT route, body_sha256, final, status, content_type, location, body, created_at
		FROM idempotency_keys WHERE key = $1 AND created_at > $2`, key, now().Add(-IdempotencyTTL)).Scan(
		&a.Route, &a.BodySHA256, &a.Final, &a.Status, &a.ContentType, &a.Location, &a.Body, &a.CreatedAt)
	if err != nil {
		return IdempotentAnswer{}, fmt.Errorf("idempotent answer: %w", pgError(err, nil))
	}
	return a, nil
}

// SaveIdempotentAnswer stores an answer under its key. A final answer is never replaced: a
// concurrent repeat that finished second keeps the first one's. An unfinished row is
// replaced by a later answer for the same body. Expired rows are pruned in passing.
func (s *Store) SaveIdempotentAnswer(ctx context.Context, a IdempotentAnswer) error {
	t := now()
	if a.Body == nil {
		a.Body = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO idempotency_keys (key, route, body_sha256, final, status, content_type, location, body, created_at, updated_at, collaboration_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
		ON CONFLICT (key) DO UPDATE SET final = EXCLUDED.final, status = EXCLUDED.status, content_type = EXCLUDED.content_type,
			location = EXCLUDED.location, body = EXCLUDED.body, updated_at = EXCLUDED.updated_at
		WHERE NOT idempotency_keys.final AND idempotency_keys.body_sha256 = EXCLUDED.body_sha256`,
		a.Key, a.Route, a.BodySHA256, a.Final, a.Status, a.ContentType, a.Location, a.Body, t, a.CollaborationID)
	if err != nil {
		return fmt.Errorf("save idempotent answer: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key IN (
		SELECT key FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
		t.Add(-IdempotencyTTL), pruneBatch); err != nil {
		return fmt.Errorf("prune idempotency keys: %w", err)
	}
	return nil
}
