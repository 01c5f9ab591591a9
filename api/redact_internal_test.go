package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/workflows"
)

// TestRedactErasedLeavesNoHandle: an erased creator's state with failed and unreachable
// checks, a hold, an escalation, an override, a replaced code and review comments quoting
// the caption shows the handle nowhere, and keeps the record (stages, kinds, post numbers,
// checks' names and verdicts).
func TestRedactErasedLeavesNoHandle(t *testing.T) {
	const handle = "zq7handle"
	url := "https://instagram.test/" + handle + "/p/1"
	failure := "post 1 (" + url + "): platform_account failed: the page is not on @" + handle + "'s account"
	unreachable := "post 1 (" + url + "): could not be checked: verify " + url + ": timeout"
	st := workflows.CollaborationState{
		Stage:       workflows.StageLive,
		AgreedTerms: &contract.Terms{DiscountCode: handle + "10"},
		Offers:      []workflows.Offer{{N: 1, Terms: contract.Terms{DiscountCode: handle + "10"}, Note: "code " + handle + "10 ok"}},
		Drafts: []workflows.Draft{{N: 1, Assets: []string{"https://cdn.test/" + handle + "/a.mp4"}, Caption: "#ad by @" + handle,
			Review: &workflows.Review{Decision: "changes", Comments: `drop "#ad by @` + handle + `"`}}},
		Attribution: &workflows.Attribution{Code: "ZQ7HANDLE-AB12", TrackingURL: "https://acme.test/?utm_source=" + handle, Requested: handle + "10"},
		Posts: []workflows.Post{{N: 1, URL: url, Override: "accepted " + url,
			Verification: &workflows.Verification{Checks: []workflows.PostCheck{{Name: "platform_account", Evidence: "not on @" + handle}}}}},
		Hold:       failure,
		Escalation: "3 checks in a row did not pass:\n" + unreachable,
		Attention:  &workflows.Attention{Reason: "3 checks in a row did not pass:\n" + failure + "\n" + unreachable, Step: "verify_posts"},
		Events: []workflows.Event{
			{Kind: workflows.EventPostSubmitted, Detail: "post 1 of 1: " + url},
			{Kind: workflows.EventCodeReplaced, Detail: "discount code " + handle + "10 is held by another collaboration: ZQ7HANDLE-AB12 assigned instead"},
			{Kind: workflows.EventVerifyFailed, Detail: failure + "\n" + unreachable},
		},
	}
	st.Approved = &workflows.Draft{N: 1, Assets: []string{"https://cdn.test/" + handle + "/a.mp4"}, Caption: "#ad by @" + handle}
	redactErased(&st)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if shown := strings.ToLower(string(b)); strings.Contains(shown, handle) {
		t.Fatalf("the handle is shown after redaction:\n%s", b)
	}
	for _, kept := range []string{`"platform_account"`, `"kind":"verification_failed"`, "post 1: [erased]", "post 1 of 1: [erased]", "3 checks in a row did not pass"} {
		if !strings.Contains(string(b), kept) {
			t.Errorf("the record lost %s:\n%s", kept, b)
		}
	}
}
