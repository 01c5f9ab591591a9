package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
)

// act runs one step that calls activities until it succeeds or ops decide otherwise. From
// changeRobust on, a refusal or an exhausted retry never fails the run: it becomes an
// escalation (escalate) and the step runs again when ops choose retry. overridden reports
// that ops chose to carry on without the step (only when overridable). When a person ends
// the collaboration meanwhile, act returns with no error and the caller sees ending().
func (c *collaboration) act(ctx workflow.Context, step string, overridable bool, run func() error) (overridden bool, err error) {
	return c.actUnless(ctx, step, overridable, nil, run)
}

// actUnless is act that gives up on the step, with no error, once settled holds (checked
// before each attempt and when an escalation ends): something else did what the step was
// for, such as finance confirming a payout that the provider refused. It then wins over
// a decision ops took at the same moment, so a retry never repeats a settled step.
func (c *collaboration) actUnless(ctx workflow.Context, step string, overridable bool, settled func() bool, run func() error) (overridden bool, err error) {
	c.overridden = nil
	if c.v1 && c.ending() && !c.finishing {
		return false, nil
	}
	done := func() bool { return settled != nil && settled() }
	for {
		if done() {
			return false, nil
		}
		err := run()
		if err == nil || !c.v1 {
			return false, err
		}
		if c.ending() && !c.finishing {
			return false, nil
		}
		var until func() bool
		if settled != nil {
			until = done
		}
		r, err := c.escalateFor(ctx, step, failureText(err), overridable, until)
		switch {
		case err != nil:
			return false, err
		case done():
			return false, nil
		case r != nil && r.Decision == ResolveRetry:
			continue
		}
		c.overridden = r
		return r != nil && r.Decision == ResolveOverride, nil
	}
}

// failureText is an activity failure in words for ops: the application error's message
// without the SDK's wrapping, else the error.
func failureText(err error) string {
	var appErr *temporal.ApplicationError
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &appErr):
		return appErr.Message()
	case errors.As(err, &timeout):
		return "gave up after retrying: " + strings.ToLower(timeout.TimeoutType().String())
	}
	return err.Error()
}

// escalate records that step needs ops (CollaborationState.Attention, an escalated event,
// the read model and an ops email) and waits for their decision: retry, override (when
// overridable), or an end (cancel or decline; ""). settled, when set, also ends the wait
// with no decision (a reply that makes a failed outreach email moot).
func (c *collaboration) escalate(ctx workflow.Context, step, reason string, overridable bool, settled func() bool) (string, error) {
	r, err := c.escalateFor(ctx, step, reason, overridable, settled)
	if r == nil {
		return "", err
	}
	return r.Decision, err
}

// escalateFor is escalate returning the whole decision (nil without one): who decided and why.
func (c *collaboration) escalateFor(ctx workflow.Context, step, reason string, overridable bool, settled func() bool) (*ResolveRequest, error) {
	reason = truncate(reason, MaxReasonLength)
	c.resolution = nil
	c.openAttention(ctx, Attention{Reason: reason, Step: step, Overridable: overridable},
		Event{Kind: EventEscalated, Detail: step + ": " + reason}, "attention", "Needs a decision: "+step)
	err := workflow.Await(ctx, func() bool {
		return c.resolution != nil || (c.ending() && !c.finishing) || (settled != nil && settled())
	})
	r, actor, detail := c.resolution, (*Actor)(nil), "settled"
	if r != nil {
		actor, detail = &r.Actor, r.Decision
		if r.Reason != "" {
			detail += ": " + r.Reason
		}
	} else if c.ending() {
		detail = "the collaboration is ending"
	}
	c.resolution = nil
	c.closeAttention(ctx, Event{Kind: EventResolved, Actor: actor, Detail: step + ": " + detail})
	return r, err
}

// openAttention opens the escalation at (since now): the state holds it, event e records
// it, the read model mirrors it and ops are emailed (key, numbered by the event, and
// subject), in that order.
func (c *collaboration) openAttention(ctx workflow.Context, at Attention, e Event, key, subject string) {
	at.Since = workflow.Now(ctx).UTC()
	c.state.Attention = &at
	e = c.record(ctx, e)
	c.publishAttention(ctx, e.Seq)
	c.notifyOps(ctx, fmt.Sprintf("%s/%d", key, e.Seq), subject, at.Reason)
}

// closeAttention ends the open escalation with event e (a decision, the wait settled, an
// extended deadline) and mirrors that to the read model.
func (c *collaboration) closeAttention(ctx workflow.Context, e Event) {
	c.state.Attention = nil
	e = c.record(ctx, e)
	c.publishAttention(ctx, e.Seq)
}

// publishAttention mirrors the open escalation (or its end) to the read model. It is best
// effort: the read model may be what failed, and the state holds the escalation anyway.
func (c *collaboration) publishAttention(ctx workflow.Context, seq int) {
	actx := workflow.WithActivityOptions(ctx, attentionOptions)
	if err := workflow.ExecuteActivity(actx, a.RecordStage, c.stageChange(seq)).Get(ctx, nil); err != nil {
		c.record(ctx, Event{Kind: EventReadModelStale, Detail: failureText(err)})
	}
}

// attentionOptions bound the read-model write of an escalation to a few minutes: it must
// not delay the ops email that follows.
var attentionOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: 3 * time.Minute,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// validateResolve accepts ops' decision on an open escalation.
func (c *collaboration) validateResolve(req ResolveRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if req.Actor.Role != "ops" {
		return errors.New("only ops may resolve an escalation")
	}
	if err := validateText("reason", req.Reason, req.Decision == ResolveOverride); err != nil {
		return err
	}
	at := c.state.Attention
	switch {
	case at == nil || c.resolution != nil:
		return errors.New("nothing waits for a decision")
	case !at.Due.IsZero():
		return invalid(map[string]string{"decision": fmt.Sprintf("the %s passed: extend the deadline or cancel", strings.ReplaceAll(at.Step, "_", " "))})
	case req.Decision == ResolveOverride && !at.Overridable:
		return invalid(map[string]string{"decision": fmt.Sprintf("%s cannot be skipped: retry or cancel", at.Step)})
	case req.Decision != ResolveRetry && req.Decision != ResolveOverride:
		return invalid(map[string]string{"decision": "retry or override"})
	}
	return nil
}

func (c *collaboration) handleResolve(ctx workflow.Context, req ResolveRequest) (CollaborationState, error) {
	req.Reason = strings.TrimSpace(req.Reason)
	c.resolution = &req
	open := c.state.Attention
	return c.stateOnce(ctx, func() bool { return c.state.Attention != open || c.state.Stage.Terminal() })
}

// maySend answers QueryMaySend: an activity asks it right before handing an email to the
// provider. Outreach emails go out only while the sequence runs; notices only while the
// collaboration is not ending and the reminder is still due.
func (c *collaboration) maySend(check activities.SendCheck) (activities.SendVerdict, error) {
	no := func(reason string) (activities.SendVerdict, error) {
		return activities.SendVerdict{Reason: reason}, nil
	}
	switch {
	case c.state.Stage.Terminal():
		return no(fmt.Sprintf("the collaboration ended as %s", c.state.Stage))
	case c.cancel != nil:
		return no("the collaboration is being cancelled")
	case c.decline != nil:
		return no("the collaboration is being declined")
	}
	switch check.Kind {
	case "outreach":
		if o := c.state.Outreach; c.state.Stage != StageOutreach || o.Status != OutreachRunning {
			return no("outreach ended: " + o.Status)
		}
		if c.paused() {
			return activities.SendVerdict{Paused: true, Reason: "outreach paused"}, nil
		}
	case activities.NoticeContractReminder:
		if k := c.state.Contract; k == nil || k.Signed != nil {
			return no("the contract is signed")
		}
		if c.state.Stage != StageContracting {
			// The contract expired: the collaboration is back in negotiating.
			return no("the contract is no longer out for signature")
		}
	case activities.NoticeDraftReminder:
		if c.pendingDraft || c.state.Stage != StageInProduction {
			return no("the draft has arrived")
		}
	case activities.NoticePostReminder:
		if len(c.state.Posts) >= c.state.PostsRequired {
			return no("every post has arrived")
		}
	}
	return activities.SendVerdict{Allowed: true}, nil
}
