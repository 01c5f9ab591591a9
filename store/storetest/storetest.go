// Package storetest gives each test its own migrated PostgreSQL database, on the server in
// DATABASE_URL when it is set, else on a throwaway cluster the test binary starts itself.
package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/collabflow/collabflow/devenv/pgserver"
	"github.com/collabflow/collabflow/store"
)

var (
	adminURL string
	counter  atomic.Int64
)

// Main runs a package's tests with a PostgreSQL server; call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
func Main(m *testing.M) int {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		adminURL = u
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "collabflow-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	srv, err := pgserver.Start(ctx, pgserver.Options{Dir: dir, Ephemeral: true})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest: start PostgreSQL:", err)
		return 1
	}
	defer func() { _ = srv.Stop() }()
	adminURL = srv.URL()
	return m.Run()
}

// URL creates an empty, migrated database for this test, drops it when the test ends, and
// returns its connection string.
func URL(t testing.TB) string {
	t.Helper()
	if adminURL == "" {
		t.Fatal("storetest: call storetest.Main from TestMain")
	}
	ctx := context.Background()
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), counter.Add(1))
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("storetest: connect: %v", err)
	}
	defer func() { _ = admin.Close(ctx) }()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("storetest: create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("storetest: connect to drop %s: %v", name, err)
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("storetest: drop %s: %v", name, err)
		}
	})
	dbURL, err := withDatabase(adminURL, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return dbURL
}

// New returns a Store on a fresh migrated database, closed and dropped when the test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func withDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		return "", fmt.Errorf("storetest: DATABASE_URL must be a postgres:// URL to derive per-test databases from it")
	}
	u.Path = "/" + name
	return u.String(), nil
}
