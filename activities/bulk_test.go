package activities_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

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

// TestBulkBatchResumesAfterACrashWithTheSameUpdates: a batch whose third update loses its
// answer fails; run again it sends that update again under the same ID (Temporal applies
// it once), records each collaboration's answer, and a third run changes nothing.
func TestBulkBatchResumesAfterACrashWithTheSameUpdates(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	cp := campaigns.Campaign{Name: "Bulk", Brand: "Acme", SenderEmail: "collabs@acme.test"}
	cp.ApplyDefaults()
	cp, err := st.CreateCampaign(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"collab-a", "collab-b", "collab-c", "collab-ended", "collab-d"}
	b, err := st.CreateBulkAction(ctx, store.BulkAction{CampaignID: cp.ID, Action: activities.BulkPause, RequestedBy: "ops-team"}, ids)
	if err != nil {
		t.Fatal(err)
	}
	steerer := &fakeSteerer{applied: map[string]string{}, loseAt: 3}
	acts := &activities.Activities{Store: st, Steerer: steerer}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	in := activities.BulkBatchInput{BulkID: b.ID, Action: activities.BulkPause, RequestedBy: "ops-team", Limit: 100}
	run := func() (activities.BulkBatchResult, error) {
		v, err := env.ExecuteActivity(acts.ApplyBulkBatch, in)
		var res activities.BulkBatchResult
		if err == nil {
			err = v.Get(&res)
		}
		return res, err
	}
	if _, err := run(); err == nil {
		t.Fatal("the lost answer did not fail the batch")
	}
	for range 2 {
		res, err := run()
		if err != nil {
			t.Fatal(err)
		}
		if res != (activities.BulkBatchResult{LastSeq: 5, Applied: 4, Refused: 1, Done: true}) {
			t.Fatalf("batch result %+v", res)
		}
	}
	if len(steerer.applied) != 4 || steerer.applied[fmt.Sprintf("bulk-%s-3", b.ID)] != "collab-c" {
		t.Fatalf("updates applied %v", steerer.applied)
	}
	if steerer.calls != 6 {
		t.Fatalf("%d updates sent, want 6 (five, and the lost one again)", steerer.calls)
	}
	items, err := st.BulkItems(ctx, b.ID, 0, 10, store.BulkRefused)
	if err != nil || len(items) != 1 || items[0].CollaborationID != "collab-ended" || items[0].Result != "collaboration already ended as cancelled" {
		t.Fatalf("refused items %+v %v", items, err)
	}
}
