package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// dockerStage is one FROM … of a Dockerfile with its instructions, continuation lines
// joined.
type dockerStage struct {
	from         string // the image, without --platform
	instructions []string
}

// parseDockerfile splits a Dockerfile into stages; there is no Docker engine here to
// build it, so the test reads what it would do.
func parseDockerfile(text string) []dockerStage {
	var stages []dockerStage
	var line string
	for _, raw := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(raw)
		if line == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			line += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		line += trimmed
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			var image string
			for _, f := range fields[1:] {
				if !strings.HasPrefix(f, "--") {
					image = f
					break
				}
			}
			stages = append(stages, dockerStage{from: image})
		} else if len(stages) > 0 {
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, line)
		}
		line = ""
	}
	return stages
}

// instruction returns the stage's instructions of one kind (RUN, USER…), without it.
func (s dockerStage) instruction(kind string) []string {
	var out []string
	for _, in := range s.instructions {
		if k, rest, _ := strings.Cut(in, " "); strings.EqualFold(k, kind) {
			out = append(out, strings.TrimSpace(rest))
		}
	}
	return out
}

// TestDockerfile: deploy/Dockerfile builds the production binary (no dev tag) statically
// with go.mod's Go, and runs it as a non-root user in a distroless or scratch image.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(string(b))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a final one", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(mod))
	if goVersion == nil || !strings.HasPrefix(build.from, "golang:"+goVersion[1]) {
		t.Errorf("build stage FROM %s, want golang:%v (go.mod)", build.from, goVersion)
	}
	var goBuild string
	for _, run := range build.instruction("RUN") {
		if strings.Contains(run, "go build") {
			goBuild = run
		}
	}
	switch {
	case goBuild == "":
		t.Error("no RUN … go build in the build stage")
	case !strings.Contains(goBuild, "CGO_ENABLED=0"):
		t.Errorf("go build without CGO_ENABLED=0, so not static for a distroless/scratch image: %s", goBuild)
	case regexp.MustCompile(`-tags[= ]\S*dev`).MatchString(goBuild):
		t.Errorf("the image builds the dev binary: %s", goBuild)
	case !strings.Contains(goBuild, "./cmd/collabflow"):
		t.Errorf("go build of something else than ./cmd/collabflow: %s", goBuild)
	}

	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("final stage FROM %s, want distroless static or scratch", final.from)
	}
	users := final.instruction("USER")
	if len(users) == 0 {
		t.Fatal("the final stage sets no USER, so it runs as root")
	}
	user, _, _ := strings.Cut(users[len(users)-1], ":")
	if user == "root" || user == "0" || user == "" {
		t.Errorf("USER %s is root", users[len(users)-1])
	}
	entry := final.instruction("ENTRYPOINT")
	if len(entry) != 1 || !strings.Contains(entry[0], "collabflow") {
		t.Errorf("ENTRYPOINT %q, want the collabflow binary", entry)
	}
}

// TestParseDockerfile: the parser the Dockerfile test relies on catches what it checks.
func TestParseDockerfile(t *testing.T) {
	stages := parseDockerfile(`# comment
FROM --platform=$BUILDPLATFORM golang:1.26.8 AS build
RUN CGO_ENABLED=0 \
	go build -tags dev ./cmd/collabflow

FROM scratch
USER 0
ENTRYPOINT ["/collabflow"]
`)
	if len(stages) != 2 || stages[0].from != "golang:1.26.8" || stages[1].from != "scratch" {
		t.Fatalf("stages %+v", stages)
	}
	if run := stages[0].instruction("RUN"); len(run) != 1 || run[0] != "CGO_ENABLED=0  go build -tags dev ./cmd/collabflow" {
		t.Fatalf("RUN %q", run)
	}
	if user := stages[1].instruction("USER"); len(user) != 1 || user[0] != "0" {
		t.Fatalf("USER %q", user)
	}
}
