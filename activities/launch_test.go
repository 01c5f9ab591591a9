package activities_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/testsuite"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// fakeStarter stands in for Temporal: it remembers which pairs have a workflow, and can
// lose the answer of one start (the workflow exists, the caller hears an error), as a
// crash between the start and recording it would.
type fakeStarter struct {
	mu      sync.Mutex
	started map[string]int // creator ID → workflows started
	loseAt  int            // the nth start loses its answer (0: none)
	calls   int
}

func (f *fakeStarter) StartForLaunch(_ context.Context, campaign campaigns.Campaign, creator roster.Creator, _, _ string, _ activities.Arm) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := "collab-" + campaign.ID + "-" + creator.ID
	if f.started[creator.ID] > 0 {
		return id, true, nil
	}
	f.calls++
	f.started[creator.ID]++
	if f.calls == f.loseAt {
		return id, false, errors.New("connection reset by peer")
	}
	return id, false, nil
}

// launchRoster stores a campaign and n creators (cN@example.com) and returns them.
func launchRoster(t *testing.T, st *store.Store, n int) (campaigns.Campaign, []string) {
	t.Helper()
	ctx := context.Background()
	cp := campaigns.Campaign{Name: "Launch", Brand: "Acme", SenderEmail: "collabs@acme.test"}
	cp.ApplyDefaults()
	cp, err := st.CreateCampaign(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		cr, err := st.CreateCreator(ctx, roster.Creator{Name: fmt.Sprintf("Creator %d", i), Email: fmt.Sprintf("c%d@example.com", i), Timezone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, cr.ID)
	}
	return cp, ids
}

// TestLaunchBatchResumesAfterACrashWithoutDuplicates: a batch whose fourth start loses
// its answer fails; run again, it resumes at that item (its workflow exists: started by
// this launch), starts the rest once each, and skips the erased, the suppressed and the
// creator who already collaborates in the campaign, each with the reason. A third run
// changes nothing.
func TestLaunchBatchResumesAfterACrashWithoutDuplicates(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	cp, ids := launchRoster(t, st, 8)
	erased, collaborating := ids[5], ids[7]
	if _, err := st.EraseCreator(ctx, erased); err != nil {
		t.Fatal(err)
	}
	// ids[6] unsubscribed.
	if _, err := st.Suppress(ctx, "c6@example.com", "unsubscribed", "test"); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordCollaboration(ctx, store.Collaboration{ID: "collab-" + cp.ID + "-" + collaborating, CampaignID: cp.ID,
		CreatorID: collaborating, Stage: "negotiating", StageSeq: 3, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	l, err := st.CreateLaunch(ctx, cp.ID, "ops-team", ids)
	if err != nil {
		t.Fatal(err)
	}

	starter := &fakeStarter{started: map[string]int{}, loseAt: 4}
	acts := &activities.Activities{Store: st, Starter: starter}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	in := activities.LaunchBatchInput{LaunchID: l.ID, CampaignID: cp.ID, RequestedBy: "ops-team", Limit: 100}
	run := func() (activities.LaunchBatchResult, error) {
		v, err := env.ExecuteActivity(acts.StartLaunchBatch, in)
		var res activities.LaunchBatchResult
		if err == nil {
			err = v.Get(&res)
		}
		return res, err
	}

	if _, err := run(); err == nil {
		t.Fatal("the lost answer did not fail the batch")
	}
	items, err := st.LaunchItems(ctx, l.ID, 0, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	// Items start concurrently: the one whose answer was lost is left starting, and every
	// other recorded its outcome.
	lost := -1
	for i, it := range items {
		if it.Status == store.LaunchStarting {
			if lost >= 0 {
				t.Fatalf("after the crash, more than one item is starting: %+v", items)
			}
			lost = i
		}
	}
	if lost < 0 || starter.started[ids[lost]] != 1 {
		t.Fatalf("after the crash: %+v", items)
	}

	for range 2 {
		res, err := run()
		if err != nil {
			t.Fatal(err)
		}
		if res != (activities.LaunchBatchResult{LastSeq: 8, Started: 5, Skipped: 3, Done: true}) {
			t.Fatalf("batch result %+v", res)
		}
	}
	for i, id := range ids {
		want := map[bool]int{true: 1, false: 0}[i < 5]
		if starter.started[id] != want {
			t.Errorf("creator %d started %d time(s), want %d", i, starter.started[id], want)
		}
	}
	items, err = st.LaunchItems(ctx, l.ID, 0, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	wantReasons := map[int]string{lost: "started by an earlier attempt", 5: activities.SkipErased, 6: "address suppressed: unsubscribed", 7: activities.SkipCollaborating}
	for i, it := range items {
		if it.Reason != wantReasons[i] {
			t.Errorf("item %d: reason %q, want %q", i+1, it.Reason, wantReasons[i])
		}
	}
	got, err := st.Launch(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Started != 5 || got.Skipped != 3 || got.Pending != 0 || got.Failed != 0 {
		t.Fatalf("launch counts %+v", got)
	}
}

// refusingStarter is Temporal refusing every start of one creator's collaboration for
// the request itself (an input over its limits), and starting the others.
type refusingStarter struct {
	fakeStarter
	refused string
}

func (r *refusingStarter) StartForLaunch(ctx context.Context, campaign campaigns.Campaign, creator roster.Creator, launchID, by string, arm activities.Arm) (string, bool, error) {
	if creator.ID == r.refused {
		return "", false, fmt.Errorf("start collaboration: %w", serviceerror.NewInvalidArgument("Blob data size exceeds limit."))
	}
	return r.fakeStarter.StartForLaunch(ctx, campaign, creator, launchID, by, arm)
}

// TestLaunchBatchAPersistentItemErrorFailsOnlyThatItem is N-2's launch side: a start
// Temporal refuses for one item every time fails that item with the reason, and the batch
// starts every other instead of failing (and, its retries spent, failing the rest).
func TestLaunchBatchAPersistentItemErrorFailsOnlyThatItem(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	cp, ids := launchRoster(t, st, 4)
	l, err := st.CreateLaunch(ctx, cp.ID, "ops-team", ids)
	if err != nil {
		t.Fatal(err)
	}
	starter := &refusingStarter{fakeStarter: fakeStarter{started: map[string]int{}}, refused: ids[1]}
	acts := &activities.Activities{Store: st, Starter: starter}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	v, err := env.ExecuteActivity(acts.StartLaunchBatch, activities.LaunchBatchInput{LaunchID: l.ID, CampaignID: cp.ID, RequestedBy: "ops-team", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.LaunchBatchResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res != (activities.LaunchBatchResult{LastSeq: 4, Started: 3, Failed: 1, Done: true}) {
		t.Fatalf("batch result %+v", res)
	}
	failed, err := st.LaunchItems(ctx, l.ID, 0, 100, store.LaunchFailed)
	if err != nil || len(failed) != 1 || failed[0].CreatorID != ids[1] || failed[0].Reason != "could not start: Blob data size exceeds limit." {
		t.Fatalf("failed items %+v %v", failed, err)
	}
}
