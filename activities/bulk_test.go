package activities_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// fakeSteerer stands in for Temporal's update deduplication: an update ID applied once is
// applied; it can lose the answer of its nth call, as a crash after the update would.
type fakeSteerer struct {
	mu      sync.Mutex
	applied map[string]string // update ID → collaboration
	calls   int
	loseAt  int
}

func (f *fakeSteerer) Steer(_ context.Context, collaborationID, updateID, _, _, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if collaborationID == "collab-ended" {
		return "collaboration already ended as cancelled", nil
	}
	f.applied[updateID] = collaborationID
	if f.calls == f.loseAt {
		return "", errors.New("connection reset by peer")
	}
	return "", nil
}

// newBulk stores a bulk pause of the given collaborations and returns its ID with an
// activity environment that runs acts.
func newBulk(t *testing.T, st *store.Store, ids []string, acts *activities.Activities) (string, *testsuite.TestActivityEnvironment) {
	t.Helper()
	ctx := context.Background()
	cp := campaigns.Campaign{Name: "Bulk", Brand: "Acme", SenderEmail: "collabs@acme.test"}
	cp.ApplyDefaults()
	cp, err := st.CreateCampaign(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateBulkAction(ctx, store.BulkAction{CampaignID: cp.ID, Action: activities.BulkPause, RequestedBy: "ops-team"}, ids)
	if err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return b.ID, env
}

// runBulkBatch runs one batch of the bulk pause bulkID.
func runBulkBatch(env *testsuite.TestActivityEnvironment, acts *activities.Activities, bulkID string) (activities.BulkBatchResult, error) {
	v, err := env.ExecuteActivity(acts.ApplyBulkBatch, activities.BulkBatchInput{BulkID: bulkID, Action: activities.BulkPause, RequestedBy: "ops-team", Limit: 100})
	var res activities.BulkBatchResult
	if err == nil {
		err = v.Get(&res)
	}
	return res, err
}

// TestBulkBatchAsksALostAnswerAgainWithTheSameUpdate: the third update loses its answer;
// the batch asks again under the same update ID (Temporal applies it once), records each
// collaboration's answer, and a second run changes nothing.
func TestBulkBatchAsksALostAnswerAgainWithTheSameUpdate(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	steerer := &fakeSteerer{applied: map[string]string{}, loseAt: 3}
	acts := &activities.Activities{Store: st, Steerer: steerer}
	bulkID, env := newBulk(t, st, []string{"collab-a", "collab-b", "collab-c", "collab-ended", "collab-d"}, acts)
	for range 2 {
		res, err := runBulkBatch(env, acts, bulkID)
		if err != nil {
			t.Fatal(err)
		}
		if res != (activities.BulkBatchResult{LastSeq: 5, Applied: 4, Refused: 1, Done: true}) {
			t.Fatalf("batch result %+v", res)
		}
	}
	if len(steerer.applied) != 4 || steerer.applied[fmt.Sprintf("bulk-%s-3", bulkID)] != "collab-c" {
		t.Fatalf("updates applied %v", steerer.applied)
	}
	if steerer.calls != 6 {
		t.Fatalf("%d updates sent, want 6 (five, and the lost one again)", steerer.calls)
	}
	items, err := st.BulkItems(ctx, bulkID, 0, 10, store.BulkRefused)
	if err != nil || len(items) != 1 || items[0].CollaborationID != "collab-ended" || items[0].Result != "collaboration already ended as cancelled" {
		t.Fatalf("refused items %+v %v", items, err)
	}
}

// wedgedSteerer is a collaboration whose workflow never accepts an update (its workflow
// task keeps failing: Temporal answers "not ready" at once, or holds the call until the
// caller gives up), among healthy ones.
type wedgedSteerer struct {
	fakeSteerer
	wedged string
	holds  bool
	// phase is 1 from the first call for the wedged collaboration to the next call for
	// another: while the batch waits on it.
	phase atomic.Int32
}

func (w *wedgedSteerer) Steer(ctx context.Context, collaborationID, updateID, action, reason, by string) (string, error) {
	if collaborationID != w.wedged {
		w.phase.CompareAndSwap(1, 2)
		return w.fakeSteerer.Steer(ctx, collaborationID, updateID, action, reason, by)
	}
	w.phase.CompareAndSwap(0, 1)
	if w.holds {
		<-ctx.Done()
		return "", ctx.Err()
	}
	return "", serviceerror.NewWorkflowNotReady("Unable to perform workflow execution update due to Workflow Task in failed state.")
}

// TestBulkBatchAWedgedCollaborationCostsOneItem is N-2 without a server: a collaboration
// that never accepts the update is recorded failed with why after the per-item bound, the
// batch heartbeats while it waits, and every other item is applied.
func TestBulkBatchAWedgedCollaborationCostsOneItem(t *testing.T) {
	for _, tc := range []struct {
		name  string
		holds bool
		want  string
	}{
		{"answers not ready", false, "did not accept the update within 1.5s; retry later (Unable to perform workflow execution update due to Workflow Task in failed state.)"},
		{"holds the call", true, "did not accept the update within 1.5s; retry later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.New(t)
			steerer := &wedgedSteerer{fakeSteerer: fakeSteerer{applied: map[string]string{}}, wedged: "collab-wedged", holds: tc.holds}
			acts := &activities.Activities{Store: st, Steerer: steerer, BulkItemTimeout: 1500 * time.Millisecond}
			bulkID, env := newBulk(t, st, []string{"collab-wedged", "collab-a", "collab-b", "collab-c"}, acts)
			// The SDK sends an attempt's first heartbeat at once and batches the next for
			// 30 s (there is no heartbeat timeout here): the wedged item comes first, so
			// that the first is sent while the batch waits on it.
			var beatsWhileWaiting atomic.Int32
			env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) {
				if steerer.phase.Load() == 1 {
					beatsWhileWaiting.Add(1)
				}
			})
			res, err := runBulkBatch(env, acts, bulkID)
			if err != nil {
				t.Fatal(err)
			}
			if res != (activities.BulkBatchResult{LastSeq: 4, Applied: 3, Failed: 1, Done: true}) {
				t.Fatalf("batch result %+v", res)
			}
			failed, err := st.BulkItems(ctx, bulkID, 0, 10, store.BulkFailed)
			if err != nil || len(failed) != 1 || failed[0].CollaborationID != "collab-wedged" || failed[0].Result != tc.want {
				t.Fatalf("failed items %+v %v", failed, err)
			}
			if len(steerer.applied) != 3 {
				t.Fatalf("updates applied %v", steerer.applied)
			}
			if beatsWhileWaiting.Load() == 0 {
				t.Fatal("no heartbeat while the wedged collaboration kept the batch waiting")
			}
		})
	}
}

// TestBulkBatchGoesOnFromItsLastHeartbeat: a retried attempt whose predecessor heartbeat
// two items done goes on at the third, with the counts it carried.
func TestBulkBatchGoesOnFromItsLastHeartbeat(t *testing.T) {
	st := storetest.New(t)
	steerer := &fakeSteerer{applied: map[string]string{}}
	acts := &activities.Activities{Store: st, Steerer: steerer}
	bulkID, env := newBulk(t, st, []string{"collab-a", "collab-b", "collab-c", "collab-d"}, acts)
	env.SetHeartbeatDetails(activities.BulkBatchResult{LastSeq: 2, Applied: 1, Failed: 1})
	res, err := runBulkBatch(env, acts, bulkID)
	if err != nil {
		t.Fatal(err)
	}
	if res != (activities.BulkBatchResult{LastSeq: 4, Applied: 3, Failed: 1, Done: true}) {
		t.Fatalf("batch result %+v", res)
	}
	if steerer.calls != 2 || steerer.applied[fmt.Sprintf("bulk-%s-1", bulkID)] != "" {
		t.Fatalf("%d updates sent (%v), want the last two", steerer.calls, steerer.applied)
	}
}

// TestBulkBatchStopsBeforeItsDeadline: a batch whose attempt has no time left for another
// item's bound answers what it did, not done, and the next batch goes on from there.
func TestBulkBatchStopsBeforeItsDeadline(t *testing.T) {
	st := storetest.New(t)
	steerer := &fakeSteerer{applied: map[string]string{}}
	// The test environment gives an attempt ten minutes: one item's bound leaves no room
	// for a second.
	acts := &activities.Activities{Store: st, Steerer: steerer, BulkItemTimeout: 9*time.Minute + 50*time.Second}
	bulkID, env := newBulk(t, st, []string{"collab-a", "collab-b", "collab-c"}, acts)
	res, err := runBulkBatch(env, acts, bulkID)
	if err != nil {
		t.Fatal(err)
	}
	if res != (activities.BulkBatchResult{LastSeq: 1, Applied: 1}) || steerer.calls != 1 {
		t.Fatalf("batch result %+v after %d updates", res, steerer.calls)
	}
}
