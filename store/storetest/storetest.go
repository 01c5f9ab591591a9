// Package storetest gives each test its own migrated PostgreSQL database, on the server in
// DATABASE_URL when it is set, else on a throwaway cluster the test binary starts itself.
package storetest

import (
	"context"
	"errors"
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
	stop, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

// Start provides the server that databases are created on, for a TestMain that needs
// more set-up than Main does; call the returned stop after the tests.
func Start() (stop func(), err error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		adminURL = u
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", "collabflow-pg-")
	if err != nil {
		return nil, fmt.Errorf("storetest: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Options{Dir: dir, Ephemeral: true})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("storetest: start PostgreSQL: %w", err)
	}
	adminURL = srv.URL()
	return func() {
		_ = srv.Stop()
		_ = os.RemoveAll(dir)
	}, nil
}

// URL creates an empty, migrated database for this test, drops it when the test ends, and
// returns its connection string.
func URL(t testing.TB) string {
	t.Helper()
	url, drop, err := CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return url
}

// CreateDatabase creates an empty, migrated database and returns its URL and a function
// that drops it.
func CreateDatabase(ctx context.Context) (url string, drop func() error, err error) {
	if adminURL == "" {
		return "", nil, errors.New("storetest: call storetest.Main or storetest.Start from TestMain")
	}
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), counter.Add(1))
	if err := adminExec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, err
	}
	drop = func() error {
		return adminExec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	url, err = withDatabase(adminURL, name)
	if err == nil {
		err = migrate(ctx, url)
	}
	if err != nil {
		_ = drop()
		return "", nil, err
	}
	return url, drop, nil
}

func migrate(ctx context.Context, url string) error {
	s, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Migrate(ctx, slog.New(slog.DiscardHandler))
}

func adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("storetest: connect: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("storetest: %s: %w", sql, err)
	}
	return nil
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
