package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// changeRobust is the workflow.GetVersion change ID of the robustness rework: cancelled
// timers, signals applied before timer decisions, cancellable emails, escalations instead
// of failures, the live-check cadence and Continue-As-New in verifying. Runs recorded
// before it (no marker) keep the earlier commands.
const changeRobust = "robust-1"

// waitFor waits until cond holds or d has passed and reports whether cond held. It
// creates no timer when cond already holds or d is not positive, and cancels its timer when
// cond wins, so an early end leaves nothing to fire later. When the timer fires, outreach
// signals delivered in the same workflow task are applied first, in the order they
// happened: one that arrived before the deadline still wins. onTimeout, when set, runs
// before signals that arrived after the deadline are applied, so those are judged
// against what the timeout decided.
func (c *collaboration) waitFor(ctx workflow.Context, d time.Duration, cond func() bool, onTimeout func()) (bool, error) {
	if !c.v1 {
		ok, err := workflow.AwaitWithTimeout(ctx, d, cond)
		if err == nil && !ok && onTimeout != nil {
			onTimeout()
		}
		return ok, err
	}
	if cond() {
		return true, nil
	}
	if d <= 0 {
		if onTimeout != nil {
			onTimeout()
		}
		return false, nil
	}
	deadline := workflow.Now(ctx).Add(d)
	tctx, cancel := workflow.WithCancel(ctx)
	timer := workflow.NewTimer(tctx, d)
	if err := workflow.Await(ctx, func() bool { return cond() || timer.IsReady() }); err != nil {
		cancel()
		return false, err
	}
	if cond() {
		if !timer.IsReady() {
			cancel()
		}
		return true, nil
	}
	late := c.applyOutreachEventsUntil(ctx, deadline)
	if cond() {
		c.applyOutreachEvents(ctx, late)
		return true, nil
	}
	if onTimeout != nil {
		onTimeout()
	}
	c.applyOutreachEvents(ctx, late)
	return false, nil
}

// runUnless runs an activity and abandons it (cancelling it) when stop becomes true before
// it finishes; stopped reports that. An email waiting out a provider outage is thus
// dropped the moment a reply, stop event or cancel is accepted. The activity also asks the
// workflow right before it sends (QueryMaySend), which covers an attempt already running.
func (c *collaboration) runUnless(ctx workflow.Context, stop func() bool, activity, in, out any) (stopped bool, err error) {
	if !c.v1 {
		return false, workflow.ExecuteActivity(ctx, activity, in).Get(ctx, out)
	}
	if stop() {
		return true, nil
	}
	actx, cancel := workflow.WithCancel(ctx)
	f := workflow.ExecuteActivity(actx, activity, in)
	if err := workflow.Await(ctx, func() bool { return f.IsReady() || stop() }); err != nil {
		cancel()
		return false, err
	}
	if !f.IsReady() {
		cancel()
		return true, nil
	}
	return false, f.Get(ctx, out)
}
