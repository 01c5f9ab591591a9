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

// a is nil: workflows only need the methods' names and signatures to schedule activities.
var a *activities.Activities

// Collaboration runs one brand–creator collaboration from first contact to its end.
// Its state is the system of record; the database only mirrors the stage for listing.
func Collaboration(ctx workflow.Context, in CollaborationInput) (CollaborationState, error) {
	c := &collaboration{input: in}
	if err := c.setup(ctx); err != nil {
		return CollaborationState{}, err
	}
	return c.run(ctx)
}

type collaboration struct {
	input CollaborationInput
	state CollaborationState
	// events receives webhook news (SignalOutreachEvent).
	events workflow.ReceiveChannel
	// Set by handlers; run acts on them.
	cancel       *CancelRequest
	decline      *DeclineRequest
	reply        *OutreachEvent
	stop         *OutreachEvent
	accepted     *AcceptRequest
	pendingDraft bool
	reviewed     *ReviewRequest
	// draftOverdue marks the escalation as the overdue draft's, cleared when it arrives.
	draftOverdue bool
	// negotiationOpen is set once negotiating holds its opening offer.
	negotiationOpen bool
	// overrides counts verification overrides, so a wait can see a new one.
	overrides int
	confirmed *PayoutConfirmation
	// resumed is set when this run continues an earlier one in live.
	resumed bool
}

func (c *collaboration) setup(ctx workflow.Context) error {
	info := workflow.GetInfo(ctx)
	now := workflow.Now(ctx).UTC()
	c.state = CollaborationState{
		ID:         info.WorkflowExecution.ID,
		CampaignID: c.input.CampaignID,
		CreatorID:  c.input.CreatorID,
		StartedAt:  now,
		UpdatedAt:  now,
		Timings:    c.input.Timings,
		Events:     []Event{},
		// A collaboration is in outreach from its first moment, so that a reply or cancel
		// delivered with the start is judged against the right stage.
		Stage:    StageOutreach,
		Outreach: OutreachState{Status: OutreachRunning, Steps: c.input.Outreach.Steps},
		Offers:   []Offer{},
		Drafts:   []Draft{},
		Posts:    []Post{},
		Payouts:  []PayoutState{},
		Run:      1,
	}
	if c.input.Resume != nil {
		// A run continued as new picks up the state where the last one left it.
		c.state = *c.input.Resume
		c.state.Run++
		c.input.Resume = nil
		c.resumed = true
	}
	c.events = workflow.GetSignalChannel(ctx, SignalOutreachEvent)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CollaborationState, error) {
		return c.state, nil
	}); err != nil {
		return fmt.Errorf("register %s query: %w", QueryState, err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCancel, c.handleCancel,
		workflow.UpdateHandlerOptions{Validator: c.validateCancel}); err != nil {
		return fmt.Errorf("register %s update: %w", UpdateCancel, err)
	}
	updates := []struct {
		name               string
		handler, validator any
	}{
		{UpdateRecordReply, c.handleReply, c.validateReply},
		{UpdateOffer, c.handleOffer, c.validateOffer},
		{UpdateAccept, c.handleAccept, c.validateAccept},
		{UpdateDecline, c.handleDecline, c.validateDecline},
		{UpdateSign, c.handleSign, c.validateSign},
		{UpdateSubmitDraft, c.handleDraft, c.validateDraft},
		{UpdateReview, c.handleReview, c.validateReview},
		{UpdateSubmitPost, c.handlePost, c.validatePost},
		{UpdateOverride, c.handleOverride, c.validateOverride},
		{UpdateConfirmPayout, c.handleConfirm, c.validateConfirm},
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler,
			workflow.UpdateHandlerOptions{Validator: u.validator}); err != nil {
			return fmt.Errorf("register %s update: %w", u.name, err)
		}
	}
	return nil
}

func (c *collaboration) run(ctx workflow.Context) (CollaborationState, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: time.Minute},
	})
	c.listenForOutreachEvents(ctx)
	if !c.resumed {
		if done, err := c.untilLive(ctx); done || err != nil {
			return c.state, err
		}
		if c.ending() {
			return c.finishEnding(ctx)
		}
	}
	if err := c.liveWindow(ctx); err != nil || c.ending() {
		return c.finishOrFail(ctx, err)
	}
	if err := c.moveTo(ctx, StagePayout, Event{Kind: EventLiveEnded, Detail: "live window ended " + c.state.LiveUntil.Format(time.RFC3339)}); err != nil {
		return c.state, err
	}
	if err := c.pay(ctx); err != nil || c.ending() {
		return c.finishOrFail(ctx, err)
	}
	return c.end(ctx, StageCompleted, "paid", Event{Kind: EventPayoutConfirmed, Actor: &c.confirmed.Actor,
		Detail: fmt.Sprintf("payout %s paid, reference %q", c.confirmed.PayoutID, c.confirmed.Reference)})
}

// untilLive runs every stage from outreach to the start of the live window. done reports
// that the collaboration already ended (no response, declined by a stop event); the caller
// ends it when a person did.
func (c *collaboration) untilLive(ctx workflow.Context) (done bool, err error) {
	if err := c.moveTo(ctx, StageOutreach, Event{Kind: EventStarted, Actor: &c.input.StartedBy}); err != nil {
		return true, err
	}
	if err := c.runOutreach(ctx); err != nil {
		return true, err
	}
	if c.state.Outreach.Status == OutreachFailed {
		// The provider refused an email: ops record a reply they got elsewhere, or cancel.
		if err := workflow.Await(ctx, func() bool { return c.ending() || c.reply != nil || c.stop != nil }); err != nil {
			return true, err
		}
	}
	switch {
	case c.ending():
		return false, nil
	case c.reply != nil:
		err := c.moveTo(ctx, StageNegotiating, Event{Kind: EventReplyReceived, Actor: c.reply.Actor, Detail: describe(*c.reply)})
		if err != nil {
			return true, err
		}
		c.openNegotiation(ctx)
	case c.stop != nil:
		_, err := c.end(ctx, outreachEnd(c.stop.Kind), describe(*c.stop), Event{Kind: EventOutreachStopped, Detail: describe(*c.stop)})
		return true, err
	default:
		reason := fmt.Sprintf("no reply within %s of the last email", c.input.Timings.ReplyWait.Std())
		_, err := c.end(ctx, StageNoResponse, reason, Event{Kind: EventNoResponse, Detail: reason})
		return true, err
	}
	steps := []func(workflow.Context) error{c.negotiateAndSign, c.produce, c.awaitPosts}
	for _, step := range steps {
		if err := step(ctx); err != nil || c.ending() {
			return err != nil, err
		}
	}
	err = c.moveTo(ctx, StageVerifying, Event{Kind: EventPostSubmitted, Detail: fmt.Sprintf("all %d post(s) submitted", len(c.state.Posts))})
	if err != nil {
		return true, err
	}
	if err := c.verifyPosts(ctx); err != nil || c.ending() {
		return err != nil, err
	}
	c.state.LiveUntil = workflow.Now(ctx).UTC().Add(c.input.Timings.LiveWindow.Std())
	err = c.moveTo(ctx, StageLive, Event{Kind: EventVerified, Detail: c.verifiedSummary()})
	return err != nil, err
}

// verifiedSummary is the evidence of the passing checks, for the history.
func (c *collaboration) verifiedSummary() string {
	var parts []string
	for _, p := range c.state.Posts {
		if p.Override != "" {
			parts = append(parts, fmt.Sprintf("post %d accepted by override: %s", p.N, p.Override))
			continue
		}
		if p.Verification == nil {
			continue
		}
		var checks []string
		for _, ch := range p.Verification.Checks {
			checks = append(checks, ch.Name+": "+ch.Evidence)
		}
		parts = append(parts, fmt.Sprintf("post %d %s: %s", p.N, p.URL, strings.Join(checks, "; ")))
	}
	return strings.Join(parts, "\n")
}

// finishOrFail ends the run for a person's cancel or decline, or fails it on an error.
func (c *collaboration) finishOrFail(ctx workflow.Context, err error) (CollaborationState, error) {
	if err != nil {
		return c.state, err
	}
	return c.finishEnding(ctx)
}

// finishEnding ends the collaboration as a person asked: cancelled or declined.
func (c *collaboration) finishEnding(ctx workflow.Context) (CollaborationState, error) {
	if err := c.killFee(ctx); err != nil {
		return c.state, err
	}
	if c.decline != nil {
		return c.end(ctx, StageDeclined, c.decline.Reason, Event{Kind: EventDeclined, Actor: &c.decline.Actor, Detail: c.decline.Reason})
	}
	return c.endCancelled(ctx)
}

func (c *collaboration) endCancelled(ctx workflow.Context) (CollaborationState, error) {
	c.state.CancelReason = c.cancel.Reason
	return c.end(ctx, StageCancelled, c.cancel.Reason, Event{Kind: EventCancelled, Actor: &c.cancel.Actor, Detail: c.cancel.Reason})
}

// end moves to a final stage and closes the run once every signal is applied and every
// update handler has returned its result.
func (c *collaboration) end(ctx workflow.Context, stage Stage, reason string, e Event) (CollaborationState, error) {
	c.state.EndReason = reason
	if err := c.moveTo(ctx, stage, e); err != nil {
		return c.state, err
	}
	c.drainOutreachEvents(ctx)
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return c.state, err
	}
	return c.state, nil
}

// record appends an event that does not change the stage and returns it numbered.
func (c *collaboration) record(ctx workflow.Context, e Event) Event {
	now := workflow.Now(ctx).UTC()
	e.Seq = len(c.state.Events) + 1
	e.At = now
	c.state.Events = append(c.state.Events, e)
	c.state.UpdatedAt = now
	return e
}

// moveTo enters a stage: the event goes into the state, the stage into the search
// attributes and the read model.
func (c *collaboration) moveTo(ctx workflow.Context, to Stage, e Event) error {
	e.From, e.To = c.state.Stage, to
	if len(c.state.Events) == 0 {
		e.From = "" // the first event enters the first stage from nowhere
	}
	e = c.record(ctx, e)
	c.state.Stage = to

	if err := workflow.UpsertTypedSearchAttributes(ctx,
		SearchStage.ValueSet(string(to)),
		SearchCampaign.ValueSet(c.state.CampaignID),
		SearchCreator.ValueSet(c.state.CreatorID),
	); err != nil {
		return fmt.Errorf("upsert search attributes: %w", err)
	}
	err := workflow.ExecuteActivity(ctx, a.RecordStage, activities.StageChange{
		CollaborationID: c.state.ID,
		CampaignID:      c.state.CampaignID,
		CreatorID:       c.state.CreatorID,
		Stage:           string(to),
		Seq:             e.Seq,
		At:              c.state.UpdatedAt,
	}).Get(ctx, nil)
	if err != nil {
		return fmt.Errorf("record stage %s: %w", to, err)
	}
	return nil
}

// validateCancel refuses a cancel that cannot be carried out, before it enters history.
func (c *collaboration) validateCancel(req CancelRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if err := validateText("reason", req.Reason, true); err != nil {
		return err
	}
	switch {
	case c.state.Stage.Terminal():
		return fmt.Errorf("collaboration already ended as %s", c.state.Stage)
	case c.ending():
		return errors.New("collaboration is already ending")
	}
	return nil
}

func (c *collaboration) handleCancel(ctx workflow.Context, req CancelRequest) (CollaborationState, error) {
	req.Reason = strings.TrimSpace(req.Reason)
	c.cancel = &req
	return c.stateOnce(ctx, func() bool { return c.state.Stage == StageCancelled })
}

// validateReply accepts a reply only while outreach is waiting for one.
func (c *collaboration) validateReply(req ReplyRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if err := validateText("note", req.Note, false); err != nil {
		return err
	}
	status := c.state.Outreach.Status
	if c.state.Stage != StageOutreach || c.ending() || (status != OutreachRunning && status != OutreachFailed) {
		return fmt.Errorf("collaboration is in %s, not waiting for a reply", c.state.Stage)
	}
	return nil
}

func (c *collaboration) handleReply(ctx workflow.Context, req ReplyRequest) (CollaborationState, error) {
	c.onOutreachEvent(ctx, OutreachEvent{Kind: OutreachReply, At: workflow.Now(ctx), Actor: &req.Actor, Detail: strings.TrimSpace(req.Note)})
	// Answer once negotiating is open, so the caller sees the opening offer.
	return c.stateOnce(ctx, func() bool { return c.negotiationOpen || c.state.Stage.Terminal() })
}

func validateActor(a Actor) error {
	if a.Name == "" || a.Role == "" {
		return errors.New("actor: name and role required")
	}
	return nil
}

func validateText(field, text string, required bool) error {
	text = strings.TrimSpace(text)
	switch {
	case required && text == "":
		return errors.New(field + ": required")
	case len(text) > MaxReasonLength:
		return fmt.Errorf("%s: at most %d characters", field, MaxReasonLength)
	}
	return nil
}

// stateOnce is an update handler's answer: the state once cond holds, that is once run has
// acted on the update.
func (c *collaboration) stateOnce(ctx workflow.Context, cond func() bool) (CollaborationState, error) {
	if err := workflow.Await(ctx, cond); err != nil {
		return CollaborationState{}, err
	}
	return c.state, nil
}
