package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/store"
)

// PaymentInput is finance's confirmation of a payout, as the collaboration accepted it.
type PaymentInput struct {
	PayoutID  string `json:"payout_id"`
	Reference string `json:"reference"`
	By        string `json:"by"`
}

// RecordPayment marks a ledger row paid with finance's reference once the collaboration
// has accepted the confirmation, so the ledger agrees with the workflow even when the API
// answered 202 and nobody repeated the request. A row already paid with this reference is
// left as it is; one paid with another reference is a conflict retrying cannot mend.
func (a *Activities) RecordPayment(ctx context.Context, in PaymentInput) error {
	if in.PayoutID == "" || in.Reference == "" {
		return temporal.NewNonRetryableApplicationError("payment without payout id or reference", "BadInput", nil)
	}
	_, err := a.Store.ConfirmPayout(ctx, in.PayoutID, in.Reference, in.By)
	var conflict *store.ConflictError
	if errors.As(err, &conflict) {
		return temporal.NewNonRetryableApplicationError(conflict.Error(), "Conflict", err)
	}
	return err
}
