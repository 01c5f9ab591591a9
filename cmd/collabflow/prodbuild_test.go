//go:build !dev

package main

import (
	"context"
	"strings"
	"testing"
)

// TestProductionBuildPointsToTheDevBinary: the dev binary's subcommands fail in the
// production build with where to find them, and the usage says so too.
func TestProductionBuildPointsToTheDevBinary(t *testing.T) {
	for _, tc := range []struct{ cmd, want string }{
		{"dev", "this is the production build; `dev` is in the dev binary (make build-dev / make run)"},
		{"bench", "this is the production build; `bench` is in the dev binary (make build-dev / make bench)"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			err := run(context.Background(), []string{tc.cmd}, func(string) string { return "" }, &strings.Builder{})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("collabflow %s: %v, want %q", tc.cmd, err, tc.want)
			}
		})
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"help"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "only in the dev binary (make build-dev") {
		t.Fatalf("usage does not point to the dev binary:\n%s", out.String())
	}
}
