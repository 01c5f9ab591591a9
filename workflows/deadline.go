package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// changeOverdueAttention is the version from which a draft, review or posts past their
// deadline are an open escalation (CollaborationState.Attention, with the deadline in Due):
// waiting for ops in the state, the read model and the board, with an ops notice numbered
// by its event, until the creator or reviewer delivers, ops extend the deadline
// (UpdateExtendDeadline) or the collaboration ends. Runs whose deadline passed before it
// set the state's Escalation string and wait for the delivery only.
const changeOverdueAttention = "overdue-attention-1"

// Steps of the deadlines ops may extend, as Attention.Step names them.
const (
	StepDraftDeadline  = "draft_deadline"
	StepReviewDeadline = "review_deadline"
	StepPostDeadline   = "post_deadline"
)

// deadlineWait is the deadline the main coroutine is waiting out: the extension validator
// reads it, and an extension moves *due.
type deadlineWait struct {
	step string
	due  *time.Time
	// done reports that what the deadline waits for has come (or the collaboration ends).
	done func() bool
}

// pendingExtension is an accepted extension until the main coroutine applies it (applied)
// or finds it moot (why); its handler answers then.
type pendingExtension struct {
	req     ExtendRequest
	settled bool
	applied bool
	why     string
}

// overdueNotice is what ops are told when a deadline passes: the event kind, the ops
// email's key and subject, and the text.
type overdueNotice struct {
	kind, key, subject, text string
}

// waitOutcome is how a wait for a deadline ended.
type waitOutcome int

const (
	waitDone waitOutcome = iota
	waitExtended
	waitPassed
)

// waitDeadline waits until w is done, ops extend it (applied here), or d has passed.
func (c *collaboration) waitDeadline(ctx workflow.Context, w *deadlineWait, d time.Duration) (waitOutcome, error) {
	_, err := c.waitFor(ctx, d, func() bool { return w.done() || c.extension != nil }, nil)
	switch {
	case err != nil:
		return waitDone, err
	case w.done():
		return waitDone, nil
	case c.extension != nil:
		c.extend(ctx, w)
		return waitExtended, nil
	}
	return waitPassed, nil
}

// awaitOverdue opens the escalation of w's passed deadline and waits until it is done (the
// escalation is then resolved) or ops extend it (extended).
func (c *collaboration) awaitOverdue(ctx workflow.Context, w *deadlineWait, n overdueNotice, settled string) (extended bool, err error) {
	c.openAttention(ctx, Attention{Reason: truncate(n.text, MaxReasonLength), Step: w.step, Due: *w.due},
		Event{Kind: n.kind, Detail: n.text}, n.key, n.subject)
	if err := workflow.Await(ctx, func() bool { return w.done() || c.extension != nil }); err != nil {
		return false, err
	}
	if !w.done() {
		c.extend(ctx, w)
		return true, nil
	}
	if c.ending() {
		settled = "the collaboration is ending"
	}
	c.closeAttention(ctx, Event{Kind: EventResolved, Detail: w.step + ": " + settled})
	return false, nil
}

// extend applies the pending extension to w: the deadline moves By past the later of the
// deadline and now, an open overdue escalation ends, and the read model learns both.
func (c *collaboration) extend(ctx workflow.Context, w *deadlineWait) {
	p := c.extension
	c.extension = nil
	from := workflow.Now(ctx).UTC()
	if w.due.After(from) {
		from = *w.due
	}
	*w.due = from.Add(p.req.By.Std())
	p.settled, p.applied = true, true
	detail := fmt.Sprintf("%s extended by %s to %s", strings.ReplaceAll(w.step, "_", " "), p.req.By.Std(), w.due.Format("2006-01-02 15:04 MST"))
	if p.req.Reason != "" {
		detail += ": " + p.req.Reason
	}
	c.closeAttention(ctx, Event{Kind: EventDeadlineExtended, Actor: &p.req.Actor, Detail: detail})
}

// endDeadline closes the deadline's wait, ended as settled says: an extension accepted
// meanwhile is moot.
func (c *collaboration) endDeadline(settled string) {
	c.deadline = nil
	if p := c.extension; p != nil {
		c.extension = nil
		p.settled, p.why = true, settled+" first: nothing to extend"
		if c.ending() {
			p.why = "the collaboration is ending: nothing to extend"
		}
	}
}

// overdueAttention reports whether a deadline that passed opens an escalation
// (changeOverdueAttention); it is asked when the deadline passes.
func overdueAttention(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, changeOverdueAttention, workflow.DefaultVersion, 1) >= 1
}

// validateExtend accepts ops' extension of the deadline the collaboration waits out.
func (c *collaboration) validateExtend(req ExtendRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if req.Actor.Role != "ops" {
		return errors.New("only ops may extend a deadline")
	}
	if by := req.By.Std(); by < MinExtension || by > MaxExtension {
		return invalid(map[string]string{"by": fmt.Sprintf("a duration from %s to %s (90 days), such as \"72h\"", MinExtension, MaxExtension)})
	}
	if err := validateText("reason", req.Reason, false); err != nil {
		return err
	}
	w := c.deadline
	switch {
	case c.state.Stage.Terminal() || c.ending():
		return fmt.Errorf("collaboration is in %s: no deadline to extend", c.state.Stage)
	case w == nil:
		return fmt.Errorf("collaboration is in %s, which waits for no draft, review or post deadline", c.state.Stage)
	case w.done():
		return fmt.Errorf("the %s is met: nothing to extend", strings.ReplaceAll(w.step, "_", " "))
	case c.extension != nil:
		return errors.New("another extension is being applied")
	}
	return nil
}

// handleExtend hands the extension to the main coroutine and answers once it applied it.
func (c *collaboration) handleExtend(ctx workflow.Context, req ExtendRequest) (CollaborationState, error) {
	req.Reason = strings.TrimSpace(req.Reason)
	p := &pendingExtension{req: req}
	c.extension = p
	st, err := c.stateOnce(ctx, func() bool { return p.settled || c.state.Stage.Terminal() })
	switch {
	case err != nil:
		return st, err
	case !p.applied && p.why == "":
		return st, fmt.Errorf("the collaboration ended as %s before the extension", c.state.Stage)
	case !p.applied:
		return st, errors.New(p.why)
	}
	return st, nil
}
