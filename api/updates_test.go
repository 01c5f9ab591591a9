package api_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/collabflow/collabflow/api"
)

// signedCollaboration takes a new collaboration to in_production through the API: a
// reply, an offer with a kill fee, the offer accepted, the contract signed in the portal.
func signedCollaboration(t *testing.T) (id string) {
	t.Helper()
	id = start(t, newCampaign(t), newCreator(t))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{}`))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/offers", opsKey, map[string]any{"from": "brand", "terms": map[string]any{
		"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 1}},
		"currency":     "USD", "fixed_fee": 100000, "kill_fee": 30000, "disclosure_text": "#ad",
	}}))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/accept", opsKey, `{}`))
	b := newBrowser(t)
	if status, page := b.submit(linkIn(t, mailOf(t, id, "contract", 1)), url.Values{"name": {"Ada Lovelace"}, "agree": {"yes"}}); status != 200 {
		t.Fatalf("sign: %d %s", status, page)
	}
	waitForStage(t, id, "in_production")
	return id
}

// refusePayouts makes the payout provider refuse collaboration id's next n submissions
// for good (a closed account), and stop refusing when the test ends.
func refusePayouts(t *testing.T, id string, n int32) {
	t.Helper()
	payouts.aim(t, id)
	payouts.refusals.Store(n)
}

// TestAcceptedUpdateAnswers202AndApplies is M-4 with the escalation it meets: a cancel
// after signing owes a kill fee, which the payout provider refuses, so the collaboration
// waits for ops. The cancel was accepted, so the API answers 202 with the collaboration's
// URL once the update wait passes (not 500/503); the collaboration is listed as needing
// attention; ops resolve it with retry; the accepted cancel then completes, and a repeat
// with the same key is answered from that one cancel.
func TestAcceptedUpdateAnswers202AndApplies(t *testing.T) {
	id := signedCollaboration(t)
	fast := newAPI(t, func(cfg *api.Config) { cfg.UpdateWait = 300 * time.Millisecond })
	refusePayouts(t, id, 1)

	key := "cancel-" + id
	r := must(t, 202, callAt(t, fast, "POST", "/v1/collaborations/"+id+"/cancel", opsKey, `{"reason":"brand pulled out"}`, "Idempotency-Key", key))
	loc := "/v1/collaborations/" + id
	if r.str("status") != "accepted" || r.str("collaboration") != loc || r.Header.Get("Location") != loc || len(r.str("update_id")) != 64 {
		t.Fatalf("202 answer %s, Location %q", r.Raw, r.Header.Get("Location"))
	}

	// The refused kill fee waits for ops: in the state and in the list of attention.
	var item map[string]any
	eventually(t, "the collaboration listed as needing attention", func() bool {
		item = listed(t, "attention=true&creator_id="+creatorOf(t, id), id)
		return item != nil
	})
	at, _ := item["attention"].(map[string]any)
	if at == nil || !strings.Contains(at["reason"].(string), "payee account closed") || at["since"] == "" {
		t.Fatalf("listed attention %v", item)
	}
	if listed(t, "attention=false&creator_id="+creatorOf(t, id), id) != nil {
		t.Fatal("listed as needing no attention too")
	}
	// Settling the kill fee by hand needs a reason: the API says which field.
	if r := must(t, 422, call(t, "POST", loc+"/resolve", opsKey, `{"decision":"override"}`)); r.field("reason") == "" {
		t.Fatalf("override without a reason: %s", r.Raw)
	}
	resolved := must(t, 200, call(t, "POST", loc+"/resolve", opsKey, `{"decision":"retry"}`))
	if resolved.Body["attention"] != nil {
		t.Fatalf("attention after retry: %s", resolved.Raw)
	}

	// The accepted cancel applies once the retried kill fee is written.
	waitForStage(t, id, "cancelled")
	state := must(t, 200, call(t, "GET", loc, opsKey, nil))
	fees := state.Body["payouts"].([]any)
	if state.str("cancel_reason") != "brand pulled out" || len(fees) != 1 || fees[0].(map[string]any)["kind"] != "kill_fee" {
		t.Fatalf("after the accepted cancel: %s", state.Raw)
	}
	// A repeat with the same key is the same update: answered, not applied again.
	again := callAt(t, fast, "POST", loc+"/cancel", opsKey, `{"reason":"brand pulled out"}`, "Idempotency-Key", key)
	if again.Status != 200 || again.str("stage") != "cancelled" {
		t.Fatalf("repeat after 202: %d %s", again.Status, again.Raw)
	}
	waitForListed(t, "attention=false&creator_id="+creatorOf(t, id), id, "cancelled")
}

// listed returns the collaboration's item in the list for query, nil when it is not in it.
func listed(t *testing.T, query, id string) map[string]any {
	t.Helper()
	r := must(t, 200, call(t, "GET", "/v1/collaborations?"+query, opsKey, nil))
	for _, item := range r.Body["items"].([]any) {
		if m := item.(map[string]any); m["id"] == id {
			return m
		}
	}
	return nil
}

// creatorOf is the creator of a collaboration, from its state.
func creatorOf(t *testing.T, id string) string {
	t.Helper()
	return must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).str("creator_id")
}

// TestUpdateInFlightWhenWorkflowEnds is minor 6: an accepted cancel is waiting for ops (a
// refused kill fee) when the workflow is terminated (an operator in Temporal's UI). The
// server fails the update with its own AcceptedUpdateCompletedWorkflow failure; the API
// answers 409 in its own words.
func TestUpdateInFlightWhenWorkflowEnds(t *testing.T) {
	id := signedCollaboration(t)
	patient := newAPI(t, func(cfg *api.Config) { cfg.UpdateWait = 25 * time.Second })
	refusePayouts(t, id, 1)

	answer := make(chan response, 1)
	go func() {
		answer <- callAt(t, patient, "POST", "/v1/collaborations/"+id+"/cancel", opsKey, `{"reason":"stop"}`)
	}()
	eventually(t, "the cancel waiting for ops", func() bool {
		return must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Body["attention"] != nil
	})
	if err := temporalClient.TerminateWorkflow(context.Background(), id, "", "test: operator ends the run"); err != nil {
		t.Fatal(err)
	}
	var r response
	select {
	case r = <-answer:
	case <-time.After(20 * time.Second):
		t.Fatal("no answer after the workflow ended")
	}
	msg := r.str("error")
	if r.Status != 409 || msg == "" || strings.Contains(msg, "AcceptedUpdateCompletedWorkflow") || strings.Contains(msg, "Workflow Update") {
		t.Fatalf("update in flight when the workflow ended: %d %s", r.Status, r.Raw)
	}
}

// TestIdempotencyKeyIsScopedToTheCaller is the security review's M3: a creator submits a
// draft through the portal with "Idempotency-Key: cancel-<id>" (and an X-Request-ID of the
// same), and ops later cancel with that key: the collaboration is cancelled, because keys
// are scoped to the caller and the route, and X-Request-ID is never an update ID.
func TestIdempotencyKeyIsScopedToTheCaller(t *testing.T) {
	id := signedCollaboration(t)
	key := "cancel-" + id
	b := newBrowser(t)
	content := linkIn(t, mailOf(t, id, "brief", 1))
	status, page := b.submit(content, url.Values{"assets": {"https://cdn.example.com/a.jpg"}, "caption": {"#ad hello"}},
		"Idempotency-Key", key, "X-Request-ID", key)
	if status != 200 || !strings.Contains(page, "Draft received") {
		t.Fatalf("draft through the portal: %d %s", status, page)
	}
	waitForStage(t, id, "in_review")
	r := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/cancel", opsKey, `{"reason":"brand pulled out"}`,
		"Idempotency-Key", key, "X-Request-ID", key))
	if r.str("stage") != "cancelled" || r.str("cancel_reason") != "brand pulled out" {
		t.Fatalf("ops cancel with the creator's key: %s", r.Raw)
	}
}

// TestIdempotencyKeyReturnsTheFirstAnswer: a repeat with the same key and body gets the
// first answer verbatim, from PostgreSQL, so also from a restarted API and after the
// collaboration moved on (here: ended, where Temporal would refuse a new update); the same
// key with another body is a 422 naming the header.
func TestIdempotencyKeyReturnsTheFirstAnswer(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{}`))
	offer := `{"from":"creator","note":"two reels","terms":{"deliverables":[{"platform":"instagram","format":"reel","count":2}],"currency":"USD","fixed_fee":150000,"disclosure_text":"#ad"}}`
	first := must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/offers", opsKey, offer, "Idempotency-Key", "offer-1"))
	offers := first.Body["offers"].([]any)
	if last := offers[len(offers)-1].(map[string]any); last["note"] != "two reels" {
		t.Fatalf("offers after the counter-offer: %v", offers)
	}
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/cancel", opsKey, `{"reason":"done"}`))

	restarted := newAPI(t)
	for _, base := range []string{baseURL, restarted} {
		again := callAt(t, base, "POST", "/v1/collaborations/"+id+"/offers", opsKey, offer, "Idempotency-Key", "offer-1")
		if again.Status != 200 || string(again.Raw) != string(first.Raw) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("repeat at %s: %d %s\nfirst: %s", base, again.Status, again.Raw, first.Raw)
		}
	}
	other := strings.Replace(offer, "150000", "160000", 1)
	if r := must(t, 422, call(t, "POST", "/v1/collaborations/"+id+"/offers", opsKey, other, "Idempotency-Key", "offer-1")); r.field("Idempotency-Key") == "" {
		t.Fatalf("another body under the same key: %s", r.Raw)
	}
	// Another caller's same key is its own: the reviewer may not offer at all (403), and a
	// key on another route is another change (here refused by the ended collaboration).
	must(t, 403, call(t, "POST", "/v1/collaborations/"+id+"/offers", reviewerKey, offer, "Idempotency-Key", "offer-1"))
	must(t, 409, call(t, "POST", "/v1/collaborations/"+id+"/decline", opsKey, `{"reason":"x"}`, "Idempotency-Key", "offer-1"))
}

// TestIdempotencyKeyIsValidated: 1 to 200 printable ASCII characters, once.
func TestIdempotencyKeyIsValidated(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	for name, key := range map[string]string{"empty": "", "too long": strings.Repeat("k", 201), "not ASCII": "clé-1"} {
		t.Run(name, func(t *testing.T) {
			r := must(t, 400, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{}`, "Idempotency-Key", key))
			if r.field("Idempotency-Key") == "" {
				t.Fatalf("%q: %s", key, r.Raw)
			}
		})
	}
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{}`, "Idempotency-Key", strings.Repeat("k", 200)))
	if got := stageOf(t, id); got != "negotiating" {
		t.Fatalf("stage %s", fmt.Sprint(got))
	}
}

// abortingClient is the real Temporal client, except that the server aborts the next
// updates before the workflow sees them, as it does when the workflow task carrying an
// update fails (CI saw a decline answer 500 so).
type abortingClient struct {
	client.Client
	aborts atomic.Int32
	err    error
	calls  atomic.Int32
}

func (c *abortingClient) UpdateWorkflow(ctx context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	c.calls.Add(1)
	if c.aborts.Add(-1) >= 0 {
		return nil, c.err
	}
	return c.Client.UpdateWorkflow(ctx, opts)
}

func TestUpdateAbortedBeforeAcceptanceIsAskedAgain(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		aborts     int32
		wantStatus int
		wantStage  string
	}{
		{"task failed once", serviceerror.NewWorkflowNotReady("Unable to perform workflow execution update due to unexpected workflow task failure."), 1, 200, "declined"},
		{"busy twice", serviceerror.NewResourceExhausted(enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW, "workflow is busy"), 2, 200, "declined"},
		{"aborted every time", serviceerror.NewWorkflowNotReady("task failed"), 100, 503, "negotiating"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flaky := &abortingClient{Client: temporalClient, err: tc.err}
			base := newAPI(t, func(cfg *api.Config) { cfg.Temporal = flaky })
			id := start(t, newCampaign(t), newCreator(t))
			must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/replies", opsKey, `{}`))
			flaky.aborts.Store(tc.aborts)
			r := must(t, tc.wantStatus, callAt(t, base, "POST", "/v1/collaborations/"+id+"/decline", opsKey, `{"reason":"budget"}`))
			if tc.wantStatus == 503 && r.Header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After: %v", r.Header)
			}
			if tc.wantStatus == 200 && r.str("stage") != "declined" {
				t.Fatalf("answer %s", r.Raw)
			}
			if got := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).str("stage"); got != tc.wantStage {
				t.Fatalf("stage %q, want %q", got, tc.wantStage)
			}
			if want := min(tc.aborts+1, 5); flaky.calls.Load() != want {
				t.Fatalf("%d update calls, want %d", flaky.calls.Load(), want)
			}
		})
	}
}
