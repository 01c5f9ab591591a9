package pgserver

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestStartKeepsDataAcrossRestart is what `make run` relies on: the second start reuses
// the cluster, on a new port, with the rows the first one wrote.
func TestStartKeepsDataAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pg")

	first, err := Start(ctx, Options{Dir: dir, Database: "keep", Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, first.URL(), "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}

	second, err := Start(ctx, Options{Dir: dir, Database: "keep", Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Stop() })
	conn, err := pgx.Connect(ctx, second.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "still here" {
		t.Fatalf("got %q after restart", v)
	}
}

func TestStartNeedsDir(t *testing.T) {
	if _, err := Start(context.Background(), Options{}); err == nil {
		t.Fatal("Start without Dir succeeded")
	}
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}
