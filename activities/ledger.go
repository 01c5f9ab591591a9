package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/store"
)

// PaymentInput is finance's confirmation of a payout, as the collaboration accepted it, or
// ops' decision that a payout was settled outside collabflow.
type PaymentInput struct {
	PayoutID  string `json:"payout_id"`
	Reference string `json:"reference"`
	By        string `json:"by"`
	// CollaborationID and Kind, when set, name the row the payment must be: a payout id
	// that is another collaboration's, or another kind, is refused (ErrNotThisPayout).
	// Without PayoutID they find the row (ops settled it by hand and the workflow never
	// saw its id); when the collaboration has no such row there is nothing to mark.
	CollaborationID string `json:"collaboration_id,omitempty"`
	Kind            string `json:"kind,omitempty"`
}

// ErrNotThisPayout is the ApplicationError type of a payment naming a ledger row that is
// not the collaboration's payout of that kind.
const ErrNotThisPayout = "NotThisPayout"

// ErrPaidOtherwise is the ApplicationError type of a payment for a row already paid with
// another reference (the provider paid it, or ops settled it): retrying cannot mend it.
const ErrPaidOtherwise = "Conflict"

// RecordPayment marks a ledger row paid with finance's reference once the collaboration
// has accepted the confirmation, so the ledger agrees with the workflow even when the API
// answered 202 and nobody repeated the request. A row already paid with this reference is
// left as it is; one paid with another reference is a conflict retrying cannot mend. It
// returns the row as the ledger now holds it (empty when a lookup by kind found none).
func (a *Activities) RecordPayment(ctx context.Context, in PaymentInput) (store.Payout, error) {
	if in.Reference == "" || (in.PayoutID == "" && (in.CollaborationID == "" || in.Kind == "")) {
		return store.Payout{}, temporal.NewNonRetryableApplicationError("payment without payout id or reference", "BadInput", nil)
	}
	id := in.PayoutID
	if id == "" {
		row, err := a.payoutOfKind(ctx, in.CollaborationID, in.Kind)
		if err != nil || row.ID == "" {
			return row, err
		}
		id = row.ID
	} else if in.CollaborationID != "" {
		row, err := a.Store.PayoutByID(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Payout{}, err
		}
		if err != nil || row.CollaborationID != in.CollaborationID || (in.Kind != "" && row.Kind != in.Kind) {
			return store.Payout{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("payout %s is not this collaboration's %s", id, in.Kind), ErrNotThisPayout, err)
		}
	}
	p, confirmed, err := a.Store.ConfirmPayoutOnce(ctx, id, in.Reference, in.By)
	if confirmed {
		a.Metrics.payout("confirmed")
	}
	var conflict *store.ConflictError
	if errors.As(err, &conflict) {
		return store.Payout{}, temporal.NewNonRetryableApplicationError(conflict.Error(), ErrPaidOtherwise, err)
	}
	return p, err
}

// payoutOfKind is the collaboration's ledger row of kind; empty when it has none (a
// refusal before the row was written, such as bad metrics).
func (a *Activities) payoutOfKind(ctx context.Context, collaborationID, kind string) (store.Payout, error) {
	// A collaboration has at most a fee and a kill fee: one page holds them all.
	list, _, err := a.Store.Payouts(ctx, "", collaborationID, "", 10)
	if err != nil {
		return store.Payout{}, fmt.Errorf("payouts of %s: %w", collaborationID, err)
	}
	for _, p := range list {
		if p.Kind == kind {
			return p, nil
		}
	}
	return store.Payout{}, nil
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
