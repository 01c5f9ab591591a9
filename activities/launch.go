package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/experiments"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
)

// Starter starts a collaboration's workflow for a launch; it reports a pair whose
// workflow already exists instead of failing. collabstart.Starter implements it.
type Starter interface {
	StartForLaunch(ctx context.Context, campaign campaigns.Campaign, creator roster.Creator, launchID, requestedBy string, arm Arm) (id string, existed bool, err error)
}

// Arm is the outreach A/B test arm a launch gives a collaboration: the experiment, the
// variant's name and its sequence. The zero Arm is the campaign's own sequence.
type Arm struct {
	Experiment string
	Variant    string
	Steps      int
}

// armFor assigns the launch's items to the open outreach test's variants in turn, by item
// number: balanced, and the same on every retry.
func armFor(test *experiments.Experiment, seq int) Arm {
	if test == nil || len(test.Variants) == 0 {
		return Arm{}
	}
	v := test.Variants[(seq-1)%len(test.Variants)]
	return Arm{Experiment: test.ID, Variant: v.Name, Steps: len(v.Sequence)}
}

// LaunchBatchInput names the next items of a launch: those after AfterSeq, at most Limit.
type LaunchBatchInput struct {
	LaunchID    string `json:"launch_id"`
	CampaignID  string `json:"campaign_id"`
	RequestedBy string `json:"requested_by"`
	AfterSeq    int    `json:"after_seq"`
	Limit       int    `json:"limit"`
}

// LaunchBatchResult counts what a batch did; LastSeq is where the next batch begins.
type LaunchBatchResult struct {
	LastSeq int  `json:"last_seq"`
	Started int  `json:"started"`
	Skipped int  `json:"skipped"`
	Failed  int  `json:"failed"`
	Done    bool `json:"done"`
}

// Why a launch skips a creator.
const (
	SkipNoCreator      = "no such creator"
	SkipErased         = "creator erased"
	SkipCollaborating  = "already collaborating in this campaign"
	skipSuppressedText = "address suppressed: "
)

// StartLaunchBatch starts the collaborations of the next items of a launch, in order, and
// records each item's outcome. It is safe to run again after a crash or a retry: an item
// already finished is counted and left alone, and an item whose start was attempted
// ("starting") and whose workflow exists was started by this launch. A creator who is
// gone, erased, suppressed or already collaborating in the campaign is skipped with the
// reason; a start Temporal refuses for this item alone (itemFault) fails that item with the
// reason. Only a failure to reach Temporal or PostgreSQL fails the batch, for Temporal to
// retry.
func (a *Activities) StartLaunchBatch(ctx context.Context, in LaunchBatchInput) (LaunchBatchResult, error) {
	res := LaunchBatchResult{LastSeq: in.AfterSeq}
	if in.Limit < 1 || in.Limit > store.MaxLaunch {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("batch limit %d", in.Limit), "BadInput", nil)
	}
	if a.Starter == nil {
		return res, temporal.NewNonRetryableApplicationError("no collaboration starter configured", "BadInput", nil)
	}
	campaign, err := a.Store.Campaign(ctx, in.CampaignID)
	if err != nil {
		return res, lookupError("campaign", err)
	}
	var test *experiments.Experiment
	if e, err := a.Store.OpenOutreachTest(ctx, in.CampaignID); err == nil {
		test = &e
	} else if !errors.Is(err, store.ErrNotFound) {
		return res, err
	}
	items, err := a.Store.LaunchItems(ctx, in.LaunchID, in.AfterSeq, in.Limit, "")
	if err != nil {
		return res, err
	}
	// Items are started launchConcurrency at a time: one start waits on PostgreSQL and on
	// Temporal's frontend, and one after another a launch of 1,000 took minutes. Each
	// item's outcome is recorded on its own, so a crash leaves nothing half-done in
	// whatever order they finished.
	// A failure does not cancel the others: each goes on to record what it did. The
	// attempt heartbeats while starts are slow.
	beat := startHeartbeat(ctx, heartbeatEvery, in.AfterSeq)
	defer beat.stop()
	var g errgroup.Group
	g.SetLimit(launchConcurrency)
	for i, it := range items {
		if it.Status != store.LaunchPending && it.Status != store.LaunchStarting {
			continue
		}
		g.Go(func() error {
			done, err := a.launchOne(ctx, in, campaign, it, armFor(test, it.Seq))
			if err != nil {
				return err
			}
			items[i] = done
			beat.set(done.Seq)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	for _, it := range items {
		switch it.Status {
		case store.LaunchStarted:
			res.Started++
		case store.LaunchSkipped:
			res.Skipped++
		case store.LaunchFailed:
			res.Failed++
		}
		res.LastSeq = it.Seq
	}
	res.Done = len(items) < in.Limit
	return res, nil
}

// launchConcurrency is how many items of a batch start at once.
const launchConcurrency = 16

// launchOne decides and records one item's outcome.
func (a *Activities) launchOne(ctx context.Context, in LaunchBatchInput, campaign campaigns.Campaign, it store.LaunchItem, arm Arm) (store.LaunchItem, error) {
	skip := func(reason string) (store.LaunchItem, error) {
		it.Status, it.Reason = store.LaunchSkipped, reason
		return it, a.Store.SetLaunchItem(ctx, in.LaunchID, it)
	}
	creator, err := a.Store.Creator(ctx, it.CreatorID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return skip(SkipNoCreator)
	case err != nil:
		return it, err
	case creator.ErasedAt != nil:
		return skip(SkipErased)
	}
	if sup, err := a.Store.Suppressed(ctx, creator.Email); err == nil {
		return skip(skipSuppressedText + sup.Reason)
	} else if !errors.Is(err, store.ErrNotFound) {
		return it, err
	}
	if it.Status == store.LaunchPending {
		// Someone else's collaboration (the API, an earlier launch) has its read-model row
		// from before its start; a row now, before this launch tried, is theirs.
		if exists, err := a.Store.CollaborationExists(ctx, campaign.ID, creator.ID); err != nil {
			return it, err
		} else if exists {
			return skip(SkipCollaborating)
		}
		it.Status = store.LaunchStarting
		if err := a.Store.MarkLaunchItemStarting(ctx, in.LaunchID, it.Seq); err != nil {
			return it, err
		}
	}
	id, existed, err := a.Starter.StartForLaunch(ctx, campaign, creator, in.LaunchID, in.RequestedBy, arm)
	if reason, ok := itemFault(err); ok {
		it.Status, it.Reason = store.LaunchFailed, "could not start: "+reason
		return it, a.Store.SetLaunchItem(ctx, in.LaunchID, it)
	}
	if err != nil {
		return it, err
	}
	// A workflow that exists for an item marked starting is this launch's own start from
	// an attempt that did not get to record it.
	it.Status, it.CollaborationID = store.LaunchStarted, id
	if existed {
		it.Reason = "started by an earlier attempt"
	}
	return it, a.Store.SetLaunchItem(ctx, in.LaunchID, it)
}

// itemFault reports whether a start's error concerns its item alone, so that no retry of
// the batch changes it, and why in words: Temporal refused the request itself (an input or
// search attribute over its limits) or the start refused its input. A failure to reach
// Temporal or PostgreSQL is not one: it fails the batch, for a retry.
func itemFault(err error) (string, bool) {
	var (
		invalid *serviceerror.InvalidArgument
		appErr  *temporal.ApplicationError
	)
	switch {
	case err == nil:
		return "", false
	case errors.As(err, &invalid):
		return FirstLine(invalid.Error()), true
	case errors.As(err, &appErr) && appErr.NonRetryable():
		return FirstLine(appErr.Message()), true
	}
	return "", false
}

// FinishLaunch records that a launch went through every item.
func (a *Activities) FinishLaunch(ctx context.Context, launchID string) error {
	return a.Store.FinishLaunch(ctx, launchID)
}

// FailLaunchRest marks what a launch could not start failed with the reason: the
// launch's workflow gave up on a batch that kept failing.
func (a *Activities) FailLaunchRest(ctx context.Context, launchID, reason string) error {
	return a.Store.FailPendingLaunchItems(ctx, launchID, reason)
}
