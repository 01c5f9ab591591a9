// Package activities holds every side effect a collaboration workflow causes. Each
// activity is a method on Activities, which carries its dependencies, and is idempotent:
// Temporal runs an activity at least once.
package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/experiments"
	"github.com/collabflow/collabflow/links"
	"github.com/collabflow/collabflow/mailer"
	"github.com/collabflow/collabflow/payout"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/verify"
)

// Store is the PostgreSQL side the activities read and write; *store.Store implements it.
type Store interface {
	RecordCollaboration(ctx context.Context, c store.Collaboration) error
	Creator(ctx context.Context, id string) (roster.Creator, error)
	Campaign(ctx context.Context, id string) (campaigns.Campaign, error)
	Suppressed(ctx context.Context, address string) (store.Suppression, error)
	ReplyToken(ctx context.Context, collaborationID string) (string, error)
	EmailByKey(ctx context.Context, key string) (store.Email, error)
	BeginEmail(ctx context.Context, e store.Email) (store.Email, error)
	MarkEmailSent(ctx context.Context, key, providerID string, at time.Time) (bool, error)
	MarkEmailFailed(ctx context.Context, key, reason string) error
	StopEmail(ctx context.Context, key, reason string) (bool, error)
	MarkSendAttempt(ctx context.Context, key string, at time.Time) error
	ClearSendAttempt(ctx context.Context, key string) error
	FirstProviderEvent(ctx context.Context, key string) (time.Time, error)
	SaveContract(ctx context.Context, c store.Contract) (store.Contract, error)
	SignedContract(ctx context.Context, collaborationID string) (store.Contract, error)
	Collaboration(ctx context.Context, id string) (store.Collaboration, error)
	RecordSignature(ctx context.Context, contractID, signatureID string) error
	AssignAttribution(ctx context.Context, collaborationID, wanted, prefix, trackingBase string) (store.Attribution, error)
	LatestMetrics(ctx context.Context, collaborationID string) (payout.Metrics, error)
	CreatePayoutOnce(ctx context.Context, p store.Payout) (store.Payout, bool, error)
	ConfirmPayoutOnce(ctx context.Context, id, reference, by string) (store.Payout, bool, error)
	PayoutByID(ctx context.Context, id string) (store.Payout, error)
	Payouts(ctx context.Context, status, collaborationID, after string, limit int) ([]store.Payout, string, error)
	LaunchItems(ctx context.Context, launchID string, afterSeq, limit int, status string) ([]store.LaunchItem, error)
	MarkLaunchItemStarting(ctx context.Context, launchID string, seq int) error
	SetLaunchItem(ctx context.Context, launchID string, it store.LaunchItem) error
	FailPendingLaunchItems(ctx context.Context, launchID, reason string) error
	FinishLaunch(ctx context.Context, id string) error
	CollaborationExists(ctx context.Context, campaignID, creatorID string) (bool, error)
	BulkItems(ctx context.Context, bulkID string, afterSeq, limit int, status string) ([]store.BulkItem, error)
	SetBulkItem(ctx context.Context, bulkID string, it store.BulkItem) error
	FailPendingBulkItems(ctx context.Context, bulkID, reason string) error
	FinishBulkAction(ctx context.Context, id string) error
	Experiment(ctx context.Context, campaignID, id string) (experiments.Experiment, error)
	OpenOutreachTest(ctx context.Context, campaignID string) (experiments.Experiment, error)
}

// Mailer sends one email and returns the provider's message ID; *mailer.SendGrid
// implements it.
type Mailer interface {
	Send(ctx context.Context, m mailer.Message) (string, error)
}

// Activities holds the dependencies of all activities.
type Activities struct {
	Store  Store
	Mailer Mailer
	// Links signs the unsubscribe links in emails.
	Links *links.Signer
	// PublicURL is where the API is reachable from the internet (for links in emails).
	PublicURL string
	// PostalAddress is the sender's postal address that CAN-SPAM requires in every email.
	PostalAddress string
	// ReplyDomain receives replies through SendGrid Inbound Parse: reply+<token>@ReplyDomain.
	ReplyDomain string
	// OpsEmail receives escalations and overdue notices; empty sends none.
	OpsEmail string
	// Verifier fetches published posts.
	Verifier Verifier
	// PlatformHosts are the domains each platform's posts live on; nil means
	// verify.DefaultPlatformHosts. A post passes only on its contract's platforms.
	PlatformHosts verify.PlatformHosts
	// Payouts pays ledger rows.
	Payouts PayoutProvider
	// Collaborations answers, right before an email to a creator is handed to the
	// provider, whether its collaboration still wants it: a reply, stop event or cancel
	// accepted while the send waited (a backlog, a provider outage, retries) stops it.
	// Nil asks nothing and sends; worker.Run refuses to start without it.
	Collaborations Collaborations
	// Starter starts collaborations for campaign launches; nil refuses launches.
	Starter Starter
	// Steerer applies bulk actions to collaborations; nil refuses bulk actions.
	Steerer Steerer
	// BulkItemTimeout bounds how long a bulk action waits for one collaboration to accept
	// its update before it records the item failed and goes on; zero means
	// DefaultBulkItemTimeout.
	BulkItemTimeout time.Duration
	// ProviderEventWait is how long a retry waits for SendGrid's events about an earlier
	// attempt whose answer was lost before it sends again; longer than webhook latency.
	// Zero means DefaultProviderEventWait.
	ProviderEventWait time.Duration
	// Metrics counts the side effects confirmed; nil counts nothing.
	Metrics *Metrics
}

// StageChange is one stage transition of a collaboration, numbered by Seq.
type StageChange struct {
	CollaborationID string    `json:"collaboration_id"`
	CampaignID      string    `json:"campaign_id"`
	CreatorID       string    `json:"creator_id"`
	Stage           string    `json:"stage"`
	Seq             int       `json:"seq"`
	At              time.Time `json:"at"`
	// Attention is the escalation open after this change, nil when none is.
	Attention *store.Attention `json:"attention,omitempty"`
	// DueAt is the deadline of the step the collaboration now waits for, zero when none.
	DueAt time.Time `json:"due_at,omitzero"`
	// OnHold is a payout hold; Fee and Currency the agreed fixed fee, once agreed.
	OnHold   bool   `json:"on_hold,omitempty"`
	Fee      int64  `json:"fee,omitempty"`
	Currency string `json:"currency,omitempty"`
}

// RecordStage writes a stage change to the read model. Its idempotency key is
// (CollaborationID, Seq): a retried or replayed change never moves the row backwards.
func (a *Activities) RecordStage(ctx context.Context, c StageChange) error {
	if c.CollaborationID == "" || c.Stage == "" || c.Seq <= 0 {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("stage change %+v is incomplete", c), "BadInput", nil)
	}
	err := a.Store.RecordCollaboration(ctx, store.Collaboration{
		ID: c.CollaborationID, CampaignID: c.CampaignID, CreatorID: c.CreatorID,
		Stage: c.Stage, StageSeq: c.Seq, UpdatedAt: c.At, Attention: c.Attention,
		DueAt: &c.DueAt, OnHold: c.OnHold, Fee: c.Fee, Currency: c.Currency,
	})
	if errors.Is(err, store.ErrNotFound) {
		// The campaign or creator row is gone: retrying cannot fix that.
		return temporal.NewNonRetryableApplicationError("record stage", "NotFound", err)
	}
	return err
}
