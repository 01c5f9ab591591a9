package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
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
	st := storetest.New(t)
	var mu sync.Mutex
	status := map[string]int{"/ada.codes/rate-limited": 429, "/ada.codes/down": 503, "/ada.codes/gone": 404, "/ada.codes/fine": 200}
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ada.codes/slow" {
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
	collab := signedCollaboration(t, st, map[string]string{"instagram": "ada.codes"}, "instagram")
	acts := &activities.Activities{Store: st, Verifier: verify.NewFetcher(true, 500*time.Millisecond),
		PlatformHosts: platformHosts(t, "instagram="+strings.TrimPrefix(host.URL, "http://"))}
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
			v, err := env.ExecuteActivity(acts.VerifyPost, activities.VerifyPostInput{URL: host.URL + "/ada.codes" + tt.path, Expect: expect, CollaborationID: collab})
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

// signedCollaboration stores a creator with handles, a campaign, the collaboration's
// read-model row and its signed contract whose deliverables are on the platforms, under
// the ID given (or a new one), and returns the collaboration's ID.
func signedCollaboration(t *testing.T, st *store.Store, handles map[string]string, platforms ...string) string {
	return signedCollaborationID(t, st, "", handles, platforms...)
}

var seeded atomic.Int64

func signedCollaborationID(t *testing.T, st *store.Store, id string, handles map[string]string, platforms ...string) string {
	t.Helper()
	ctx := context.Background()
	n := seeded.Add(1)
	cr, err := st.CreateCreator(ctx, roster.Creator{Name: "Ada Lovelace", Email: fmt.Sprintf("ada%d@example.com", n), Timezone: "UTC", Handles: handles})
	if err != nil {
		t.Fatal(err)
	}
	cp := campaigns.Campaign{Name: fmt.Sprintf("Spring %d", n), Brand: "Acme", SenderEmail: "s@acme.test"}
	cp.ApplyDefaults()
	if cp, err = st.CreateCampaign(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if id == "" {
		id = fmt.Sprintf("collab-%s-%s", cp.ID, cr.ID)
	}
	if err := st.RecordCollaboration(ctx, store.Collaboration{ID: id, CampaignID: cp.ID, CreatorID: cr.ID, Stage: "verifying", StageSeq: 1, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if platforms == nil {
		return id // no contract
	}
	terms := contract.Terms{Currency: "USD", FixedFee: 1000, DisclosureText: "#ad"}
	for _, p := range platforms {
		terms.Deliverables = append(terms.Deliverables, contract.Deliverable{Platform: p, Format: "post", Count: 1})
	}
	raw, err := json.Marshal(terms)
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.SaveContract(ctx, store.Contract{CollaborationID: id, Version: 1, Terms: raw, HTML: "<p>terms</p>", SHA256: "x", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := st.SaveSignature(ctx, store.SignatureEvidence{ContractID: k.ID, CollaborationID: id, Name: "Ada Lovelace", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RecordSignature(ctx, k.ID, sig); err != nil {
		t.Fatal(err)
	}
	return id
}

func platformHosts(t *testing.T, s string) verify.PlatformHosts {
	t.Helper()
	h, err := verify.ParsePlatformHosts(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestVerifyPostChecksTheAgreedAccount: the activity reads the contract's platforms and
// the creator's handles from the database; a post elsewhere, or on someone else's account,
// fails platform_account, and the handle never appears in the report.
func TestVerifyPostChecksTheAgreedAccount(t *testing.T) {
	st := storetest.New(t)
	page := "<p>#ad new shoes, code ADA-7Q2</p>"
	var offHits atomic.Int64
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/p/authored" {
			fmt.Fprint(w, `<meta name="author" content="@ada.codes">`+page)
			return
		}
		fmt.Fprint(w, page)
	}))
	defer platform.Close()
	off := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		offHits.Add(1)
		fmt.Fprint(w, page)
	}))
	defer off.Close()
	acts := &activities.Activities{Store: st, Verifier: verify.NewFetcher(true, 2*time.Second),
		PlatformHosts: platformHosts(t, "instagram="+strings.TrimPrefix(platform.URL, "http://"))}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	probe := func(ctx context.Context) (string, error) { return activity.GetInfo(ctx).WorkflowExecution.ID, nil }
	env.RegisterActivityWithOptions(probe, activity.RegisterOptions{Name: "probe"})
	v, err := env.ExecuteActivity("probe")
	var workflowID string
	if err != nil || v.Get(&workflowID) != nil {
		t.Fatalf("probe: %v", err)
	}

	ada := map[string]string{"instagram": "ada.codes", "tiktok": "ada.tok"}
	tests := []struct {
		name     string
		collab   string // "" uses the workflow ID, as the collaboration workflow does
		url      string
		pass     bool
		evidence string
	}{
		{"handle in the address", signedCollaboration(t, st, ada, "instagram"), platform.URL + "/ada.codes/p/1", true, "in the post's address"},
		{"handle as the page's author", signedCollaboration(t, st, ada, "instagram"), platform.URL + "/p/authored", true, "author"},
		{"the collaboration from the workflow ID", "", platform.URL + "/ada.codes/p/1", true, ""},
		{"someone else's account", signedCollaboration(t, st, ada, "instagram"), platform.URL + "/bob/p/1", false, "not shown as the creator's account"},
		{"handle of another platform", signedCollaboration(t, st, ada, "instagram"), platform.URL + "/ada.tok/p/1", false, "not shown as the creator's account"},
		{"off the platform", signedCollaboration(t, st, ada, "instagram"), off.URL + "/ada.codes/p/1", false, "not on instagram"},
		{"no handle for the platform", signedCollaboration(t, st, map[string]string{"tiktok": "ada.tok"}, "instagram"), platform.URL + "/ada.codes/p/1", false, "no instagram handle on file"},
		{"no signed contract", signedCollaboration(t, st, ada), platform.URL + "/ada.codes/p/1", false, "names no platform"},
		{"unknown collaboration", "collab-unknown", platform.URL + "/ada.codes/p/1", false, "names no platform"},
	}
	signedCollaborationID(t, st, workflowID, ada, "tiktok", "instagram")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := env.ExecuteActivity(acts.VerifyPost, activities.VerifyPostInput{URL: tt.url, CollaborationID: tt.collab,
				Expect: verify.Expect{Disclosure: "#ad", Code: "ADA-7Q2"}})
			if err != nil {
				t.Fatal(err)
			}
			var r verify.Report
			if err := v.Get(&r); err != nil {
				t.Fatal(err)
			}
			var account verify.Check
			for _, c := range r.Checks {
				if c.Name == verify.CheckAccount {
					account = c
				}
			}
			if r.Passed != tt.pass || account.Passed != tt.pass || !strings.Contains(account.Evidence, tt.evidence) {
				t.Fatalf("report %+v, want passed %v with %q", r, tt.pass, tt.evidence)
			}
			if strings.Contains(account.Evidence, "ada.") {
				t.Errorf("the handle is in the evidence: %q", account.Evidence)
			}
		})
	}
	if n := offHits.Load(); n != 0 {
		t.Errorf("the off-platform host was fetched %d time(s)", n)
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
// names the code that was asked for, also on a retry. Generated codes are not made from
// the creator's handle (the security review's L-N3).
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
	if second.Requested != "SPRING10" || !strings.HasPrefix(second.Code, "SPRING-") || len(second.Code) != len("SPRING-")+6 ||
		!strings.HasSuffix(second.TrackingURL, "utm_content="+second.Code) {
		t.Fatalf("second: %+v, want a generated code from the campaign's name and the requested one named", second)
	}
	// A generated code and link are made from the campaign, never the creator's handle,
	// which would outlive the creator's erasure in posts, the history and the brand's shop.
	for _, s := range []string{second.Code, second.TrackingURL, assign("collab-third", "").Code} {
		if strings.Contains(strings.ToLower(s), "ada") {
			t.Fatalf("%q is made from the handle ada.codes", s)
		}
	}
	if again := assign("collab-second", "Spring10"); again != second {
		t.Fatalf("retry: %+v, first attempt %+v", again, second)
	}
}

// TestRecordPaymentOfARefusedPayout: a fee row the provider refused stays pending; finance's
// confirmation naming it (with the collaboration's id) marks it paid once and returns it, a
// row of another collaboration is refused, ops' settlement by kind finds the row itself,
// and a later payment with another reference is a conflict.
func TestRecordPaymentOfARefusedPayout(t *testing.T) {
	st := storetest.New(t)
	provider := &fakeProvider{err: &activities.PayoutRefused{Reason: "account closed"}}
	acts := &activities.Activities{Store: st, Payouts: provider}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	ctx := context.Background()
	terms := contract.Terms{Currency: "EUR", FixedFee: 50000}
	for _, id := range []string{"collab-refused", "collab-other"} {
		if _, err := env.ExecuteActivity(acts.CreatePayout, activities.PayoutInput{CollaborationID: id, Kind: activities.PayoutFee, Terms: terms}); err == nil {
			t.Fatal("the provider's refusal was not an error")
		}
	}
	rowOf := func(collab string) store.Payout {
		rows, _, err := st.Payouts(ctx, "", collab, "", 10)
		if err != nil || len(rows) != 1 {
			t.Fatalf("ledger of %s: %+v %v", collab, rows, err)
		}
		return rows[0]
	}
	mine, other := rowOf("collab-refused"), rowOf("collab-other")
	if mine.Status != store.PayoutPending {
		t.Fatalf("refused row %+v, want pending", mine)
	}
	record := func(in activities.PaymentInput) (store.Payout, error) {
		v, err := env.ExecuteActivity(acts.RecordPayment, in)
		if err != nil {
			return store.Payout{}, err
		}
		var p store.Payout
		return p, v.Get(&p)
	}
	var appErr *temporal.ApplicationError
	_, err := record(activities.PaymentInput{PayoutID: other.ID, Reference: "BANK-1", By: "fin", CollaborationID: "collab-refused", Kind: activities.PayoutFee})
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrNotThisPayout {
		t.Fatalf("another collaboration's row: %v, want %s", err, activities.ErrNotThisPayout)
	}
	if rowOf("collab-other").Status != store.PayoutPending {
		t.Fatal("another collaboration's row was marked paid")
	}
	for range 2 { // a retried activity changes nothing
		p, err := record(activities.PaymentInput{PayoutID: mine.ID, Reference: "BANK-1", By: "fin", CollaborationID: "collab-refused", Kind: activities.PayoutFee})
		if err != nil || p.ID != mine.ID || p.Status != store.PayoutPaid || p.Reference != "BANK-1" || p.Amount != 50000 {
			t.Fatalf("finance's confirmation: %+v %v", p, err)
		}
	}
	_, err = record(activities.PaymentInput{Reference: "settled outside collabflow: wire", By: "ops", CollaborationID: "collab-refused", Kind: activities.PayoutFee})
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrPaidOtherwise {
		t.Fatalf("a second settlement: %v, want %s", err, activities.ErrPaidOtherwise)
	}
	p, err := record(activities.PaymentInput{Reference: "settled outside collabflow: wire", By: "ops", CollaborationID: "collab-other", Kind: activities.PayoutFee})
	if err != nil || p.ID != other.ID || p.Reference != "settled outside collabflow: wire" {
		t.Fatalf("ops' settlement by kind: %+v %v", p, err)
	}
	p, err = record(activities.PaymentInput{Reference: "x", By: "ops", CollaborationID: "collab-none", Kind: activities.PayoutFee})
	if err != nil || p.ID != "" {
		t.Fatalf("a collaboration without a row: %+v %v, want nothing marked", p, err)
	}
}

// TestRightsNoticeAsksTheReadModel: an ops note with UnlessCancelled is stopped when the
// read model has the collaboration cancelled (or has none), and goes on otherwise.
func TestRightsNoticeAsksTheReadModel(t *testing.T) {
	st := storetest.New(t)
	acts := &activities.Activities{Store: st}
	ctx := context.Background()
	live := signedCollaboration(t, st, nil)
	cancelled := signedCollaboration(t, st, nil)
	row, err := st.Collaboration(ctx, cancelled)
	if err != nil {
		t.Fatal(err)
	}
	row.Stage, row.StageSeq, row.UpdatedAt = "cancelled", row.StageSeq+1, time.Now()
	if err := st.RecordCollaboration(ctx, row); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, want string
	}{{cancelled, activities.SendStopped}, {"collab-gone", activities.SendStopped}, {live, "skipped"}} {
		res, err := acts.NotifyOps(ctx, activities.OpsNoteInput{CollaborationID: tc.id, Key: "rights/usage-ended", Subject: "s", Text: "t", UnlessCancelled: true})
		if err != nil || res.Status != tc.want {
			t.Errorf("%s: %+v %v, want %s", tc.id, res, err, tc.want)
		}
	}
}
