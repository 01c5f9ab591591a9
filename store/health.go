package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/tern/v2/migrate"
)

// MigrationStatus is the schema's applied version beside the latest one this binary
// embeds.
type MigrationStatus struct {
	Applied int32
	Latest  int32
}

// Current reports whether every embedded migration has been applied: a process whose
// schema is behind (a new binary before `collabflow migrate` ran) would fail on the
// columns it expects, so it is not ready.
func (m MigrationStatus) Current() bool { return m.Applied >= m.Latest }

// Migrations reads the schema's applied version and the latest embedded one, for the
// readiness check. A database tern never migrated (no version table on the search path)
// is at version 0.
func (s *Store) Migrations(ctx context.Context) (MigrationStatus, error) {
	latest, err := latestMigration()
	if err != nil {
		return MigrationStatus{}, err
	}
	st := MigrationStatus{Latest: latest}
	err = s.pool.QueryRow(ctx, "SELECT version FROM schema_version").Scan(&st.Applied)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return st, nil
	}
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("read schema version: %w", err)
	}
	return st, nil
}

// latestMigration is the sequence number of the newest embedded migration.
func latestMigration() (int32, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return 0, fmt.Errorf("migrations directory: %w", err)
	}
	// tern numbers migrations by their files' prefixes, 1 to n with none missing.
	paths, err := migrate.FindMigrations(sub)
	if err != nil {
		return 0, fmt.Errorf("find migrations: %w", err)
	}
	return int32(len(paths)), nil
}

// OpenEscalations counts collaborations waiting for ops (an attention reason set), from
// the read model: the same number in every process, unlike a per-process counter.
func (s *Store) OpenEscalations(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM collaborations WHERE attention_reason <> ''").Scan(&n); err != nil {
		return 0, fmt.Errorf("count open escalations: %w", err)
	}
	return n, nil
}
