package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// TestMigrations: a migrated database is current; one a version behind, and one tern
// never touched, are not.
func TestMigrations(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t)
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := s.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Current() || m.Latest < 13 {
		t.Fatalf("migrated database: %+v", m)
	}

	unmigrated, err := store.Open(ctx, withQuery(url, "search_path=nothing_migrated"))
	if err != nil {
		t.Fatal(err)
	}
	defer unmigrated.Close()
	if m, err := unmigrated.Migrations(ctx); err != nil || m.Current() || m.Applied != 0 {
		t.Fatalf("unmigrated schema: %+v, %v", m, err)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "UPDATE schema_version SET version = version - 1"); err != nil {
		t.Fatal(err)
	}
	if behind, err := s.Migrations(ctx); err != nil || behind.Current() || behind.Applied != m.Latest-1 {
		t.Fatalf("a version behind: %+v, %v", behind, err)
	}
}

// withQuery adds a query parameter to a connection URL.
func withQuery(url, param string) string {
	if strings.Contains(url, "?") {
		return url + "&" + param
	}
	return url + "?" + param
}
