package workflows

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/verify"
)

// assignAttribution fixes the discount code and tracking link before the brief names them.
func (c *collaboration) assignAttribution(ctx workflow.Context) error {
	var attr Attribution
	_, err := c.act(ctx, "assign_attribution", false, func() error {
		return workflow.ExecuteActivity(ctx, a.AssignAttribution, activities.AttributionInput{
			CollaborationID: c.state.ID, CampaignID: c.state.CampaignID, CreatorID: c.state.CreatorID, Code: c.state.AgreedTerms.DiscountCode,
		}).Get(ctx, &attr)
	})
	if err != nil || (c.v1 && c.ending()) {
		return wrap("assign attribution", err)
	}
	c.state.Attribution = &attr
	if attr.Requested != "" && !strings.EqualFold(attr.Requested, attr.Code) {
		c.record(ctx, Event{Kind: EventCodeReplaced, Detail: fmt.Sprintf("discount code %s is held by another collaboration: %s assigned instead", attr.Requested, attr.Code)})
	}
	return nil
}

// awaitPosts runs awaiting_post: the creator (portal) or ops submit each deliverable's live
// URL; a reminder goes out before the post deadline and ops hear when it passes.
func (c *collaboration) awaitPosts(ctx workflow.Context) error {
	all := func() bool { return len(c.state.Posts) >= c.state.PostsRequired || c.ending() }
	return c.awaitDeadline(ctx, StepPostDeadline, &c.state.PostsDue, c.input.Timings.PostDeadline.Std(), all,
		func() {
			c.notify(ctx, activities.NoticePostReminder, 1, c.state.PostsDue, "")
			c.record(ctx, Event{Kind: EventPostReminder, Detail: "posts due " + c.state.PostsDue.Format(time.RFC3339)})
		},
		func() overdueNotice {
			return overdueNotice{kind: EventPostOverdue, key: "post-overdue", subject: "Post overdue",
				text: fmt.Sprintf("%d of %d post(s) submitted by the deadline %s", len(c.state.Posts), c.state.PostsRequired, c.state.PostsDue.Format(time.RFC3339))}
		}, "every post arrived")
}

// expectPosts sets how many posts are due and by when, before awaiting_post begins, so
// that a post submitted at once is judged against them. The deadline is the end of the
// latest due date in the terms, else post_deadline after approval.
func (c *collaboration) expectPosts(ctx workflow.Context) {
	now := workflow.Now(ctx).UTC()
	c.state.PostsRequired = 0
	c.state.PostsDue = now.Add(c.input.Timings.PostDeadline.Std())
	var latest time.Time
	for _, d := range c.state.AgreedTerms.Deliverables {
		c.state.PostsRequired += d.Count
		// Terms were checked: a due date is a valid YYYY-MM-DD.
		if day, err := time.Parse(time.DateOnly, d.DueDate); err == nil && day.AddDate(0, 0, 1).After(latest) {
			latest = day.AddDate(0, 0, 1)
		}
	}
	if latest.After(now) {
		c.state.PostsDue = latest
	}
}

// awaitDeadline waits for done until the deadline *due of step: before it, it calls
// remind; after it, it tells ops what overdue says and keeps waiting, since people may
// still deliver late. Ops may extend the deadline meanwhile: the waiting timer is
// cancelled and the wait starts again for the new deadline. From changeOverdueAttention on
// the passed deadline is an open escalation until done (settled says how) or extended;
// before it the state's Escalation said so and only done ended the wait.
func (c *collaboration) awaitDeadline(ctx workflow.Context, step string, due *time.Time, span time.Duration, done func() bool,
	remind func(), overdue func() overdueNotice, settled string) error {
	w := &deadlineWait{step: step, due: due, done: done}
	c.deadline = w
	defer c.endDeadline(settled)
	reminded := false
	for {
		if !reminded {
			out, err := c.waitDeadline(ctx, w, due.Sub(workflow.Now(ctx))-reminderLead(span))
			if err != nil || out == waitDone {
				return err
			}
			if out == waitExtended {
				continue
			}
			remind()
			reminded = true
			if c.v1 && done() {
				return nil
			}
		}
		out, err := c.waitDeadline(ctx, w, due.Sub(workflow.Now(ctx)))
		if err != nil || out == waitDone {
			return err
		}
		if out == waitExtended {
			continue
		}
		n := overdue()
		if !overdueAttention(ctx) {
			c.deadline = nil
			c.state.Escalation = n.text
			c.record(ctx, Event{Kind: n.kind, Detail: n.text})
			c.notifyOps(ctx, n.key, n.subject, n.text)
			return workflow.Await(ctx, done)
		}
		if extended, err := c.awaitOverdue(ctx, w, n, settled); err != nil || !extended {
			return err
		}
	}
}

// verifyPosts runs verifying: every post is checked; failures are emailed to the creator
// and checked again each verification interval until they pass or ops override. From
// changeRobust on, a post host that cannot be reached (timeouts, DNS, 429, 5xx after the
// activity's retries) is not the creator's fault and emails nobody; after
// VerifyEscalateAfter checks in a row that did not pass, ops decide; and long loops
// continue as new like the live window.
func (c *collaboration) verifyPosts(ctx workflow.Context) error {
	if !c.v1 {
		return c.verifyPostsLegacy(ctx)
	}
	for {
		overridden := c.overrides
		failures, unreachable := c.checkPosts(ctx)
		if c.ending() {
			return nil
		}
		if len(failures) == 0 && len(unreachable) == 0 {
			c.state.VerifyFailures = 0
			return nil
		}
		c.state.VerifyAttempts++
		c.state.VerifyFailures++
		if len(failures) > 0 {
			// Ops see the evidence in the history; the creator is told what to fix in
			// words, never fetched bytes or addresses.
			c.record(ctx, Event{Kind: EventVerifyFailed, Detail: strings.Join(failures, "\n")})
			c.notify(ctx, activities.NoticeVerifyFailed, c.state.VerifyAttempts, time.Time{}, c.fixesForCreator())
		}
		if len(unreachable) > 0 {
			c.record(ctx, Event{Kind: EventVerifyUnreachable, Detail: strings.Join(unreachable, "\n")})
		}
		if c.state.VerifyFailures >= VerifyEscalateAfter {
			reason := fmt.Sprintf("%d checks in a row did not pass:\n%s", c.state.VerifyFailures, strings.Join(append(failures, unreachable...), "\n"))
			r, err := c.escalateFor(ctx, "verify_posts", reason, true, func() bool { return c.overrides != overridden })
			if err != nil || c.ending() {
				return err
			}
			c.state.VerifyFailures = 0
			if r != nil && r.Decision == ResolveOverride {
				c.acceptFailingPosts(ctx, *r)
			}
			continue
		}
		if _, err := c.waitFor(ctx, c.input.Timings.VerificationInterval.Std(),
			func() bool { return c.overrides != overridden || c.ending() }, nil); err != nil || c.ending() {
			return err
		}
		if c.historyFull(ctx) {
			if err := c.continueAsNew(ctx); err != nil {
				return err
			}
		}
	}
}

// VerifyEscalateAfter is how many checks in a row may fail (or find the post host
// unreachable) before ops are asked to decide.
const VerifyEscalateAfter = 3

// acceptFailingPosts applies ops' override of an escalation to every post that has not
// passed its latest check.
func (c *collaboration) acceptFailingPosts(ctx workflow.Context, r ResolveRequest) {
	for i := range c.state.Posts {
		p := &c.state.Posts[i]
		if p.Override != "" || (p.Verification != nil && p.Verification.Passed) {
			continue
		}
		p.Override = r.Reason
		c.overrides++
		c.record(ctx, Event{Kind: EventOverride, Actor: &r.Actor, Detail: fmt.Sprintf("post %d accepted: %s", p.N, r.Reason)})
	}
}

// verifyPostsLegacy is verifying as runs before changeRobust recorded it.
func (c *collaboration) verifyPostsLegacy(ctx workflow.Context) error {
	for attempt := 1; ; attempt++ {
		failures, unreachable := c.checkPosts(ctx)
		failures = append(failures, unreachable...)
		if len(failures) == 0 {
			return nil
		}
		detail := strings.Join(failures, "\n")
		c.record(ctx, Event{Kind: EventVerifyFailed, Detail: detail})
		c.notify(ctx, activities.NoticeVerifyFailed, attempt, time.Time{}, detail)
		overridden := c.overrides
		if _, err := c.waitFor(ctx, c.input.Timings.VerificationInterval.Std(),
			func() bool { return c.overrides != overridden || c.ending() }, nil); err != nil || c.ending() {
			return err
		}
	}
}

// verifyOptions give a post fetch its own timeout; failed checks are results, not retries.
// From changeRobust on, a post host that cannot be reached is retried for a few minutes.
var (
	legacyVerifyOptions = workflow.ActivityOptions{StartToCloseTimeout: time.Minute}
	verifyOptions       = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    10 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    4,
		},
	}
)

// checkPosts verifies every post not accepted by override and returns what failed, in
// words the creator can act on, and which posts could not be checked at all.
func (c *collaboration) checkPosts(ctx workflow.Context) (failures, unreachable []string) {
	opts := legacyVerifyOptions
	if c.v1 {
		opts = verifyOptions
	}
	for i := range c.state.Posts {
		p := &c.state.Posts[i]
		if p.Override != "" {
			continue
		}
		if c.v1 && c.ending() {
			return failures, unreachable
		}
		var v Verification
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.VerifyPost, activities.VerifyPostInput{
			URL: p.URL, Expect: c.expect(),
		}).Get(ctx, &v)
		if err != nil {
			if c.v1 {
				unreachable = append(unreachable, fmt.Sprintf("post %d (%s): could not be checked: %s", p.N, p.URL, failureText(err)))
			} else {
				failures = append(failures, fmt.Sprintf("post %d (%s): could not be checked: %v", p.N, p.URL, err))
			}
			continue
		}
		p.Verification = &v
		if c.v1 && p.Override != "" {
			// Ops accepted the post while it was being checked.
			continue
		}
		for _, ch := range v.Checks {
			if !ch.Passed {
				failures = append(failures, fmt.Sprintf("post %d (%s): %s failed: %s", p.N, p.URL, ch.Name, ch.Evidence))
			}
		}
	}
	return failures, unreachable
}

// fixesForCreator says, for each post whose latest check failed, what the creator must
// fix, in words: the check's evidence (statuses, fetched text, addresses) stays with ops.
func (c *collaboration) fixesForCreator() string {
	var lines []string
	for _, p := range c.state.Posts {
		if p.Override != "" || p.Verification == nil || p.Verification.Passed {
			continue
		}
		// A post on another site or account is the one thing to fix: what its page shows
		// does not count.
		offAccount := slices.ContainsFunc(p.Verification.Checks, func(ch PostCheck) bool { return ch.Name == verify.CheckAccount && !ch.Passed })
		for _, ch := range p.Verification.Checks {
			if ch.Passed || offAccount && ch.Name != verify.CheckAccount {
				continue
			}
			var fix string
			switch ch.Name {
			case verify.CheckAccount:
				fix = "the post must be published on your own account on " + c.agreedPlatforms() + ", as the contract names"
			case verify.CheckLive:
				fix = "we could not open the post: make sure it is published and public"
			case verify.CheckDisclosure:
				fix = fmt.Sprintf("the caption must show the disclosure %q (or #ad, #sponsored, Paid partnership) where people see it", c.state.AgreedTerms.DisclosureText)
			case verify.CheckLink:
				fix = "the post must carry your discount code or tracking link from the brief"
			default:
				fix = "the post does not meet the brief: reply to this email and we will help"
			}
			lines = append(lines, fmt.Sprintf("post %d (%s): %s", p.N, p.URL, fix))
		}
	}
	return strings.Join(lines, "\n")
}

// agreedPlatforms lists the platforms of the agreed deliverables in words.
func (c *collaboration) agreedPlatforms() string {
	var names []string
	if c.state.AgreedTerms != nil {
		for _, d := range c.state.AgreedTerms.Deliverables {
			if !slices.Contains(names, d.Platform) {
				names = append(names, d.Platform)
			}
		}
	}
	switch len(names) {
	case 0:
		return "the agreed platform"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func (c *collaboration) expect() verify.Expect {
	e := verify.Expect{Disclosure: c.state.AgreedTerms.DisclosureText}
	if c.state.Attribution != nil {
		e.TrackingURL, e.Code = c.state.Attribution.TrackingURL, c.state.Attribution.Code
	}
	return e
}

// changeReadModelHold is the version from which a payout hold set or released by a live
// check is written to the read model at once, for ops' pipeline.
const changeReadModelHold = "read-model-hold"

// publishHold mirrors a payout hold set or released by event e to the read model. Runs
// recorded before changeReadModelHold wrote it only with the next stage change.
func (c *collaboration) publishHold(ctx workflow.Context, e Event) {
	if workflow.GetVersion(ctx, changeReadModelHold, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	c.publishAttention(ctx, e.Seq)
}

// liveWindow re-verifies the posts until the live window ends. A post taken down or
// stripped of its disclosure puts the payout on hold and alerts ops; a later pass releases
// it. From changeRobust on, checks follow the campaign's cadence (LiveChecks, then every
// LiveCheckEvery, and at the window's end) and, while a hold is open, every verification
// interval; a post host that stays unreachable is escalated. Long windows continue as new
// runs, carrying the state, so that history stays bounded.
func (c *collaboration) liveWindow(ctx workflow.Context) error {
	for {
		now := workflow.Now(ctx)
		left := c.state.LiveUntil.Sub(now)
		if left <= 0 {
			return nil
		}
		wait := min(left, c.input.Timings.VerificationInterval.Std())
		if c.v1 && c.state.Hold == "" {
			wait = c.nextLiveCheck(now).Sub(now)
		}
		if _, err := c.waitFor(ctx, wait, c.ending, nil); err != nil || c.ending() {
			return err
		}
		failures, unreachable := c.checkPosts(ctx)
		if c.v1 && c.ending() {
			return nil
		}
		switch {
		case len(failures) > 0 && c.state.Hold == "":
			c.state.Hold = strings.Join(failures, "\n")
			c.publishHold(ctx, c.record(ctx, Event{Kind: EventHold, Detail: c.state.Hold}))
			c.notifyOps(ctx, fmt.Sprintf("hold/%d", len(c.state.Events)), "Payout on hold: live post check failed", c.state.Hold)
		case len(failures) == 0 && len(unreachable) == 0 && c.state.Hold != "":
			c.state.Hold = ""
			c.publishHold(ctx, c.record(ctx, Event{Kind: EventHoldReleased, Detail: "every post passes its checks again"}))
		}
		if c.v1 {
			if err := c.liveUnreachable(ctx, unreachable); err != nil || c.ending() {
				return err
			}
		}
		if c.historyFull(ctx) {
			if err := c.continueAsNew(ctx); err != nil {
				return err
			}
		}
	}
}

// liveUnreachable counts live checks in a row that could not reach the post host and asks
// ops to decide after VerifyEscalateAfter of them: retry checks, or carry on (override).
func (c *collaboration) liveUnreachable(ctx workflow.Context, unreachable []string) error {
	if len(unreachable) == 0 {
		c.state.VerifyFailures = 0
		return nil
	}
	c.state.VerifyFailures++
	detail := strings.Join(unreachable, "\n")
	c.record(ctx, Event{Kind: EventVerifyUnreachable, Detail: detail})
	if c.state.VerifyFailures < VerifyEscalateAfter {
		return nil
	}
	c.state.VerifyFailures = 0
	_, err := c.escalateFor(ctx, "live_check", fmt.Sprintf("%d live checks in a row could not reach the post:\n%s", VerifyEscalateAfter, detail), true, nil)
	return err
}

// nextLiveCheck is when the next live check is due after now: the campaign's LiveChecks
// offsets from the start of the window, then every LiveCheckEvery, and never after the
// window's end.
func (c *collaboration) nextLiveCheck(now time.Time) time.Time {
	t := c.input.Timings
	from := c.state.LiveUntil.Add(-t.LiveWindow.Std())
	checks := slices.Sorted(slices.Values(t.LiveChecks))
	if t.LiveChecks == nil {
		checks = campaigns.DefaultLiveChecks()
	}
	every := t.LiveCheckEvery.Std()
	if every <= 0 {
		every = campaigns.DefaultTimings().LiveCheckEvery.Std()
	}
	var last time.Duration
	for _, off := range checks {
		if at := from.Add(off.Std()); at.After(now) {
			return minTime(at, c.state.LiveUntil)
		}
		last = max(last, off.Std())
	}
	at := from.Add(last)
	for !at.After(now) {
		at = at.Add(every)
	}
	return minTime(at, c.state.LiveUntil)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// historyFull reports that the run should continue as new: at the configured length, or
// (from changeRobust on) when the server suggests it, for instance by size.
func (c *collaboration) historyFull(ctx workflow.Context) bool {
	limit := c.input.ContinueAsNewAfter
	if limit <= 0 {
		limit = DefaultContinueAsNewAfter
	}
	info := workflow.GetInfo(ctx)
	return info.GetCurrentHistoryLength() >= limit || (c.v1 && info.GetContinueAsNewSuggested())
}

// continueAsNew starts a fresh run in the same stage with the state so far, once every
// signal is applied and every update handler has finished. From changeRobust on it never
// waits for a handler that waits for the main coroutine (a cancel, a decision): it returns
// nil instead, and the caller's loop acts on what the handler asked and tries again later.
func (c *collaboration) continueAsNew(ctx workflow.Context) error {
	c.drainOutreachEvents(ctx)
	if c.v1 {
		err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) || c.blocked > 0 || c.ending() })
		if err != nil || c.ending() || !workflow.AllHandlersFinished(ctx) {
			return err
		}
	} else if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	c.record(ctx, Event{Kind: EventContinuedAsNew, Detail: fmt.Sprintf("run %d continues as run %d", c.state.Run, c.state.Run+1)})
	next := c.input
	state := c.state
	next.Resume = &state
	next.AppliedUpdates = c.applied
	return workflow.NewContinueAsNewError(ctx, CollaborationWorkflow, next)
}

// changePayoutSettle is the version from which the fee is settled whatever order finance
// and ops act in: a confirmation of the ledger row while the workflow has not seen it (the
// provider refused it and ops were asked, or the payout activity is still running) is
// judged by the main coroutine and, when taken, written to the ledger and ends the
// escalation, and no provider payout follows it; ops' override of a payout marks its
// ledger row paid with their reason, so that nobody pays it again. Runs recorded before it
// keep the earlier commands.
const changePayoutSettle = "payout-settle-1"

// pay runs the payout stage: once no hold is open, the fee goes to the ledger and the
// collaboration completes when finance confirm it.
func (c *collaboration) pay(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return c.state.Hold == "" || c.ending() }); err != nil || c.ending() {
		return err
	}
	if c.settle {
		return c.settleFee(ctx)
	}
	p, err := c.createPayout(ctx, activities.PayoutFee)
	if err != nil {
		return err
	}
	if p.ID == "" {
		if r := c.overridden; r != nil && !c.ending() {
			// Ops settled the fee outside collabflow (or waived it), with their reason.
			c.confirmed = &PayoutConfirmation{Actor: r.Actor, Reference: "settled outside collabflow: " + r.Reason}
		}
		return nil
	}
	if p.Status == "paid" {
		c.confirmed = &PayoutConfirmation{Actor: system, PayoutID: p.ID, Reference: p.Reference}
		return nil
	}
	if err := workflow.Await(ctx, func() bool { return c.confirmed != nil || c.ending() }); err != nil || c.confirmed == nil || !c.v1 {
		return err
	}
	return c.recordPayment(ctx)
}

// recordPayment writes finance's confirmation to the ledger: the ledger follows the workflow.
func (c *collaboration) recordPayment(ctx workflow.Context) error {
	conf := c.confirmed
	_, err := c.act(ctx, "record_payment", true, func() error {
		return workflow.ExecuteActivity(ctx, a.RecordPayment, activities.PaymentInput{
			PayoutID: conf.PayoutID, Reference: conf.Reference, By: conf.Actor.Name,
		}).Get(ctx, nil)
	})
	return err
}

// settleFee is pay from changePayoutSettle on. Finance may confirm the fee's ledger row
// before the workflow knows it (feeOffer): the payout activity is then abandoned or its
// escalation ends, the confirmation goes to the ledger, and the fee is settled by it. A
// confirmation that comes too late (the provider paid, ops settled it) is refused.
func (c *collaboration) settleFee(ctx workflow.Context) error {
	// Whatever settled the fee, a confirmation still waiting for a judgement is refused.
	defer c.refuseFeeOffer("")
	offered := func() bool { return c.feeOffer != nil }
	for {
		p, err := c.createPayoutUnless(ctx, activities.PayoutFee, offered)
		if err != nil || c.ending() {
			return err
		}
		if c.feeOffer == nil {
			break
		}
		if p.ID != "" {
			// The payout came back in the same moment as the confirmation.
			if p.Status == store.PayoutPaid || p.ID != c.feeOffer.PayoutID {
				break // judged below, like any confirmation of a known row
			}
			c.acceptFeeOffer(ctx)
			return c.recordPayment(ctx)
		}
		taken, err := c.takeFeeOffer(ctx)
		if err != nil || taken {
			return err
		}
		// Refused (not this collaboration's fee, or paid otherwise): the fee is still
		// owed, so the payout runs again and, if refused again, ops are asked again.
	}
	if off := c.feeOffer; off != nil {
		fee := c.feePayout()
		switch {
		case fee.Status == store.PayoutPaid:
			c.refuseFeeOffer(fmt.Sprintf("the fee was already paid (payout %s, reference %q)", fee.ID, fee.Reference))
		case fee.ID != off.PayoutID:
			c.refuseFeeOffer(fmt.Sprintf("payout %s is not this collaboration's fee", off.PayoutID))
		default:
			c.acceptFeeOffer(ctx)
		}
	}
	fee := c.feePayout()
	switch {
	case c.confirmed != nil:
	case fee == nil:
		if r := c.overridden; r != nil {
			return c.settleByHand(ctx, activities.PayoutFee, r)
		}
		return nil
	case fee.Status == store.PayoutPaid:
		c.confirmed = &PayoutConfirmation{Actor: system, PayoutID: fee.ID, Reference: fee.Reference}
		return nil
	}
	if err := workflow.Await(ctx, func() bool { return c.confirmed != nil || c.ending() }); err != nil || c.confirmed == nil {
		return err
	}
	return c.recordPayment(ctx)
}

// acceptFeeOffer takes finance's confirmation of a fee row the workflow knows.
func (c *collaboration) acceptFeeOffer(ctx workflow.Context) {
	c.confirmed, c.feeOffer = c.feeOffer, nil
	fee := c.feePayout()
	fee.Status, fee.Reference = store.PayoutPaid, c.confirmed.Reference
}

// takeFeeOffer writes finance's confirmation of a fee row the workflow never saw to the
// ledger, which checks that the row is this collaboration's fee and still pending. taken
// reports that the confirmation settled the fee; otherwise it was refused.
func (c *collaboration) takeFeeOffer(ctx workflow.Context) (taken bool, err error) {
	off := c.feeOffer
	var (
		row     store.Payout
		refusal string
	)
	_, err = c.act(ctx, "record_payment", true, func() error {
		err := workflow.ExecuteActivity(ctx, a.RecordPayment, activities.PaymentInput{
			PayoutID: off.PayoutID, Reference: off.Reference, By: off.Actor.Name,
			CollaborationID: c.state.ID, Kind: activities.PayoutFee,
		}).Get(ctx, &row)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && (appErr.Type() == activities.ErrNotThisPayout || appErr.Type() == activities.ErrPaidOtherwise) {
			refusal = appErr.Message()
			return nil
		}
		return err
	})
	if err != nil {
		return false, err
	}
	if refusal != "" {
		c.refuseFeeOffer(refusal)
		c.record(ctx, Event{Kind: EventPayoutRefused, Actor: &off.Actor, Detail: "confirmation of payout " + off.PayoutID + " refused: " + refusal})
		return false, nil
	}
	// Taken (also when ops overrode a failing ledger write: they answered for it).
	c.confirmed, c.feeOffer = off, nil
	if row.ID != "" {
		c.addPayout(ctx, row)
	}
	return true, nil
}

// settleByHand marks the ledger row of a payout ops settled outside collabflow (override
// with their reason) paid, so that finance do not see it owed and pay it again; the fee is
// then settled by it. A collaboration with no such row has nothing to mark.
func (c *collaboration) settleByHand(ctx workflow.Context, kind string, r *ResolveRequest) error {
	ref := "settled outside collabflow: " + r.Reason
	var (
		row     store.Payout
		already string
	)
	_, err := c.act(ctx, "record_payment", true, func() error {
		err := workflow.ExecuteActivity(ctx, a.RecordPayment, activities.PaymentInput{
			Reference: ref, By: r.Actor.Name, CollaborationID: c.state.ID, Kind: kind,
		}).Get(ctx, &row)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == activities.ErrPaidOtherwise {
			already = appErr.Message()
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if already != "" {
		c.record(ctx, Event{Kind: EventPayoutCreated, Actor: &r.Actor, Detail: kind + " payout was already paid in the ledger: " + already})
	}
	if row.ID != "" {
		c.addPayout(ctx, row)
	}
	if !c.finishing {
		c.confirmed = &PayoutConfirmation{Actor: r.Actor, PayoutID: row.ID, Reference: ref}
	}
	return nil
}

// addPayout puts a ledger row the workflow learnt of late into the state.
func (c *collaboration) addPayout(ctx workflow.Context, row store.Payout) {
	p := PayoutState{ID: row.ID, Kind: row.Kind, Currency: row.Currency, Amount: row.Amount, Status: row.Status, Reference: row.Reference}
	c.state.Payouts = append(c.state.Payouts, p)
	c.record(ctx, Event{Kind: EventPayoutCreated, Detail: fmt.Sprintf("%s payout %s of %s, %s, reference %q", p.Kind, p.ID, contract.Money(p.Currency, p.Amount), p.Status, p.Reference)})
}

// refuseFeeOffer answers a confirmation still waiting for a judgement with why it was
// refused; "" says the fee was settled otherwise.
func (c *collaboration) refuseFeeOffer(why string) {
	if c.feeOffer == nil {
		return
	}
	if why == "" {
		why = "the fee was settled otherwise"
		if k := c.confirmed; k != nil {
			why += fmt.Sprintf(" (reference %q)", k.Reference)
		}
	}
	c.feeOffer, c.feeRefusal = nil, why
}

// payoutOptions fit a payment provider: an outage is retried for an hour with backoff; a
// refusal (closed account, bad metrics) is not retried. Either then waits for ops.
var payoutOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    10 * time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Minute,
	},
}

// createPayout writes a payout of kind to the ledger. The returned row has no ID when the
// collaboration ended before it could be written.
func (c *collaboration) createPayout(ctx workflow.Context, kind string) (PayoutState, error) {
	return c.createPayoutUnless(ctx, kind, nil)
}

// createPayoutUnless is createPayout that abandons the payout (a running attempt, a retry,
// an escalation) once settled holds; the row then has no ID.
func (c *collaboration) createPayoutUnless(ctx workflow.Context, kind string, settled func() bool) (PayoutState, error) {
	var p PayoutState
	pctx := ctx
	if c.v1 {
		pctx = workflow.WithActivityOptions(ctx, payoutOptions)
	}
	in := activities.PayoutInput{CollaborationID: c.state.ID, Kind: kind, Terms: *c.state.AgreedTerms}
	// A payout that cannot be written may be settled by hand: ops override with a reason
	// (paid outside collabflow, waived); otherwise a refused kill fee would hold a cancel.
	overridden, err := c.actUnless(ctx, "payout_"+kind, true, settled, func() error {
		if settled != nil {
			_, err := c.runUnless(pctx, settled, a.CreatePayout, in, &p)
			return err
		}
		return workflow.ExecuteActivity(pctx, a.CreatePayout, in).Get(ctx, &p)
	})
	if err != nil {
		return p, fmt.Errorf("create %s payout: %w", kind, err)
	}
	if overridden && c.finishing {
		// A kill fee (or the fee owed on a cancel after the posts went live) that ops
		// settled by hand; settleFee does the same for the fee in payout.
		if workflow.GetVersion(ctx, changePayoutSettle, workflow.DefaultVersion, 1) >= 1 && c.v1 {
			return p, c.settleByHand(ctx, kind, c.overridden)
		}
	}
	if p.ID == "" {
		return p, nil
	}
	c.state.Payouts = append(c.state.Payouts, p)
	c.record(ctx, Event{Kind: EventPayoutCreated, Detail: fmt.Sprintf("%s payout %s of %s, %s", kind, p.ID, contract.Money(p.Currency, p.Amount), p.Status)})
	return p, nil
}

// killFee pays the contract's kill fee when the brand cancels after signing and before
// the fee itself is owed. Cancelling before signing pays nothing.
func (c *collaboration) killFee(ctx workflow.Context) error {
	if c.cancel == nil || c.state.Contract == nil || c.state.Contract.Signed == nil || c.state.AgreedTerms == nil || c.state.AgreedTerms.KillFee <= 0 {
		return nil
	}
	for _, p := range c.state.Payouts {
		if p.Kind == activities.PayoutFee || p.Kind == activities.PayoutKillFee {
			return nil
		}
	}
	kind := activities.PayoutKillFee
	if c.v1 && !c.state.LiveUntil.IsZero() {
		// The posts went live: the creator delivered, so the fee is owed, not a kill fee.
		kind = activities.PayoutFee
	}
	_, err := c.createPayout(ctx, kind)
	return err
}

func (c *collaboration) validatePost(req PostRequest) error {
	if req.Actor != nil {
		if err := validateActor(*req.Actor); err != nil {
			return err
		}
	}
	if c.state.Stage != StageAwaitingPost || c.ending() || len(c.state.Posts) >= c.state.PostsRequired {
		return fmt.Errorf("collaboration is in %s, not waiting for posts", c.state.Stage)
	}
	u, err := url.Parse(strings.TrimSpace(req.URL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(req.URL) > 2000 {
		return invalid(map[string]string{"url": "must be the http(s) link of the live post"})
	}
	for _, p := range c.state.Posts {
		if p.URL == strings.TrimSpace(req.URL) {
			return invalid(map[string]string{"url": fmt.Sprintf("already submitted as post %d", p.N)})
		}
	}
	return nil
}

func (c *collaboration) handlePost(ctx workflow.Context, req PostRequest) (CollaborationState, error) {
	p := Post{N: len(c.state.Posts) + 1, URL: strings.TrimSpace(req.URL), SubmittedAt: workflow.Now(ctx).UTC(), SubmittedBy: req.Actor}
	c.state.Posts = append(c.state.Posts, p)
	c.record(ctx, Event{Kind: EventPostSubmitted, Actor: req.Actor, Detail: fmt.Sprintf("post %d of %d: %s", p.N, c.state.PostsRequired, p.URL)})
	return c.state, nil
}

func (c *collaboration) validateOverride(req OverrideRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if req.Actor.Role != "ops" {
		return fmt.Errorf("only ops may override verification")
	}
	if err := validateText("reason", req.Reason, true); err != nil {
		return err
	}
	if req.Post == 0 {
		if c.state.Hold == "" {
			return fmt.Errorf("there is no payout hold to release")
		}
		return nil
	}
	if c.state.Stage != StageVerifying && c.state.Stage != StageLive {
		return fmt.Errorf("collaboration is in %s: nothing to override", c.state.Stage)
	}
	if req.Post < 1 || req.Post > len(c.state.Posts) {
		return invalid(map[string]string{"post": fmt.Sprintf("from 1 to %d", len(c.state.Posts))})
	}
	return nil
}

func (c *collaboration) handleOverride(ctx workflow.Context, req OverrideRequest) (CollaborationState, error) {
	reason := strings.TrimSpace(req.Reason)
	if req.Post == 0 {
		c.state.Hold = ""
		c.record(ctx, Event{Kind: EventHoldReleased, Actor: &req.Actor, Detail: reason})
		return c.state, nil
	}
	c.state.Posts[req.Post-1].Override = reason
	c.overrides++
	c.record(ctx, Event{Kind: EventOverride, Actor: &req.Actor, Detail: fmt.Sprintf("post %d accepted: %s", req.Post, reason)})
	return c.state, nil
}

// validateConfirm accepts finance's confirmation in payout. It may arrive before the
// workflow has seen the ledger row its activity wrote (finance list the row as soon as it
// is stored, and a row the provider refused stays pending while ops are asked); the
// handler then waits for the workflow to judge it (changePayoutSettle) or for the row.
func (c *collaboration) validateConfirm(req PayoutConfirmation) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	switch {
	case c.confirmed != nil:
		return fmt.Errorf("the fee is already settled (reference %q): this confirmation is refused", c.confirmed.Reference)
	case c.state.Stage != StagePayout || c.ending():
		return fmt.Errorf("collaboration is in %s, not waiting for a payout", c.state.Stage)
	case c.feeOffer != nil:
		return fmt.Errorf("a confirmation of payout %s is being recorded", c.feeOffer.PayoutID)
	}
	if fee := c.feePayout(); fee != nil && fee.ID != req.PayoutID {
		return fmt.Errorf("payout %s is not this collaboration's fee", req.PayoutID)
	}
	return nil
}

func (c *collaboration) handleConfirm(ctx workflow.Context, req PayoutConfirmation) (CollaborationState, error) {
	if c.settle && c.feePayout() == nil {
		return c.offerConfirm(ctx, &req)
	}
	// Before changePayoutSettle: wait for the row; the run may also settle the fee
	// otherwise (ops' override) or end, and then nothing will come.
	if err := c.awaitMain(ctx, func() bool { return c.feePayout() != nil || c.ending() || c.confirmed != nil }); err != nil {
		return CollaborationState{}, err
	}
	if k := c.confirmed; k != nil {
		return CollaborationState{}, fmt.Errorf("the fee was settled otherwise (reference %q): this confirmation is refused", k.Reference)
	}
	if fee := c.feePayout(); fee == nil || fee.ID != req.PayoutID {
		return CollaborationState{}, fmt.Errorf("payout %s is not this collaboration's fee", req.PayoutID)
	}
	c.confirmed = &req
	if c.v1 {
		fee := c.feePayout()
		fee.Status, fee.Reference = "paid", req.Reference
	}
	return c.stateOnce(ctx, func() bool { return c.state.Stage.Terminal() })
}

// offerConfirm hands finance's confirmation of a fee row the workflow has not seen to the
// main coroutine (settleFee) and answers with its judgement: the state once the
// collaboration completes with it, or a refusal (the fee was settled otherwise).
func (c *collaboration) offerConfirm(ctx workflow.Context, req *PayoutConfirmation) (CollaborationState, error) {
	c.feeOffer, c.feeRefusal = req, ""
	if err := c.awaitMain(ctx, func() bool { return c.feeOffer != req }); err != nil {
		return CollaborationState{}, err
	}
	if c.confirmed != req {
		why := c.feeRefusal
		if c.feeOffer == req {
			// The run ended before judging it.
			c.feeOffer = nil
			why = fmt.Sprintf("the collaboration ended as %s without taking this payment", c.state.Stage)
		}
		return CollaborationState{}, temporal.NewApplicationError(why+": this confirmation is refused", PayoutSettledOtherwise)
	}
	return c.stateOnce(ctx, func() bool { return c.state.Stage.Terminal() })
}

// PayoutSettledOtherwise is the error type of a confirmation refused because the fee was
// settled otherwise (the provider paid it, ops settled it by hand) or the row is not this
// collaboration's fee; the API answers 409.
const PayoutSettledOtherwise = "PayoutSettledOtherwise"

// feePayout is the fee's ledger row once the payout activity has returned it.
func (c *collaboration) feePayout() *PayoutState {
	for i := range c.state.Payouts {
		if c.state.Payouts[i].Kind == activities.PayoutFee {
			return &c.state.Payouts[i]
		}
	}
	return nil
}
