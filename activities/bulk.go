package activities

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/store"
)

// Bulk actions on collaborations.
const (
	BulkPause  = "pause"
	BulkResume = "resume"
	BulkCancel = "cancel"
)

// BulkActions lists the bulk actions, for validation.
var BulkActions = []string{BulkPause, BulkResume, BulkCancel}

// Steerer applies one action to one collaboration's workflow as a workflow update with the
// given update ID, so that a retried batch cannot apply it twice. refusal is the
// collaboration's own "no" (ended, not in outreach, already paused), which is final;
// err is a failure to reach Temporal, for a retry. collabstart.Starter implements it.
type Steerer interface {
	Steer(ctx context.Context, collaborationID, updateID, action, reason, requestedBy string) (refusal string, err error)
}

// BulkBatchInput names the next items of a bulk action.
type BulkBatchInput struct {
	BulkID      string `json:"bulk_id"`
	Action      string `json:"action"`
	Reason      string `json:"reason,omitempty"`
	RequestedBy string `json:"requested_by"`
	AfterSeq    int    `json:"after_seq"`
	Limit       int    `json:"limit"`
}

// BulkBatchResult counts what a batch did; LastSeq is where the next one begins.
type BulkBatchResult struct {
	LastSeq int  `json:"last_seq"`
	Applied int  `json:"applied"`
	Refused int  `json:"refused"`
	Failed  int  `json:"failed"`
	Done    bool `json:"done"`
}

// DefaultBulkItemTimeout is how long a bulk action waits for one collaboration to accept
// its update when Activities.BulkItemTimeout is zero.
const DefaultBulkItemTimeout = 20 * time.Second

// ApplyBulkBatch applies a bulk action to the next items, in order, and records each
// collaboration's answer. The update ID of an item is the bulk action's ID and the item's
// number, so a retry after a crash (which finds the item still pending) is the same update
// and Temporal applies it once.
//
// One collaboration costs at most the per-item bound (BulkItemTimeout): one that does not
// accept its update by then (its workflow task keeps failing, it is over its update limits,
// Temporal cannot reach it) is recorded failed with why, and the batch goes on. Only a
// PostgreSQL error fails the batch. The attempt heartbeats while it waits, with what it
// has done, so a retried attempt goes on after the last item done; a batch that would run
// past its attempt's deadline stops early and the workflow's next batch goes on from there.
func (a *Activities) ApplyBulkBatch(ctx context.Context, in BulkBatchInput) (BulkBatchResult, error) {
	res := BulkBatchResult{LastSeq: in.AfterSeq}
	switch {
	case in.Limit < 1 || in.Limit > store.MaxBulk:
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("batch limit %d", in.Limit), "BadInput", nil)
	case !slices.Contains(BulkActions, in.Action):
		return res, temporal.NewNonRetryableApplicationError("unknown bulk action "+in.Action, "BadInput", nil)
	case a.Steerer == nil:
		return res, temporal.NewNonRetryableApplicationError("no collaboration steerer configured", "BadInput", nil)
	}
	var before BulkBatchResult
	if activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &before) == nil && before.LastSeq > in.AfterSeq {
		res = before
	}
	items, err := a.Store.BulkItems(ctx, in.BulkID, in.AfterSeq, in.Limit, "")
	if err != nil {
		return res, err
	}
	bound := a.BulkItemTimeout
	if bound <= 0 {
		bound = DefaultBulkItemTimeout
	}
	beat := startHeartbeat(ctx, min(heartbeatEvery, bound/3), res)
	defer beat.stop()
	deadline, moved := activity.GetInfo(ctx).Deadline, false
	for _, it := range items {
		if it.Seq <= res.LastSeq {
			continue // done by an earlier attempt
		}
		if it.Status == store.BulkPending {
			if moved && !deadline.IsZero() && time.Until(deadline) < bound+deadlineMargin {
				return res, nil // not Done: the next batch begins after res.LastSeq
			}
			it.Status, it.Result, err = a.steerItem(ctx, in, it, bound)
			if err != nil {
				return res, err
			}
			if err := a.Store.SetBulkItem(ctx, in.BulkID, it); err != nil {
				return res, err
			}
			moved = true
		}
		switch it.Status {
		case store.BulkApplied:
			res.Applied++
		case store.BulkRefused:
			res.Refused++
		case store.BulkFailed:
			res.Failed++
		}
		res.LastSeq = it.Seq
		beat.set(res)
	}
	res.Done = len(items) < in.Limit
	return res, nil
}

// heartbeatEvery is how often a batch heartbeats while one item keeps it waiting, at most:
// well inside the batch activities' one-minute heartbeat timeout, and a few times in one
// item's bound.
const heartbeatEvery = 5 * time.Second

// deadlineMargin is what a batch keeps before its attempt's deadline to record the last
// item and answer.
const deadlineMargin = 15 * time.Second

// steerItem applies the bulk action to one collaboration within bound and returns the
// item's outcome: applied, refused with the collaboration's words, or failed with why. A
// refusal to take the update now (a failing workflow task, a busy workflow, Temporal
// unreachable) is asked again until bound has passed. Only the end of the attempt itself
// is an error.
func (a *Activities) steerItem(ctx context.Context, in BulkBatchInput, it store.BulkItem, bound time.Duration) (string, string, error) {
	ictx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	updateID := fmt.Sprintf("bulk-%s-%d", in.BulkID, it.Seq)
	wait := 250 * time.Millisecond
	var why error // the last answer that was not the bound running out
	for {
		refusal, err := a.Steerer.Steer(ictx, it.CollaborationID, updateID, in.Action, in.Reason, in.RequestedBy)
		switch {
		case err == nil && refusal == "":
			return store.BulkApplied, "", nil
		case err == nil:
			return store.BulkRefused, refusal, nil
		case ctx.Err() != nil:
			return "", "", fmt.Errorf("%s %s: %w", in.Action, it.CollaborationID, ctx.Err())
		case ictx.Err() == nil:
			why = err
		}
		select {
		case <-ictx.Done():
		case <-time.After(wait):
			wait = min(2*wait, 2*time.Second)
			continue
		}
		if ctx.Err() != nil {
			return "", "", fmt.Errorf("%s %s: %w", in.Action, it.CollaborationID, ctx.Err())
		}
		reason := fmt.Sprintf("did not accept the update within %s; retry later", bound)
		if why != nil {
			reason += " (" + FirstLine(why.Error()) + ")"
		}
		return store.BulkFailed, reason, nil
	}
}

// FirstLine is a message's first line, bounded, as an item's result a person reads.
func FirstLine(msg string) string {
	msg, _, _ = strings.Cut(strings.TrimSpace(msg), "\n")
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// heartbeat records an activity's progress now and every interval until stopped, so that
// an attempt waiting on one slow item stays alive and a retried attempt reads where it was
// (activity.GetHeartbeatDetails).
type heartbeat struct {
	ctx     context.Context
	mu      sync.Mutex
	details any
	done    chan struct{}
	stopped chan struct{}
}

// startHeartbeat begins heartbeating details every interval.
func startHeartbeat(ctx context.Context, interval time.Duration, details any) *heartbeat {
	h := &heartbeat{ctx: ctx, details: details, done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(h.stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				h.record()
			}
		}
	}()
	return h
}

// set records new progress at once.
func (h *heartbeat) set(details any) {
	h.mu.Lock()
	h.details = details
	h.mu.Unlock()
	h.record()
}

// record heartbeats the latest details, one heartbeat at a time.
func (h *heartbeat) record() {
	h.mu.Lock()
	defer h.mu.Unlock()
	activity.RecordHeartbeat(h.ctx, h.details)
}

// stop ends the heartbeats and waits for the last one.
func (h *heartbeat) stop() {
	close(h.done)
	<-h.stopped
}

// FinishBulkAction records that a bulk action went through every item.
func (a *Activities) FinishBulkAction(ctx context.Context, bulkID string) error {
	return a.Store.FinishBulkAction(ctx, bulkID)
}

// FailBulkRest marks what a bulk action could not apply failed with the reason.
func (a *Activities) FailBulkRest(ctx context.Context, bulkID, reason string) error {
	return a.Store.FailPendingBulkItems(ctx, bulkID, reason)
}
