package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuditReplayFile(t *testing.T) {
	file := filepath.Join("..", "..", "workflows", "testdata", "histories", "completed.json")
	env := func(string) string { return "" }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"audit", "replay", "--file", file}, env, &out); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if !strings.Contains(out.String(), "events in 1 run(s): deterministic") || !strings.Contains(out.String(), `"stage": "completed"`) {
		t.Fatalf("output:\n%s", out.String())
	}

	out.Reset()
	if err := run(context.Background(), []string{"audit", "replay", "--file", file, "--until-event", "40"}, env, &out); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if !strings.Contains(out.String(), "deterministic") || !strings.Contains(out.String(), "had not completed") ||
		!strings.Contains(out.String(), "state as of the last update") || !strings.Contains(out.String(), `"stage": "contracting"`) {
		t.Fatalf("partial replay output:\n%s", out.String())
	}

	// A history of another workflow's commands is refused with the mismatch.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(string(data), `"activityType": {
              "name": "RecordStage"`, `"activityType": {
              "name": "SendOutreachEmail"`, 1)
	if tampered == string(data) {
		t.Fatal("the test's tampering found nothing to change")
	}
	bad := filepath.Join(t.TempDir(), "tampered.json")
	if err := os.WriteFile(bad, []byte(tampered), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = run(context.Background(), []string{"audit", "replay", "--file", bad}, env, &out)
	if err == nil || !strings.Contains(out.String(), "replay failed") {
		t.Fatalf("tampered history: %v\n%s", err, out.String())
	}

	for _, args := range [][]string{{"audit"}, {"audit", "replay"}, {"audit", "replay", "--id", "x", "--file", "y"}, {"audit", "export"}} {
		if err := run(context.Background(), args, env, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
