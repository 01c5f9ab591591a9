package api_test

import (
	"fmt"
	"strings"
	"testing"
)

// refusedFee drives a collaboration to payout with its fee refused by the provider (the
// ledger row stays pending, ops are asked) and returns the collaboration and the row's id.
func refusedFee(t *testing.T) (id, payoutID string) {
	t.Helper()
	id = approvedCollaboration(t, map[string]any{"live_window": "2s", "verification_interval": "1s"})
	refusePayouts(t, id, 1000)
	code := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Body["attribution"].(map[string]any)["code"].(string)
	postURL, _ := postPage(t, id, code)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/posts", opsKey, fmt.Sprintf(`{"url":%q}`, postURL)))
	eventually(t, "the refused fee escalated, its row pending", func() bool {
		st := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Body
		at, _ := st["attention"].(map[string]any)
		items := must(t, 200, call(t, "GET", "/v1/payouts?collaboration_id="+id, financeKey, nil)).Body["items"].([]any)
		if at == nil || at["step"] != "payout_fee" || len(items) != 1 {
			return false
		}
		payoutID = items[0].(map[string]any)["id"].(string)
		return true
	})
	return id, payoutID
}

// ledgerRow is the collaboration's one payout row.
func ledgerRow(t *testing.T, id string) map[string]any {
	t.Helper()
	return must(t, 200, call(t, "GET", "/v1/payouts?collaboration_id="+id, financeKey, nil)).Body["items"].([]any)[0].(map[string]any)
}

// N-1 through the API: finance confirm the pending row of a refused fee while ops are
// asked. The confirmation settles the fee (200, the collaboration completes, the ledger
// row is paid with finance's reference) and ops' later override is refused with a 409.
func TestConfirmDuringAPayoutEscalationSettlesTheFee(t *testing.T) {
	id, payoutID := refusedFee(t)
	r := must(t, 200, call(t, "POST", "/v1/payouts/"+payoutID+"/confirm", financeKey, `{"reference":"BANK-42"}`))
	if r.str("status") != "paid" || r.str("reference") != "BANK-42" {
		t.Fatalf("confirmation: %s", r.Raw)
	}
	waitForStage(t, id, "completed")
	if row := ledgerRow(t, id); row["status"] != "paid" || row["reference"] != "BANK-42" {
		t.Fatalf("ledger row %v", row)
	}
	r = must(t, 409, call(t, "POST", "/v1/collaborations/"+id+"/resolve", opsKey, `{"decision":"override","reason":"paid by wire"}`))
	if r.str("error") == "" {
		t.Fatalf("override after the confirmation: %s", r.Raw)
	}
}

// N-1 the other way round: ops settle the refused fee by hand; the ledger row is marked paid
// with their reason, and finance's later confirmation with another reference is a 409 with
// a JSON body naming the reference.
func TestConfirmAfterTheFeeWasSettledByHandIsAConflict(t *testing.T) {
	id, payoutID := refusedFee(t)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/resolve", opsKey, `{"decision":"override","reason":"paid by wire W-1"}`))
	waitForStage(t, id, "completed")
	if row := ledgerRow(t, id); row["status"] != "paid" || !strings.Contains(row["reference"].(string), "paid by wire W-1") {
		t.Fatalf("ledger row after the override %v", row)
	}
	r := must(t, 409, call(t, "POST", "/v1/payouts/"+payoutID+"/confirm", financeKey, `{"reference":"BANK-42"}`))
	if !strings.Contains(r.field("reference"), "paid by wire W-1") {
		t.Fatalf("confirmation after the override: %s", r.Raw)
	}
	if row := ledgerRow(t, id); row["reference"] == "BANK-42" {
		t.Fatalf("the ledger took a second payment: %v", row)
	}
}
