package activities_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func TestRecordStageIsIdempotent(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	cr, err := st.CreateCreator(ctx, roster.Creator{Name: "A", Email: "a@example.com", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	cp := campaigns.Campaign{Name: "C", Brand: "B", SenderEmail: "s@b.test"}
	cp.ApplyDefaults()
	if cp, err = st.CreateCampaign(ctx, cp); err != nil {
		t.Fatal(err)
	}

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	acts := &activities.Activities{Store: st}
	env.RegisterActivity(acts)
	change := activities.StageChange{CollaborationID: "collab-x", CampaignID: cp.ID, CreatorID: cr.ID, Stage: "outreach", Seq: 1, At: time.Now()}
	for range 2 { // a retry after the first attempt reached the database
		if _, err := env.ExecuteActivity(acts.RecordStage, change); err != nil {
			t.Fatal(err)
		}
	}
	list, _, err := st.ListCollaborations(ctx, store.CollaborationFilter{Limit: 10})
	if err != nil || len(list) != 1 || list[0].Stage != "outreach" {
		t.Fatalf("rows %+v %v", list, err)
	}
}

func TestRecordStageBadInputIsNotRetried(t *testing.T) {
	st := storetest.New(t)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	acts := &activities.Activities{Store: st}
	env.RegisterActivity(acts)
	tests := []activities.StageChange{
		{Stage: "outreach", Seq: 1},                      // no id
		{CollaborationID: "collab-x", Seq: 1},            // no stage
		{CollaborationID: "collab-x", Stage: "outreach"}, // no sequence
		{CollaborationID: "collab-x", Stage: "outreach", Seq: 1, CampaignID: "01a21e0c-0000-7000-8000-000000000000", CreatorID: "01a21e0c-0000-7000-8000-000000000000"}, // rows gone
	}
	for _, change := range tests {
		_, err := env.ExecuteActivity(acts.RecordStage, change)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || !appErr.NonRetryable() {
			t.Errorf("%+v: %v, want a non-retryable error", change, err)
		}
	}
}
