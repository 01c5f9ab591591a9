package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/collabflow/collabflow/roster"
)

// creatorConflicts names the input field behind each unique constraint on creators.
var creatorConflicts = map[string]ConflictError{
	"creators_email_key": {Field: "email", Message: "a creator with this email is already on the roster"},
}

const creatorColumns = `id, name, email, timezone, handles, followers, avg_engagement,
	audience_countries, niches, tier, created_at, updated_at, recent_post`

// creatorSelect is creatorColumns and the columns only the store writes.
const creatorSelect = creatorColumns + `, erased_at`

// CreateCreator adds a creator with a new time-ordered id and derived fields.
func (s *Store) CreateCreator(ctx context.Context, c roster.Creator) (roster.Creator, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return roster.Creator{}, fmt.Errorf("new creator id: %w", err)
	}
	c.ID = id.String()
	c.CreatedAt = now()
	c.UpdatedAt = c.CreatedAt
	c.Derive()
	args, err := creatorArgs(c)
	if err != nil {
		return roster.Creator{}, err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO creators (`+creatorColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, args...)
	if err != nil {
		return roster.Creator{}, fmt.Errorf("insert creator: %w", pgError(err, creatorConflicts))
	}
	return c, nil
}

// Creator returns one creator.
func (s *Store) Creator(ctx context.Context, id string) (roster.Creator, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+creatorSelect+` FROM creators WHERE id = $1`, id)
	c, err := scanCreator(row)
	if err != nil {
		return roster.Creator{}, fmt.Errorf("creator %s: %w", id, pgError(err, nil))
	}
	return c, nil
}

// UpdateCreator applies change to the stored creator inside one transaction, holding its
// row lock, and saves the result unless change returns an error (then nothing is written).
func (s *Store) UpdateCreator(ctx context.Context, id string, change func(*roster.Creator) error) (roster.Creator, error) {
	var updated roster.Creator
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := scanCreator(tx.QueryRow(ctx, `SELECT `+creatorSelect+` FROM creators WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return pgError(err, nil)
		}
		if c.ErasedAt != nil {
			return ErrErased
		}
		if err := change(&c); err != nil {
			return err
		}
		c.ID = id
		c.UpdatedAt = now()
		c.Derive()
		args, err := creatorArgs(c)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE creators SET name = $2, email = $3, timezone = $4, handles = $5,
			followers = $6, avg_engagement = $7, audience_countries = $8, niches = $9, tier = $10,
			updated_at = $11, recent_post = $12 WHERE id = $1`, append(args[:10:10], c.UpdatedAt, c.RecentPost)...)
		if err != nil {
			return pgError(err, creatorConflicts)
		}
		updated = c
		return nil
	})
	if err != nil {
		return roster.Creator{}, fmt.Errorf("update creator %s: %w", id, err)
	}
	return updated, nil
}

// CreatorFilter narrows a creator list. Zero fields do not filter.
type CreatorFilter struct {
	Tier  roster.Tier
	Niche string
	// Query matches a substring of the name or of any handle, ignoring case.
	Query string
	// After is the id of the last creator on the previous page.
	After string
	Limit int
}

// ListCreators returns one page of creators in id (creation) order and the cursor of the
// next page, empty on the last one.
func (s *Store) ListCreators(ctx context.Context, f CreatorFilter) ([]roster.Creator, string, error) {
	var q keysetQuery
	// Erased creators stay for the ledgers and reports that refer to them, off the roster.
	q.where("erased_at IS NULL")
	if f.Tier != "" {
		q.where("tier = " + q.arg(string(f.Tier)))
	}
	if f.Niche != "" {
		q.where(q.arg(f.Niche) + " = ANY (niches)")
	}
	if f.Query != "" {
		p := q.arg("%" + escapeLike(f.Query) + "%")
		q.where("(name ILIKE " + p + " OR EXISTS (SELECT 1 FROM jsonb_each_text(handles) h WHERE h.value ILIKE " + p + "))")
	}
	rows, err := s.pool.Query(ctx, q.sql(`SELECT `+creatorSelect+` FROM creators`, f.After, f.Limit), q.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list creators: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (roster.Creator, error) { return scanCreator(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list creators: %w", err)
	}
	return page(list, f.Limit, func(c roster.Creator) string { return c.ID })
}

// keysetQuery builds a filtered page query ordered by id, with numbered parameters.
type keysetQuery struct {
	conds []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (q *keysetQuery) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

func (q *keysetQuery) where(cond string) { q.conds = append(q.conds, cond) }

// sql completes base with the conditions, the cursor and one row more than limit, so that
// page can tell whether another page follows.
func (q *keysetQuery) sql(base, after string, limit int) string {
	if after != "" {
		q.where("id > " + q.arg(after))
	}
	if len(q.conds) > 0 {
		base += " WHERE " + strings.Join(q.conds, " AND ")
	}
	return base + " ORDER BY id LIMIT " + q.arg(limit+1)
}

func creatorArgs(c roster.Creator) ([]any, error) {
	handles, err := json.Marshal(c.Handles)
	if err != nil {
		return nil, fmt.Errorf("encode handles: %w", err)
	}
	countries, err := json.Marshal(c.AudienceCountries)
	if err != nil {
		return nil, fmt.Errorf("encode audience countries: %w", err)
	}
	return []any{c.ID, c.Name, c.Email, c.Timezone, handles, c.Followers, c.AvgEngagement,
		countries, c.Niches, string(c.Tier), c.CreatedAt, c.UpdatedAt, c.RecentPost}, nil
}

func scanCreator(row pgx.Row) (roster.Creator, error) {
	var (
		c    roster.Creator
		tier string
	)
	err := row.Scan(&c.ID, &c.Name, &c.Email, &c.Timezone, &c.Handles, &c.Followers, &c.AvgEngagement,
		&c.AudienceCountries, &c.Niches, &tier, &c.CreatedAt, &c.UpdatedAt, &c.RecentPost, &c.ErasedAt)
	if err != nil {
		return roster.Creator{}, err
	}
	c.Derive()
	return c, nil
}

// page trims a list fetched with limit+1 rows to limit and returns the next cursor.
func page[T any](list []T, limit int, key func(T) string) ([]T, string, error) {
	if len(list) <= limit {
		return list, "", nil
	}
	list = list[:limit]
	return list, key(list[limit-1]), nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// now is the time rows are stamped with, at the microsecond precision PostgreSQL keeps, so
// a returned value equals the stored one.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// CreatorNames maps each of ids to its creator's name, in one query: the console's board
// names the creators of a page of cards without a lookup per card. Erased creators (whose
// name is gone) and unknown ids are left out.
func (s *Store) CreatorNames(ctx context.Context, ids []string) (map[string]string, error) {
	names := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return names, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, name FROM creators WHERE id = ANY ($1) AND erased_at IS NULL`, ids)
	if err != nil {
		return nil, fmt.Errorf("creator names: %w", err)
	}
	var id, name string
	if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error { names[id] = name; return nil }); err != nil {
		return nil, fmt.Errorf("creator names: %w", err)
	}
	return names, nil
}
