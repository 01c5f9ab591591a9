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

	"github.com/collabflow/collabflow/store"
)

// CollaborationStore is the read model the workflows keep current.
type CollaborationStore interface {
	RecordCollaboration(ctx context.Context, c store.Collaboration) error
}

// Activities holds the dependencies of all activities.
type Activities struct {
	Collaborations CollaborationStore
}

// StageChange is one stage transition of a collaboration, numbered by Seq.
type StageChange struct {
	CollaborationID string    `json:"collaboration_id"`
	CampaignID      string    `json:"campaign_id"`
	CreatorID       string    `json:"creator_id"`
	Stage           string    `json:"stage"`
	Seq             int       `json:"seq"`
	At              time.Time `json:"at"`
}

// RecordStage writes a stage change to the read model. Its idempotency key is
// (CollaborationID, Seq): a retried or replayed change never moves the row backwards.
func (a *Activities) RecordStage(ctx context.Context, c StageChange) error {
	if c.CollaborationID == "" || c.Stage == "" || c.Seq <= 0 {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("stage change %+v is incomplete", c), "BadInput", nil)
	}
	err := a.Collaborations.RecordCollaboration(ctx, store.Collaboration{
		ID: c.CollaborationID, CampaignID: c.CampaignID, CreatorID: c.CreatorID,
		Stage: c.Stage, StageSeq: c.Seq, UpdatedAt: c.At,
	})
	if errors.Is(err, store.ErrNotFound) {
		// The campaign or creator row is gone: retrying cannot fix that.
		return temporal.NewNonRetryableApplicationError("record stage", "NotFound", err)
	}
	return err
}
