package api_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/workflows"
)

// lookupCounter is the package's Temporal client counting the lookups (queries and
// describes) an API instance makes, for tests of calls the API must not make.
type lookupCounter struct {
	client.Client
	lookups atomic.Int64
}

func (c *lookupCounter) QueryWorkflow(ctx context.Context, id, runID, queryType string, args ...any) (converter.EncodedValue, error) {
	c.lookups.Add(1)
	return c.Client.QueryWorkflow(ctx, id, runID, queryType, args...)
}

func (c *lookupCounter) DescribeWorkflowExecution(ctx context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	c.lookups.Add(1)
	return c.Client.DescribeWorkflowExecution(ctx, id, runID)
}

// TestStartAndEmailsSpareLookups: a start of a new pair starts at once (a lookup first
// would be two wasted Temporal calls), a repeated start answers from the lookup, and the
// email log of an unknown collaboration is a 404 from the read model alone.
func TestStartAndEmailsSpareLookups(t *testing.T) {
	counter := &lookupCounter{Client: temporalClient}
	base := newAPI(t, func(cfg *api.Config) { cfg.Temporal = counter })
	campaign := newCampaign(t)
	body := fmt.Sprintf(`{"campaign_id":%q,"creator_id":%q}`, campaign, newCreator(t))
	// A well-formed ID of a pair never started.
	unknown := workflows.CollaborationID(campaign, newCreator(t))

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		maxLookups         int64
	}{
		{"new pair", "POST", "/v1/collaborations", body, 201, 0},
		{"same pair again", "POST", "/v1/collaborations", body, 200, 3},
		{"emails of no collaboration", "GET", "/v1/collaborations/" + unknown + "/emails", nil, 404, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counter.lookups.Load()
			must(t, tc.status, callAt(t, base, tc.method, tc.path, opsKey, tc.body))
			if n := counter.lookups.Load() - before; n > tc.maxLookups {
				t.Errorf("%d Temporal lookups, want at most %d", n, tc.maxLookups)
			}
		})
	}
}
