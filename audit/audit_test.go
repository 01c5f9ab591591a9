package audit

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/collabflow/collabflow/workflows"
)

func TestBuildTimeline(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ops := &workflows.Actor{Name: "ops-1", Role: "ops", RequestID: "r-1"}
	st := workflows.CollaborationState{ID: "collab-1", Events: []workflows.Event{
		{Seq: 1, At: t0, Kind: "started", To: workflows.StageOutreach, Actor: ops},
		{Seq: 2, At: t0.Add(time.Hour), Kind: "email_sent", Detail: "email 1 of 3"},
		{Seq: 3, At: t0.Add(26 * time.Hour), Kind: "reply_received", From: workflows.StageOutreach, To: workflows.StageNegotiating},
		{Seq: 4, At: t0.Add(50 * time.Hour), Kind: "cancelled", From: workflows.StageNegotiating, To: workflows.StageCancelled, Actor: ops},
	}}

	full := BuildTimeline(st, time.Time{}, t0.Add(100*time.Hour))
	if full.Stage != workflows.StageCancelled || len(full.Entries) != 4 || len(full.Stages) != 3 {
		t.Fatalf("timeline %+v", full)
	}
	if full.Stages[0].Duration != "26h0m0s" || full.Stages[1].Duration != "24h0m0s" || full.Stages[2].Duration != "0s" {
		t.Fatalf("durations %+v", full.Stages)
	}
	if e := full.Entries[3]; e.What != "cancelled" || e.RequestID != "r-1" || e.Actor.Name != "ops-1" {
		t.Fatalf("entry %+v", e)
	}

	past := BuildTimeline(st, t0.Add(30*time.Hour), t0.Add(100*time.Hour))
	if past.Stage != workflows.StageNegotiating || len(past.Entries) != 3 || past.Stages[1].Duration != "4h0m0s" {
		t.Fatalf("timeline at +30h %+v", past)
	}
}

func TestParseAndReplayCorpusFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "workflows", "testdata", "histories", "declined-in-negotiation.json"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Parse(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	res := Replay(nil, full)
	if !res.Deterministic || res.Final == nil || res.Final.Stage != workflows.StageDeclined {
		t.Fatalf("replay %+v", res)
	}
	if st := StateAt(nil, full, time.Time{}); st == nil || st.Stage != workflows.StageDeclined {
		t.Fatalf("state at the end %+v", st)
	}
	first := full[0].Events[0].GetEventTime().AsTime()
	if st := StateAt(nil, full, first.Add(-time.Second)); st != nil {
		t.Fatalf("a state before the collaboration started: %+v", st)
	}
	if st := StateAt(nil, full, first); st != nil {
		t.Fatalf("a state before the first workflow task completed: %+v", st)
	}

	partial, err := Parse(data, 10)
	if err != nil {
		t.Fatal(err)
	}
	n := len(partial[0].Events)
	if n < 10 || n >= len(full[0].Events) {
		t.Fatalf("partial history has %d events of %d", n, len(full[0].Events))
	}
	if res := Replay(nil, partial); !res.Deterministic || res.Final != nil {
		t.Fatalf("partial replay %+v", res)
	}

	for _, bad := range []string{"", "not json", `{"events":[]}`, `{"runs":[{"events":"x"}]}`} {
		if _, err := Parse([]byte(bad), 0); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

// TestStateAtBetweenUpdates is minor 9 of the workflow review: in the middle of the live
// window no update answers, and the state is still the workflow's own: live, with the
// checks done so far.
func TestStateAtBetweenUpdates(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "workflows", "testdata", "histories", "completed-default-cadence.json"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Parse(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	final := StateAt(nil, full, time.Time{})
	if final == nil || final.Stage != workflows.StageCompleted {
		t.Fatalf("final state %+v", final)
	}
	var liveAt time.Time
	for _, e := range final.Events {
		if e.To == workflows.StageLive {
			liveAt = e.At
		}
	}
	mid := liveAt.Add(final.LiveUntil.Sub(liveAt) / 2)
	st := StateAt(nil, full, mid)
	if st == nil || st.Stage != workflows.StageLive {
		t.Fatalf("state in the middle of the live window: %+v", st)
	}
	if st.UpdatedAt.After(mid) || len(st.Events) >= len(final.Events) {
		t.Fatalf("state at %s holds later events (updated %s)", mid, st.UpdatedAt)
	}
}
