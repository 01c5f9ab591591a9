package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestProductionBuildLeavesOutTheTemporalServer: the binary built without the dev tag (the
// Dockerfile's) links no package of go.temporal.io/server, and the dev build does, so the
// check would notice if the tag stopped separating them.
func TestProductionBuildLeavesOutTheTemporalServer(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantServer bool
	}{
		{"production", []string{"list", "-deps", "."}, false},
		{"dev", []string{"list", "-deps", "-tags", "dev", "."}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command("go", tc.args...).Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("go %s: %v\n%s", strings.Join(tc.args, " "), err, stderr)
			}
			var server []string
			for _, pkg := range strings.Fields(string(out)) {
				if pkg == "go.temporal.io/server" || strings.HasPrefix(pkg, "go.temporal.io/server/") {
					server = append(server, pkg)
				}
			}
			switch {
			case tc.wantServer && len(server) == 0:
				t.Fatal("the dev build links no go.temporal.io/server package: is `collabflow dev` still behind the dev tag?")
			case !tc.wantServer && len(server) > 0:
				t.Fatalf("the production build links %d packages of go.temporal.io/server, e.g. %s; keep the embedded server behind the dev tag",
					len(server), server[0])
			}
		})
	}
}
