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
	_, confirmed, err := a.Store.ConfirmPayoutOnce(ctx, in.PayoutID, in.Reference, in.By)
	if confirmed {
		a.Metrics.payout("confirmed")
	}
	var conflict *store.ConflictError
	if errors.As(err, &conflict) {
		return temporal.NewNonRetryableApplicationError(conflict.Error(), "Conflict", err)
	}
	return err
}

// StopEmailInput names an email its collaboration abandoned before it went out.
type StopEmailInput struct {
	MessageKey string `json:"message_key"`
	Reason     string `json:"reason"`
}

// StopEmailResult says what the log knew of an email the workflow stopped.
type StopEmailResult struct {
	// WentOut is true when the log holds the email as sent already: an attempt whose
	// answer was lost did hand it to SendGrid, and SendGrid's events said so before the
	// stop. The workflow then counts it sent, not stopped.
	WentOut bool `json:"went_out,omitempty"`
}

// StopEmail marks a logged email stopped when the workflow cancelled its send between
// attempts (a reply or cancel during a provider outage): no later attempt runs to mark it,
// and the log must not say "sending" for ever. A row already sent, failed or stopped is
// left as it is, and a key never logged is nothing to mark.
func (a *Activities) StopEmail(ctx context.Context, in StopEmailInput) (StopEmailResult, error) {
	if in.MessageKey == "" {
		return StopEmailResult{}, temporal.NewNonRetryableApplicationError("stop email without a message key", "BadInput", nil)
	}
	stopped, err := a.Store.StopEmail(ctx, in.MessageKey, in.Reason)
	if err != nil {
		return StopEmailResult{}, err
	}
	if stopped {
		// The key alone does not say the email's kind; only outreach sends are cancelled
		// between attempts by a reply or cancel.
		a.Metrics.emailStopped("outreach")
		return StopEmailResult{}, nil
	}
	e, err := a.Store.EmailByKey(ctx, in.MessageKey)
	if errors.Is(err, store.ErrNotFound) {
		return StopEmailResult{}, nil
	} else if err != nil {
		return StopEmailResult{}, err
	}
	return StopEmailResult{WentOut: e.WentOut()}, nil
}
