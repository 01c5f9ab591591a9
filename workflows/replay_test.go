package workflows_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/audit"
	"github.com/collabflow/collabflow/workflows"
)

// TestHistoryCorpusReplays replays every recorded lifecycle against the current code. A
// change to workflow code that alters the commands of a recorded path fails here unless
// it is guarded with workflow.GetVersion.
func TestHistoryCorpusReplays(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 7 {
		t.Fatalf("the corpus has %d histories, want every lifecycle path", len(files))
	}
	ends := map[workflows.Stage]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := replayFile(t, f)
			if !res.Deterministic {
				t.Fatalf("%s: %s", f, res.Mismatch)
			}
			if res.Final == nil {
				t.Fatalf("%s did not complete", f)
			}
			ends[res.Final.Stage] = true
		})
	}
	for _, stage := range []workflows.Stage{workflows.StageCompleted, workflows.StageDeclined, workflows.StageNoResponse, workflows.StageCancelled} {
		if !ends[stage] {
			t.Errorf("no history in the corpus ends %s", stage)
		}
	}
}

// replayFile replays a recorded history file against the current workflow code.
func replayFile(t *testing.T, file string) audit.Result {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	histories, err := audit.Parse(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	return audit.Replay(nil, histories)
}

// TestAlteredWorkflowFailsReplay is the guard working: a workflow that schedules something
// else first does not replay a recorded history.
func TestAlteredWorkflowFailsReplay(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "histories", "cancelled-in-outreach.json"))
	if err != nil {
		t.Fatal(err)
	}
	histories, err := audit.Parse(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	altered := func(ctx workflow.Context, in workflows.CollaborationInput) (workflows.CollaborationState, error) {
		// Sleeps where the real workflow records its stage.
		return workflows.CollaborationState{}, workflow.Sleep(ctx, 1)
	}
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(altered, workflow.RegisterOptions{Name: workflows.CollaborationWorkflow})
	err = replayer.ReplayWorkflowHistory(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)), histories[0])
	// TMPRL1100 is the SDK's code for a nondeterministic workflow.
	if err == nil || !strings.Contains(err.Error(), "TMPRL1100") {
		t.Fatalf("altered workflow replayed: %v", err)
	}
}
