//go:build dev

package main

import (
	"context"
	"strings"
	"testing"
)

// TestDevBuildRunsBench: the dev binary dispatches its own subcommands; bench parses its
// flags (here a bad one) rather than pointing elsewhere, and the usage lists dev and bench.
func TestDevBuildRunsBench(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"bench", "-n", "0"}, func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "-n: 0") {
		t.Fatalf("collabflow bench -n 0: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"help"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\n  dev ", "\n  bench "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}
