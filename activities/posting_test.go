package activities_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
	"github.com/collabflow/collabflow/verify"
)

// TestVerifyPostRetriesWhatCouldNotBeChecked: a post host that rate-limits, fails or times
// out gives a retryable PostUnreachable error carrying the report, so the workflow's
// bounded retry policy applies; a post that answers and fails a check is a result.
func TestVerifyPostRetriesWhatCouldNotBeChecked(t *testing.T) {
	var mu sync.Mutex
	status := map[string]int{"/rate-limited": 429, "/down": 503, "/gone": 404, "/fine": 200}
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		mu.Lock()
		code := status[r.URL.Path]
		mu.Unlock()
		w.WriteHeader(code)
		fmt.Fprint(w, "#ad new shoes, code ADA-7Q2")
	}))
	defer host.Close()
	acts := &activities.Activities{Verifier: verify.NewFetcher(true, 500*time.Millisecond)}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	expect := verify.Expect{Disclosure: "#ad", Code: "ADA-7Q2"}

	tests := []struct {
		path      string
		transient bool
		passed    bool
	}{
		{"/rate-limited", true, false},
		{"/down", true, false},
		{"/slow", true, false},
		{"/gone", false, false},
		{"/fine", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			v, err := env.ExecuteActivity(acts.VerifyPost, activities.VerifyPostInput{URL: host.URL + tt.path, Expect: expect})
			if tt.transient {
				var appErr *temporal.ApplicationError
				if !errors.As(err, &appErr) || appErr.Type() != activities.ErrPostUnreachable || appErr.NonRetryable() {
					t.Fatalf("got %v, want a retryable %s error", err, activities.ErrPostUnreachable)
				}
				var r verify.Report
				if err := appErr.Details(&r); err != nil || !r.Transient || !strings.HasPrefix(r.Checks[0].Evidence, "could not check") {
					t.Fatalf("details %+v %v, want the could-not-check report", r, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("a post that answered is a result, got %v", err)
			}
			var r verify.Report
			if err := v.Get(&r); err != nil {
				t.Fatal(err)
			}
			if r.Passed != tt.passed || r.Transient {
				t.Fatalf("report %+v, want passed %v", r, tt.passed)
			}
		})
	}
}

// fakeProvider is a payment provider that answers with the error it is given.
type fakeProvider struct {
	err       error
	submitted []string
}

func (f *fakeProvider) Name() string { return "fake" }

func (f *fakeProvider) Submit(_ context.Context, p store.Payout) (string, error) {
	f.submitted = append(f.submitted, p.IdempotencyKey)
	if f.err != nil {
		return "", f.err
	}
	return "ref-" + p.IdempotencyKey, nil
}

// TestCreatePayoutClassifiesProviderErrors: a permanent refusal is final (retrying a closed
// account every minute forever helps no one); a provider outage is retried; the ledger
// keeps one row under the payout's key throughout.
func TestCreatePayoutClassifiesProviderErrors(t *testing.T) {
	st := storetest.New(t)
	provider := &fakeProvider{}
	acts := &activities.Activities{Store: st, Payouts: provider}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	in := activities.PayoutInput{CollaborationID: "collab-pay", Kind: activities.PayoutFee,
		Terms: contract.Terms{Currency: "EUR", FixedFee: 50000}}
	pay := func() (store.Payout, error) {
		v, err := env.ExecuteActivity(acts.CreatePayout, in)
		if err != nil {
			return store.Payout{}, err
		}
		var p store.Payout
		return p, v.Get(&p)
	}

	provider.err = fmt.Errorf("wrapped: %w", &activities.PayoutRefused{Reason: "destination account closed"})
	_, err := pay()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrPayoutRefused || !appErr.NonRetryable() ||
		!strings.Contains(appErr.Error(), "destination account closed") {
		t.Fatalf("a refusal: %v, want a non-retryable %s error with the reason", err, activities.ErrPayoutRefused)
	}

	provider.err = errors.New("provider timed out")
	_, err = pay()
	if !errors.As(err, &appErr) || appErr.NonRetryable() {
		t.Fatalf("an outage: %v, want a retryable error", err)
	}

	provider.err = nil
	p, err := pay()
	if err != nil || p.Status != store.PayoutPaid || p.Reference != "ref-collab-pay/fee" || p.Amount != 50000 {
		t.Fatalf("after the outage: %+v %v", p, err)
	}
	rows, _, err := st.Payouts(context.Background(), "", "collab-pay", "", 10)
	if err != nil || len(rows) != 1 {
		t.Fatalf("ledger %+v %v, want one row", rows, err)
	}
	for _, key := range provider.submitted {
		if key != "collab-pay/fee" {
			t.Fatalf("submitted under %q", key)
		}
	}

	// Metrics the terms cannot be paid from stay a non-retryable BadMetrics.
	in.CollaborationID = "collab-bad-metrics"
	in.Terms.BonusTiers = []campaigns.BonusTier{{Metric: "vibes", Threshold: 1, Amount: 1}}
	_, err = pay()
	if !errors.As(err, &appErr) || appErr.Type() != "BadMetrics" || !appErr.NonRetryable() {
		t.Fatalf("bad metrics: %v", err)
	}
}

// TestAssignAttributionPicksAnotherCodeOnAClash: terms naming a code another collaboration
// holds do not fail the (signed) collaboration: it gets a generated code, and the result
// names the code that was asked for, also on a retry.
func TestAssignAttributionPicksAnotherCodeOnAClash(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	cr, err := st.CreateCreator(ctx, roster.Creator{Name: "Ada Lovelace", Email: "ada@example.com", Timezone: "UTC",
		Handles: map[string]string{"instagram": "ada.codes"}})
	if err != nil {
		t.Fatal(err)
	}
	cp := campaigns.Campaign{Name: "Spring", Brand: "Acme", SenderEmail: "s@acme.test", LandingURL: "https://acme.test/spring"}
	cp.ApplyDefaults()
	if cp, err = st.CreateCampaign(ctx, cp); err != nil {
		t.Fatal(err)
	}
	acts := &activities.Activities{Store: st}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	assign := func(collab, code string) store.Attribution {
		t.Helper()
		v, err := env.ExecuteActivity(acts.AssignAttribution, activities.AttributionInput{
			CollaborationID: collab, CampaignID: cp.ID, CreatorID: cr.ID, Code: code})
		if err != nil {
			t.Fatalf("assign %s to %s: %v", code, collab, err)
		}
		var a store.Attribution
		if err := v.Get(&a); err != nil {
			t.Fatal(err)
		}
		return a
	}

	first := assign("collab-first", "spring10")
	if first.Code != "SPRING10" || first.Requested != "" || !strings.HasSuffix(first.TrackingURL, "utm_content=SPRING10") {
		t.Fatalf("first: %+v", first)
	}
	second := assign("collab-second", "Spring10")
	if second.Requested != "SPRING10" || !strings.HasPrefix(second.Code, "ADACODES-") || !strings.HasSuffix(second.TrackingURL, "utm_content="+second.Code) {
		t.Fatalf("second: %+v, want a generated code and the requested one named", second)
	}
	if again := assign("collab-second", "Spring10"); again != second {
		t.Fatalf("retry: %+v, first attempt %+v", again, second)
	}
}
