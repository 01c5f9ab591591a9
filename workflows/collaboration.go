package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/store"
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
	// lateSent are the keys of emails counted by countLateSend in this run.
	lateSent []string
	// events receives webhook news (SignalOutreachEvent).
	events workflow.ReceiveChannel
	// pauses counts the outreach pauses, so that a wait knows whether one came meanwhile.
	pauses int
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
	// deadline is the draft, review or post deadline being waited out, nil when none is;
	// extension is ops' extension of it until the main coroutine applies it.
	deadline  *deadlineWait
	extension *pendingExtension
	// negotiationOpen is set once negotiating holds its opening offer.
	negotiationOpen bool
	// overrides counts verification overrides, so a wait can see a new one.
	overrides int
	confirmed *PayoutConfirmation
	// feeOffer is finance's confirmation of a fee row the workflow has not seen, waiting
	// for settleFee to take or refuse it; feeRefusal says why it was refused.
	feeOffer   *PayoutConfirmation
	feeRefusal string
	// settle is set for runs that carry the changePayoutSettle marker.
	settle bool
	// contractExpiry is set for contracts sent with the changeContractExpiry marker.
	contractExpiry bool
	// resumed is set when this run continues an earlier one (in verifying or live).
	resumed bool
	// v1 is set for runs that carry the changeRobust marker.
	v1 bool
	// resolution is ops' decision on the open escalation, taken by escalate.
	resolution *ResolveRequest
	// overridden is the decision that let the last act carry on without its step.
	overridden *ResolveRequest
	// finishing is set while a person's cancel or decline is carried out, so that an
	// escalation there (a kill fee that cannot be paid) still waits for ops.
	finishing bool
	// applied are the IDs of the updates applied, this run and the runs before it.
	applied []string
	// blocked counts update handlers waiting for the main coroutine to act; it must not
	// wait for them to finish (Continue-As-New) while they wait for it.
	blocked int
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
	c.listenForRefusedInput(ctx)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CollaborationState, error) {
		return c.state, nil
	}); err != nil {
		return fmt.Errorf("register %s query: %w", QueryState, err)
	}
	if err := workflow.SetQueryHandler(ctx, activities.QueryMaySend, c.maySend); err != nil {
		return fmt.Errorf("register %s query: %w", activities.QueryMaySend, err)
	}
	c.applied = c.input.AppliedUpdates
	c.input.AppliedUpdates = nil
	for _, register := range []func() error{
		onceUpdate(ctx, c, UpdateCancel, c.handleCancel, noCtx(c.validateCancel)),
		onceUpdate(ctx, c, UpdateRecordReply, c.handleReply, noCtx(c.validateReply)),
		onceUpdate(ctx, c, UpdateOffer, c.handleOffer, noCtx(c.validateOffer)),
		onceUpdate(ctx, c, UpdateAccept, c.handleAccept, noCtx(c.validateAccept)),
		onceUpdate(ctx, c, UpdateDecline, c.handleDecline, noCtx(c.validateDecline)),
		onceUpdate(ctx, c, UpdateSign, c.handleSign, c.validateSign),
		onceUpdate(ctx, c, UpdateSubmitDraft, c.handleDraft, noCtx(c.validateDraft)),
		onceUpdate(ctx, c, UpdateReview, c.handleReview, noCtx(c.validateReview)),
		onceUpdate(ctx, c, UpdateSubmitPost, c.handlePost, noCtx(c.validatePost)),
		onceUpdate(ctx, c, UpdateOverride, c.handleOverride, noCtx(c.validateOverride)),
		onceUpdate(ctx, c, UpdateConfirmPayout, c.handleConfirm, noCtx(c.validateConfirm)),
		onceUpdate(ctx, c, UpdateResolve, c.handleResolve, noCtx(c.validateResolve)),
		onceUpdate(ctx, c, UpdatePause, c.handlePause, noCtx(c.validatePause)),
		onceUpdate(ctx, c, UpdateResume, c.handleResume, noCtx(c.validateResume)),
		onceUpdate(ctx, c, UpdateExtendDeadline, c.handleExtend, noCtx(c.validateExtend)),
	} {
		if err := register(); err != nil {
			return err
		}
	}
	return nil
}

// AlreadyApplied is the error type of an update refused because an earlier run of the
// same collaboration applied an update with its ID (Temporal deduplicates update IDs
// within a run only); the API answers with the collaboration's state.
const AlreadyApplied = "AlreadyApplied"

// maxApplied bounds the update IDs carried across Continue-As-New.
const maxApplied = 200

// onceUpdate registers an update whose ID is remembered across Continue-As-New: a client
// retrying with the same Idempotency-Key after the run continued is refused, not applied
// twice. Its answer is the state the update left, with the events it recorded.
func onceUpdate[T any](ctx workflow.Context, c *collaboration, name string,
	handle func(workflow.Context, T) (CollaborationState, error), validate func(workflow.Context, T) error) func() error {
	return func() error {
		err := workflow.SetUpdateHandlerWithOptions(ctx, name,
			func(ctx workflow.Context, req T) (CollaborationState, error) {
				c.applied = append(c.applied, workflow.GetCurrentUpdateInfo(ctx).ID)
				if len(c.applied) > maxApplied {
					c.applied = c.applied[len(c.applied)-maxApplied:]
				}
				from := len(c.state.Events)
				st, err := handle(ctx, req)
				// The answer carries only the events this update recorded: it is written
				// into history, and the whole timeline in every answer made a lifecycle's
				// history four times the bytes of the same work without it. The state
				// query and the API's GET still hold every event.
				st.Events = slices.Clone(st.Events[min(from, len(st.Events)):])
				return st, err
			},
			workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req T) error {
				if slices.Contains(c.applied, workflow.GetCurrentUpdateInfo(ctx).ID) {
					return temporal.NewApplicationError("this request was already applied", AlreadyApplied)
				}
				return validate(ctx, req)
			}})
		if err != nil {
			return fmt.Errorf("register %s update: %w", name, err)
		}
		return nil
	}
}

// noCtx adapts a validator that does not need the workflow context.
func noCtx[T any](validate func(T) error) func(workflow.Context, T) error {
	return func(_ workflow.Context, req T) error { return validate(req) }
}

// legacyOptions are the activity options of runs before changeRobust: retried forever.
var legacyOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: time.Minute},
}

// dbOptions fit PostgreSQL writes: a restart or failover is over in minutes, so a quarter
// of an hour of retries covers it; after that ops hear of it (an escalation).
var dbOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: 15 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
	},
}

func (c *collaboration) run(ctx workflow.Context) (CollaborationState, error) {
	c.v1 = workflow.GetVersion(ctx, changeRobust, workflow.DefaultVersion, 1) >= 1
	if c.v1 {
		ctx = workflow.WithActivityOptions(ctx, dbOptions)
	} else {
		ctx = workflow.WithActivityOptions(ctx, legacyOptions)
	}
	c.listenForOutreachEvents(ctx)
	if c.resumed && c.state.Stage == StageVerifying {
		if err := c.verifyAndGoLive(ctx); err != nil || c.ending() {
			return c.finishOrFail(ctx, err)
		}
	}
	if !c.resumed {
		if done, err := c.untilLive(ctx); done || err != nil {
			return c.state, err
		}
		if c.ending() {
			return c.finishEnding(ctx)
		}
	}
	if c.resumed && c.state.Stage != StageLive {
		return c.state, fmt.Errorf("run %d resumed in %s, which does not continue as new", c.state.Run, c.state.Stage)
	}
	if err := c.liveWindow(ctx); err != nil || c.ending() {
		return c.finishOrFail(ctx, err)
	}
	c.settle = workflow.GetVersion(ctx, changePayoutSettle, workflow.DefaultVersion, 1) >= 1 && c.v1
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
	if !c.v1 && c.state.Outreach.Status == OutreachFailed {
		// The provider refused an email: ops record a reply they got elsewhere, or cancel.
		if err := workflow.Await(ctx, func() bool { return c.ending() || c.reply != nil || c.stop != nil }); err != nil {
			return true, err
		}
	}
	switch {
	case c.ending():
		return false, nil
	case c.reply != nil:
		e := c.enter(ctx, StageNegotiating, Event{Kind: EventReplyReceived, Actor: c.reply.Actor, Detail: describe(*c.reply)})
		if c.v1 {
			// The opening offer is on the table the moment negotiating begins, before any
			// update can add one.
			c.openNegotiation(ctx)
		}
		if err := c.publish(ctx, e); err != nil {
			return true, err
		}
		if !c.v1 {
			c.openNegotiation(ctx)
		}
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
	err = c.verifyAndGoLive(ctx)
	return err != nil, err
}

// verifyAndGoLive runs verifying until every post passes (or ops accept it) and starts the
// live window; it returns early when the collaboration ends, or with the error that
// continues the run as new.
func (c *collaboration) verifyAndGoLive(ctx workflow.Context) error {
	if err := c.verifyPosts(ctx); err != nil || c.ending() {
		return err
	}
	liveAt := workflow.Now(ctx).UTC()
	c.state.LiveUntil = liveAt.Add(c.input.Timings.LiveWindow.Std())
	if err := c.moveTo(ctx, StageLive, Event{Kind: EventVerified, Detail: c.verifiedSummary()}); err != nil {
		return err
	}
	c.startRights(ctx, liveAt)
	return nil
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
	c.finishing = true
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
	return c.publish(ctx, c.enter(ctx, to, e))
}

// enter changes the stage in the state at once, so that validators judge what comes next
// against it; publish then tells the search attributes and the read model.
func (c *collaboration) enter(ctx workflow.Context, to Stage, e Event) Event {
	e.From, e.To = c.state.Stage, to
	if len(c.state.Events) == 0 {
		e.From = "" // the first event enters the first stage from nowhere
	}
	e = c.record(ctx, e)
	c.state.Stage = to
	return e
}

// changeStageOnlyUpsert is the version from which a stage change upserts only the stage:
// the start sets campaign and creator (collabstart) and they never change, so resending
// them was bookkeeping on every stage. Runs recorded before it upsert all three.
const changeStageOnlyUpsert = "stage-only-upsert"

// changeLocalReadModel is the version from which a stage change is written to the read
// model by a local activity: one marker in the workflow task that entered the stage,
// where a scheduled activity cost three events and a workflow task of its own on every
// stage. Runs recorded before it schedule RecordStage as an activity.
const changeLocalReadModel = "local-read-model"

// readModelOptions bound a local read-model write like dbOptions bound an activity's: a
// PostgreSQL restart or failover is waited out for a quarter of an hour (retries past the
// first minute back off on workflow timers), then ops hear of it.
var readModelOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: dbOptions.ScheduleToCloseTimeout,
	RetryPolicy:            dbOptions.RetryPolicy,
}

// publish writes the stage entered by e to the search attributes and the read model. A
// read model that stays unreachable is an escalation; ops may carry on without it.
func (c *collaboration) publish(ctx workflow.Context, e Event) error {
	updates := []temporal.SearchAttributeUpdate{SearchStage.ValueSet(string(e.To))}
	if workflow.GetVersion(ctx, changeStageOnlyUpsert, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		updates = append(updates, SearchCampaign.ValueSet(c.state.CampaignID), SearchCreator.ValueSet(c.state.CreatorID))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		return fmt.Errorf("upsert search attributes: %w", err)
	}
	local := workflow.GetVersion(ctx, changeLocalReadModel, workflow.DefaultVersion, 1) >= 1
	_, err := c.act(ctx, "record_stage", true, func() error {
		if local {
			lctx := workflow.WithLocalActivityOptions(ctx, readModelOptions)
			return workflow.ExecuteLocalActivity(lctx, a.RecordStage, c.stageChange(e.Seq)).Get(ctx, nil)
		}
		return workflow.ExecuteActivity(ctx, a.RecordStage, c.stageChange(e.Seq)).Get(ctx, nil)
	})
	if err != nil {
		return fmt.Errorf("record stage %s: %w", e.To, err)
	}
	return nil
}

// stageChange is the read model's row as of event seq.
func (c *collaboration) stageChange(seq int) activities.StageChange {
	sc := activities.StageChange{
		CollaborationID: c.state.ID,
		CampaignID:      c.state.CampaignID,
		CreatorID:       c.state.CreatorID,
		Stage:           string(c.state.Stage),
		Seq:             seq,
		At:              c.state.UpdatedAt,
	}
	if at := c.state.Attention; at != nil {
		sc.Attention = &store.Attention{Reason: at.Reason, Since: at.Since}
	}
	if t := c.state.AgreedTerms; t != nil {
		sc.Fee, sc.Currency = t.FixedFee, t.Currency
	}
	sc.OnHold = c.state.Hold != ""
	sc.DueAt = c.dueAt()
	return sc
}

// dueAt is the deadline of the step the collaboration waits for in its stage, for ops to
// see what is overdue: the one the state holds when it belongs to this stage, else the
// stage's timing from when the stage was entered (the workflow sets the deadline itself
// right after entering). Stages that wait for nobody in particular have none.
func (c *collaboration) dueAt() time.Time {
	entered := c.state.UpdatedAt
	for i := len(c.state.Events) - 1; i >= 0; i-- {
		if e := c.state.Events[i]; e.To == c.state.Stage {
			entered = e.At
			break
		}
	}
	known := func(t time.Time, timing time.Duration) time.Time {
		if t.After(entered) {
			return t
		}
		return entered.Add(timing)
	}
	tm := c.input.Timings
	switch c.state.Stage {
	case StageContracting:
		var expires time.Time
		if k := c.state.Contract; k != nil {
			expires = k.ExpiresAt
		}
		return known(expires, tm.ContractExpiry.Std())
	case StageInProduction:
		return known(c.state.DraftDue, tm.DraftDeadline.Std())
	case StageInReview:
		return known(c.state.ReviewDue, tm.ReviewSLA.Std())
	case StageAwaitingPost:
		return known(c.state.PostsDue, tm.PostDeadline.Std())
	}
	return time.Time{}
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
	case c.confirmed != nil:
		return errors.New("the payout is already confirmed: the collaboration is completing")
	case c.feeOffer != nil:
		return errors.New("finance's confirmation of the payout is being recorded: the collaboration is completing")
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
	if req.NoteID != "" && !canonicalUUID(req.NoteID) {
		return invalid(map[string]string{"note_id": "must be the id of a stored note"})
	}
	status := c.state.Outreach.Status
	if c.state.Stage != StageOutreach || c.ending() || (status != OutreachRunning && status != OutreachFailed) {
		return fmt.Errorf("collaboration is in %s, not waiting for a reply", c.state.Stage)
	}
	return nil
}

func (c *collaboration) handleReply(ctx workflow.Context, req ReplyRequest) (CollaborationState, error) {
	ev := OutreachEvent{Kind: OutreachReply, At: workflow.Now(ctx), Actor: &req.Actor, Detail: "recorded by hand"}
	if req.NoteID != "" {
		ev.Ref = "note " + req.NoteID
	}
	c.onOutreachEvent(ctx, ev)
	// Answer once negotiating is open, so the caller sees the opening offer.
	return c.stateOnce(ctx, func() bool { return c.negotiationOpen || c.state.Stage.Terminal() })
}

// validateActor refuses an update without an actor: input the API must always send.
func validateActor(a Actor) error {
	if a.Name == "" || a.Role == "" {
		return invalid(map[string]string{"actor": "name and role required"})
	}
	return nil
}

// validateText refuses a missing or too long free text as bad input (422).
// canonicalUUID reports whether s is a UUID in its lower-case hyphenated form: the only
// shape of a PostgreSQL row id a workflow accepts in place of personal data.
func canonicalUUID(s string) bool {
	id, err := uuid.Parse(s)
	return err == nil && id.String() == s
}

func validateText(field, text string, required bool) error {
	text = strings.TrimSpace(text)
	switch {
	case required && text == "":
		return invalid(map[string]string{field: "required"})
	case len(text) > MaxReasonLength:
		return invalid(map[string]string{field: fmt.Sprintf("at most %d characters", MaxReasonLength)})
	}
	return nil
}

// stateOnce is an update handler's answer: the state once cond holds, that is once run has
// acted on the update, or once the collaboration has ended. While it waits, the handler
// counts as blocked on the main coroutine, which therefore never waits for it to finish.
func (c *collaboration) stateOnce(ctx workflow.Context, cond func() bool) (CollaborationState, error) {
	if err := c.awaitMain(ctx, cond); err != nil {
		return CollaborationState{}, err
	}
	return c.state, nil
}

// awaitMain is every update handler's wait for the main coroutine. It counts the handler
// as blocked meanwhile (Continue-As-New does not wait for it) and also ends when the
// collaboration has ended: end() waits for every handler to finish, and after the end
// nothing the handler waits for can come.
func (c *collaboration) awaitMain(ctx workflow.Context, cond func() bool) error {
	c.blocked++
	defer func() { c.blocked-- }()
	return workflow.Await(ctx, func() bool { return cond() || c.state.Stage.Terminal() })
}
