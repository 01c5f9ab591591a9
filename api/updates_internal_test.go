package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/workflows"
)

// TestUpdateFailureMapping is minor 6 without a server: input refusals are 422 naming
// fields; state refusals, handler failures after acceptance, a workflow that ended with the
// update in flight and an unknown update are 409 in the API's words.
func TestUpdateFailureMapping(t *testing.T) {
	s := &Server{}
	long := "first line " + strings.Repeat("é", 400) + "\nsecond line"
	tests := []struct {
		name    string
		err     error
		status  int
		want    string
		notWant string
	}{
		{"invalid input", temporal.NewApplicationError("bad", workflows.InvalidArgument, map[string]string{"reason": "required"}), 422, "reason", ""},
		{"invalid without fields", temporal.NewApplicationError("bad caption", workflows.InvalidArgument), 422, "bad caption", ""},
		{"transport failure stays internal", errors.New("connection reset"), 0, "", ""},
		{"handler failure", temporal.NewApplicationError("payout p1 is not this collaboration's fee", "wrapError"), 409, "not this collaboration's fee", ""},
		{"workflow ended with the update in flight", temporal.NewApplicationError("Workflow Update failed because the Workflow completed before the Update completed.", acceptedUpdateCompletedWorkflow), 409, "ended or moved on", "Workflow Update"},
		{"unknown update", temporal.NewApplicationError("unknown update resolve. KnownUpdates=[cancel offer]", ""), 409, "does not take resolve", "KnownUpdates"},
		{"cancelled handler", temporal.NewCanceledError(), 409, "stopped before", ""},
		{"long message", temporal.NewApplicationError(long, ""), 409, "first line", "second line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.updateFailure(context.Background(), "collab-x", "resolve", tt.err)
			var apiErr *Error
			if tt.status == 0 {
				if errors.As(err, &apiErr) {
					t.Fatalf("an unknown failure became %d %v", apiErr.Status, apiErr)
				}
				return
			}
			if !errors.As(err, &apiErr) || apiErr.Status != tt.status {
				t.Fatalf("got %v, want status %d", err, tt.status)
			}
			text := apiErr.Error()
			if !strings.Contains(text, tt.want) || (tt.notWant != "" && strings.Contains(text, tt.notWant)) {
				t.Fatalf("message %q, want %q and not %q", text, tt.want, tt.notWant)
			}
			if len(apiErr.Msg) > maxMessage+len("…") {
				t.Fatalf("message of %d bytes", len(apiErr.Msg))
			}
			if apiErr.Status == http.StatusUnprocessableEntity && len(apiErr.Fields) == 0 {
				t.Fatal("422 without fields")
			}
		})
	}
}

// stateClient answers the state query with a fixed state; nothing else is called.
type stateClient struct {
	client.Client
	state workflows.CollaborationState
}

func (c stateClient) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return stateValue{c.state}, nil
}

type stateValue struct{ st workflows.CollaborationState }

func (v stateValue) HasValue() bool { return true }
func (v stateValue) Get(ptr any) error {
	*ptr.(*workflows.CollaborationState) = v.st
	return nil
}

// A retry that an earlier run already applied (the workflow refuses it as AlreadyApplied
// after Continue-As-New) answers with the state, not a conflict; other refusals still map.
func TestAlreadyAppliedAnswersTheState(t *testing.T) {
	s := &Server{temporal: stateClient{state: workflows.CollaborationState{ID: "collab-x", Stage: workflows.StageLive, Run: 2}}}
	var st workflows.CollaborationState
	applied, err := s.appliedBefore(context.Background(), "collab-x", workflows.UpdateOverride,
		temporal.NewApplicationError("this request was already applied", workflows.AlreadyApplied), &st)
	if !applied || err != nil || st.Stage != workflows.StageLive || st.Run != 2 {
		t.Fatalf("applied %v, err %v, state %+v", applied, err, st)
	}
	applied, err = s.appliedBefore(context.Background(), "collab-x", workflows.UpdateOverride,
		temporal.NewApplicationError("collaboration is in payout: nothing to override", ""), &st)
	var apiErr *Error
	if applied || !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict {
		t.Fatalf("a refusal: applied %v, err %v", applied, err)
	}
}

// TestRightsNow: what the brand may still do with the content, as of a day.
func TestRightsNow(t *testing.T) {
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		rights *workflows.RightsState
		want   string
	}{
		{"none", nil, ""},
		{"open usage, open exclusivity", &workflows.RightsState{UsageUntil: now.Add(41*24*time.Hour + time.Hour), ExclusivityUntil: now.Add(3 * 24 * time.Hour)},
			"the brand may reuse the content until 11 April 2027 (41 days left); the creator works with no competitor until 4 March 2027"},
		{"ended usage, no exclusivity", &workflows.RightsState{UsageUntil: now.Add(-time.Hour)},
			"the brand's right to reuse the content ended on 1 March 2027"},
		{"exclusivity only, ended", &workflows.RightsState{ExclusivityUntil: now.Add(-48 * time.Hour)},
			"the terms grant no reuse of the content; exclusivity ended on 27 February 2027"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rightsNow(tt.rights, now)
			if (got == nil) != (tt.want == "") || (got != nil && got.Summary != tt.want) {
				t.Fatalf("got %+v, want %q", got, tt.want)
			}
		})
	}
}
