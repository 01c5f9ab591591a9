package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
)

// sendOptions run email sends on their own, rate-limited task queue. SendGrid outages are
// retried with backoff for a day; after that the step fails and ops decide.
var sendOptions = workflow.ActivityOptions{
	TaskQueue:              EmailTaskQueue,
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    5 * time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Minute,
	},
}

// noticeQueueOptions are sendOptions on the notice task queue: a contract or a brief is on the
// collaboration's critical path and must not wait for bulk outreach's rate limit.
var noticeQueueOptions = func() workflow.ActivityOptions {
	o := sendOptions
	o.TaskQueue = NoticeTaskQueue
	return o
}()

// changeNoticeQueue is the version from which notices run on NoticeTaskQueue; runs
// recorded before it sent them on EmailTaskQueue.
const changeNoticeQueue = "notice-queue"

// noticeOptions are the activity options of a notice or an ops notice: the notice task
// queue from changeNoticeQueue on, the email task queue before.
func (c *collaboration) noticeOptions(ctx workflow.Context) workflow.ActivityOptions {
	if workflow.GetVersion(ctx, changeNoticeQueue, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return sendOptions
	}
	return noticeQueueOptions
}

// windowOptions bound a send-window lookup: it reads the zone database and cannot hang,
// so a few quick attempts decide it; a lookup that still fails is an escalation.
var windowOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Second,
		MaximumAttempts:    5,
	},
}

// changeWindowEscalate is the version from which a send-window lookup that fails (a time
// zone the worker's zone database lacks) is an escalation, not the run's failure: ops
// retry it (once the zone database or the creator's time zone is fixed), send without the
// window (override), or end the collaboration.
const changeWindowEscalate = "window-escalate-1"

// nextSendTime is the first instant of the creator's send window from now. When the
// lookup fails and ops override, it is now: the email goes out without the window.
func (c *collaboration) nextSendTime(ctx workflow.Context) (time.Time, error) {
	plan := c.input.Outreach
	var sendAt time.Time
	lookup := func() error {
		lctx := workflow.WithLocalActivityOptions(ctx, windowOptions)
		return workflow.ExecuteLocalActivity(lctx, a.NextSendTime, activities.NextSendTimeInput{
			Timezone: plan.Timezone, Window: plan.Window, After: workflow.Now(ctx),
		}).Get(ctx, &sendAt)
	}
	failed := lookup()
	if failed == nil {
		return sendAt, nil
	}
	if !c.v1 || workflow.GetVersion(ctx, changeWindowEscalate, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return sendAt, fmt.Errorf("send window: %w", failed)
	}
	overridden, err := c.actUnless(ctx, "send_window", true, c.outreachOver, func() error {
		// The first run reports the failure already seen; ops' retry looks up again.
		err := failed
		if failed == nil {
			err = lookup()
		}
		failed = nil
		return err
	})
	if overridden {
		sendAt = workflow.Now(ctx)
	}
	return sendAt, err
}

// runOutreach sends the campaign's sequence: the first email, then each follow-up after
// its delay, each inside the creator's send window; then it waits for a reply. It returns
// as soon as a reply, a stop event or a cancel arrives, and sends nothing after that.
func (c *collaboration) runOutreach(ctx workflow.Context) error {
	plan := c.input.Outreach
	o := &c.state.Outreach
	// Whatever ends the sequence, nothing is scheduled after it.
	defer func() { o.NextSendAt = time.Time{} }()
	for step := range plan.Steps {
		if step > 0 {
			if err := c.waitUnlessStopped(ctx, c.input.Timings.FollowUpDelays[step-1].Std(), nil); err != nil || c.outreachOver() {
				return err
			}
		}
		if c.v1 && c.outreachOver() {
			// A reply or cancel that came with the start: no window to look up.
			return nil
		}
		// A pause during the wait may have carried it past the send window: look again.
		for {
			pauses := c.pauses
			sendAt, err := c.nextSendTime(ctx)
			if err != nil || (c.v1 && c.outreachOver()) {
				return err
			}
			o.NextSendAt = sendAt
			if err := c.waitUnlessStopped(ctx, sendAt.Sub(workflow.Now(ctx)), nil); err != nil || c.outreachOver() {
				return err
			}
			if c.pauses == pauses {
				break
			}
		}
		o.NextSendAt = time.Time{}
		if done, err := c.sendStep(ctx, step); done || err != nil {
			return err
		}
		if c.outreachOver() {
			return nil
		}
	}
	noResponse := func() { o.Status = OutreachNoResponse }
	if err := c.waitUnlessStopped(ctx, c.input.Timings.ReplyWait.Std(), noResponse); err != nil || c.outreachOver() {
		return err
	}
	o.Status = OutreachNoResponse
	return nil
}

// sendStep sends the email of a step. done reports that the sequence is over: the address
// is suppressed, the email was stopped by a reply or cancel, or (before escalations) the
// provider refused it. From changeRobust on, a failed email is an escalation: ops retry it,
// skip it (override), or end the collaboration; a reply meanwhile settles it.
func (c *collaboration) sendStep(ctx workflow.Context, step int) (done bool, err error) {
	plan, o := c.input.Outreach, &c.state.Outreach
	for {
		var res activities.SendEmailResult
		in := activities.SendEmailInput{CollaborationID: c.state.ID, CampaignID: c.state.CampaignID, CreatorID: c.state.CreatorID, Step: step,
			Experiment: plan.Experiment, Variant: plan.Variant}
		stopped, err := c.runUnless(workflow.WithActivityOptions(ctx, sendOptions), c.outreachOverOrPaused, a.SendOutreachEmail, in, &res)
		if stopped && !c.outreachOver() {
			// Paused while the email waited its turn (a backlog, an outage): it goes out,
			// under the same key, when the sequence resumes.
			if err := c.untilResumed(ctx); err != nil {
				return true, err
			}
			if !c.outreachOver() {
				continue
			}
		}
		if stopped {
			c.markStopped(ctx, in.MessageKey(), "outreach ended: "+o.Status)
		}
		if err != nil {
			// Out of retries (a day of SendGrid failures) or bad input: a person decides.
			res = activities.SendEmailResult{Status: activities.SendFailed, Reason: err.Error()}
		}
		if stopped || (res.Status == activities.SendStopped && c.outreachOver()) {
			c.record(ctx, Event{Kind: EventEmailStopped, Detail: fmt.Sprintf("email %d of %d not sent: outreach ended", step+1, plan.Steps)})
			return true, nil
		}
		switch res.Status {
		case activities.SendSent:
			o.EmailsSent++
			c.record(ctx, Event{Kind: EventEmailSent, Detail: fmt.Sprintf("email %d of %d (%s)", step+1, plan.Steps, res.MessageKey)})
			return false, nil
		case activities.SendSuppressed:
			c.stopOutreach(ctx, OutreachEvent{Kind: OutreachSuppressed, At: workflow.Now(ctx), Detail: res.Reason})
			return true, nil
		}
		c.record(ctx, Event{Kind: EventEmailFailed, Detail: fmt.Sprintf("email %d of %d: %s", step+1, plan.Steps, res.Reason)})
		if !c.v1 {
			o.Status, o.StopReason = OutreachFailed, res.Reason
			return true, nil
		}
		decision, err := c.escalate(ctx, "outreach_email", fmt.Sprintf("email %d of %d could not be sent: %s", step+1, plan.Steps, res.Reason), true, c.outreachOver)
		if err != nil || c.outreachOver() {
			return true, err
		}
		if decision == ResolveOverride {
			return false, nil
		}
	}
}

// markStopped tells the email log that the workflow abandoned a send, which no later
// attempt will do; a failure is only recorded.
func (c *collaboration) markStopped(ctx workflow.Context, key, reason string) {
	var res activities.StopEmailResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, attentionOptions), a.StopEmail,
		activities.StopEmailInput{MessageKey: key, Reason: reason}).Get(ctx, &res)
	if err != nil {
		c.record(ctx, Event{Kind: EventReadModelStale, Detail: "email " + key + " not marked stopped: " + failureText(err)})
	}
	// Runs recorded before StopEmail had a result decode none: WentOut stays false.
	if res.WentOut {
		c.countLateSend(ctx, key, "the email log had it sent")
	}
}

// changeOutreachKind is the version from which only outreach emails' news stops a
// sequence or counts as a late send: a bounce, drop, spam report or unsubscribe naming an
// ops notice (or a notice) is recorded and stops nothing, sent_after_stop for a notice or
// an ops notice is not counted, and a key counted in an earlier run (before
// Continue-As-New) is not counted again. Runs recorded before it (no marker) applied such
// news as they did. The version is asked only when such news arrives, so histories without
// it replay untouched.
const changeOutreachKind = "outreach-kind-1"

// outreachKindChecked reports whether this run judges email news by its key's kind
// (changeOutreachKind).
func (c *collaboration) outreachKindChecked(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, changeOutreachKind, workflow.DefaultVersion, 1) >= 1
}

// IsOutreachKey reports whether a message key names an email of an outreach sequence,
// "<collaboration>/outreach/<step>" (activities.SendEmailInput.MessageKey), rather than a
// notice ("<collaboration>/<kind>/<seq>") or an ops notice ("<collaboration>/ops/<key>").
func IsOutreachKey(key string) bool {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] != "outreach" || parts[2] == "" {
		return false
	}
	return strings.Trim(parts[2], "0123456789") == ""
}

// countLateSend counts an outreach email sent that the workflow had recorded stopped: an
// attempt had handed it over before a reply or cancel stopped the send (its SendGrid
// answer was lost, or it was still waiting for it). The log learns it from the attempt or
// SendGrid's events; the workflow from the log at the stop (markStopped) or from the
// webhook afterwards (OutreachSentAfterStop). Only this collaboration's outreach emails
// count, each key once, across Continue-As-New too: lateSent holds this run's keys, and
// the events carried in the state show the earlier runs' (lateSendCounted).
func (c *collaboration) countLateSend(ctx workflow.Context, key, how string) {
	if key == "" || slices.Contains(c.lateSent, key) {
		return
	}
	own := IsOutreachKey(key) && strings.HasPrefix(key, c.state.ID+"/")
	if (!own || c.lateSendCounted(key)) && c.outreachKindChecked(ctx) {
		return
	}
	c.lateSent = append(c.lateSent, key)
	c.state.Outreach.EmailsSent++
	c.record(ctx, Event{Kind: EventEmailSent, Detail: fmt.Sprintf("%s%s (%s)", key, lateSendDetail, how)})
}

// lateSendDetail follows the key in the event countLateSend records.
const lateSendDetail = " went out before it was stopped"

// lateSendCounted reports whether the state already counts the email under key sent: an
// event of sendStep ("email n of m (<key>)") or of countLateSend, in any run.
func (c *collaboration) lateSendCounted(key string) bool {
	return slices.ContainsFunc(c.state.Events, func(e Event) bool {
		return e.Kind == EventEmailSent && (strings.HasPrefix(e.Detail, key+lateSendDetail) || strings.HasSuffix(e.Detail, "("+key+")"))
	})
}

// outreachOver reports whether the sequence must send nothing more.
func (c *collaboration) outreachOver() bool {
	return c.ending() || c.state.Outreach.Status != OutreachRunning
}

// waitUnlessStopped sleeps for d unless the outreach ends first; onTimeout runs when the
// whole wait passed.
func (c *collaboration) waitUnlessStopped(ctx workflow.Context, d time.Duration, onTimeout func()) error {
	if d <= 0 && !c.v1 {
		return nil
	}
	// A pause stops the clock: the rest of d is waited once the sequence resumes.
	for c.paused() {
		if err := c.untilResumed(ctx); err != nil || c.outreachOver() {
			return err
		}
	}
	start := workflow.Now(ctx)
	_, err := c.waitFor(ctx, d, c.outreachOverOrPaused, onTimeout)
	if err == nil && c.paused() && !c.outreachOver() {
		return c.waitUnlessStopped(ctx, max(d-workflow.Now(ctx).Sub(start), 0), onTimeout)
	}
	return err
}

// listenForOutreachEvents applies webhook signals as they arrive, in a workflow coroutine
// (deterministic, scheduled by the SDK), so waits elsewhere see them at once. It waits for
// a buffered signal rather than blocking in Receive: a blocked Receive would take a signal
// the moment it is delivered, before the main coroutine (which runs first) could apply it
// ahead of a timer that fired in the same workflow task (waitFor).
func (c *collaboration) listenForOutreachEvents(ctx workflow.Context) {
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return c.events.Len() > 0 }); err != nil {
				return
			}
			c.drainOutreachEvents(ctx)
		}
	})
}

// drainOutreachEvents applies signals that arrived but were not yet received, so none is
// lost when the run ends.
func (c *collaboration) drainOutreachEvents(ctx workflow.Context) {
	for {
		var ev OutreachEvent
		if !c.events.ReceiveAsync(&ev) {
			return
		}
		c.onOutreachEvent(ctx, ev)
	}
}

// applyOutreachEventsUntil applies the signals delivered but not yet received that
// happened at or before deadline (or carry no time) and returns the later ones, in order.
func (c *collaboration) applyOutreachEventsUntil(ctx workflow.Context, deadline time.Time) []OutreachEvent {
	var late []OutreachEvent
	for {
		var ev OutreachEvent
		if !c.events.ReceiveAsync(&ev) {
			return late
		}
		if ev.At.After(deadline) {
			late = append(late, ev)
			continue
		}
		c.onOutreachEvent(ctx, ev)
	}
}

// applyOutreachEvents applies signals already received, in order.
func (c *collaboration) applyOutreachEvents(ctx workflow.Context, evs []OutreachEvent) {
	for _, ev := range evs {
		c.onOutreachEvent(ctx, ev)
	}
}

// onOutreachEvent stops a running sequence for a reply or a stop event about one of its
// emails; news that comes after the sequence ended, or is about another email, is only
// recorded.
func (c *collaboration) onOutreachEvent(ctx workflow.Context, ev OutreachEvent) {
	if ev.Kind == OutreachSentAfterStop {
		// News of the past, not a reason to stop anything.
		c.countLateSend(ctx, ev.MessageKey, describe(ev))
		return
	}
	status := c.state.Outreach.Status
	if (status == OutreachRunning || status == OutreachFailed) && c.state.Stage == StageOutreach && !c.ending() {
		// Only news of one of the sequence's emails stops it: a bounce or drop of an ops
		// notice (an escalation sent during outreach) says nothing about the creator.
		// News naming no email (a reply, the unsubscribe link, another collaboration's
		// suppression) stops it as before.
		if ev.MessageKey == "" || IsOutreachKey(ev.MessageKey) || !c.outreachKindChecked(ctx) {
			c.stopOutreach(ctx, ev)
			return
		}
	}
	c.record(ctx, Event{Kind: EventEmailNews, Actor: ev.Actor, Detail: describe(ev)})
}

// stopOutreach ends the sequence for a reply or a stop event.
func (c *collaboration) stopOutreach(ctx workflow.Context, ev OutreachEvent) {
	o := &c.state.Outreach
	o.NextSendAt = time.Time{}
	if ev.Kind == OutreachReply {
		o.Status = OutreachReplied
		c.reply = &ev
		return
	}
	o.Status, o.StopReason = OutreachStopped, describe(ev)
	c.stop = &ev
}

func describe(ev OutreachEvent) string {
	s := ev.Kind
	if ev.MessageKey != "" {
		s += " on " + ev.MessageKey
	}
	if ev.Detail != "" {
		s += ": " + ev.Detail
	}
	if ev.Ref != "" {
		s += " (" + ev.Ref + ")"
	}
	return s
}

// outreachEnd is where a stopped sequence leaves the collaboration: a creator who opted
// out declined; an address that cannot be reached gives no response.
func outreachEnd(kind string) Stage {
	switch kind {
	case OutreachUnsubscribe, OutreachSpamReport:
		return StageDeclined
	}
	return StageNoResponse
}

// paused reports whether ops paused the running sequence.
func (c *collaboration) paused() bool { return !c.state.Outreach.PausedAt.IsZero() }

// outreachOverOrPaused is what interrupts a wait or a send of the sequence.
func (c *collaboration) outreachOverOrPaused() bool { return c.outreachOver() || c.paused() }

// untilResumed waits while the sequence is paused and not over.
func (c *collaboration) untilResumed(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return !c.paused() || c.outreachOver() })
}

// validatePause accepts a pause while the sequence runs and is not paused already.
func (c *collaboration) validatePause(req PauseRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if err := validateText("reason", req.Reason, false); err != nil {
		return err
	}
	switch {
	case c.state.Stage != StageOutreach || c.outreachOver():
		return fmt.Errorf("collaboration is in %s: there is no outreach to pause", c.state.Stage)
	case c.paused():
		return fmt.Errorf("outreach is already paused since %s", c.state.Outreach.PausedAt.Format(time.RFC3339))
	}
	return nil
}

func (c *collaboration) handlePause(ctx workflow.Context, req PauseRequest) (CollaborationState, error) {
	c.state.Outreach.PausedAt = workflow.Now(ctx).UTC()
	c.pauses++
	detail := "outreach paused"
	if r := strings.TrimSpace(req.Reason); r != "" {
		detail += ": " + r
	}
	c.record(ctx, Event{Kind: EventOutreachPaused, Actor: &req.Actor, Detail: detail})
	return c.state, nil
}

// validateResume accepts a resume of a paused sequence that is still running.
func (c *collaboration) validateResume(req PauseRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if err := validateText("reason", req.Reason, false); err != nil {
		return err
	}
	if !c.paused() || c.outreachOver() {
		return errors.New("outreach is not paused")
	}
	return nil
}

func (c *collaboration) handleResume(ctx workflow.Context, req PauseRequest) (CollaborationState, error) {
	paused := workflow.Now(ctx).Sub(c.state.Outreach.PausedAt).Round(time.Second)
	c.state.Outreach.PausedAt = time.Time{}
	c.record(ctx, Event{Kind: EventOutreachResumed, Actor: &req.Actor, Detail: fmt.Sprintf("outreach resumed after %s", paused)})
	return c.state, nil
}
