package workflows_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSupersededRecordingsFailReplay keeps the corpus honest about N-9: the recordings that
// commits 1689a4b and ea1d7ed replaced by re-recording (instead of adding a version) stay
// in testdata/histories/superseded, and each of them fails replay against the current
// code with the SDK's nondeterminism error. A superseded recording that replays belongs
// in the main corpus instead; the main corpus's glob does not reach this folder.
func TestSupersededRecordingsFailReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "superseded", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no superseded recordings")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := replayFile(t, f)
			// TMPRL1100 is the SDK's code for a nondeterministic workflow.
			if res.Deterministic || !strings.Contains(res.Mismatch, "TMPRL1100") {
				t.Fatalf("%s: deterministic %v, mismatch %q; want a TMPRL1100 failure (else move it to the main corpus)", f, res.Deterministic, res.Mismatch)
			}
		})
	}
}
