package workflows

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/contract"
)

// Draft limits.
const (
	MaxAssets         = 10
	MaxCaptionLength  = 2200 // Instagram's caption limit, the tightest of the platforms
	MaxCommentsLength = 5000
)

// system is the actor of what the workflow decides itself (auto-approval).
var system = Actor{Name: "collabflow", Role: "system"}

// produce runs in_production and in_review until a draft is approved: the brief goes out,
// drafts come in, reviewers approve or send them back with comments.
func (c *collaboration) produce(ctx workflow.Context) error {
	if err := c.assignAttribution(ctx); err != nil || (c.v1 && c.ending()) {
		return err
	}
	c.notify(ctx, activities.NoticeBrief, 1, c.newDraftDeadline(ctx), "")
	c.record(ctx, Event{Kind: EventBriefSent, Detail: "brief and content link sent; draft due " + c.state.DraftDue.Format("2006-01-02 15:04 MST")})
	for {
		if err := c.awaitDraft(ctx); err != nil || c.ending() {
			return err
		}
		c.pendingDraft = false
		if c.draftOverdue {
			c.draftOverdue, c.state.Escalation = false, ""
		}
		d := c.state.Drafts[len(c.state.Drafts)-1]
		err := c.moveTo(ctx, StageInReview, Event{Kind: EventDraftSubmitted, Actor: d.SubmittedBy,
			Detail: fmt.Sprintf("draft %d: %d asset(s), caption of %d characters", d.N, len(d.Assets), len(d.Caption))})
		if err != nil {
			return err
		}
		if err := c.awaitReview(ctx); err != nil || c.ending() {
			return err
		}
		r := c.reviewed
		c.reviewed = nil
		d = c.state.Drafts[len(c.state.Drafts)-1]
		if r.Decision == DecisionApprove {
			c.state.Approved = &d
			c.state.DraftDue = time.Time{}
			c.expectPosts(ctx)
			return c.moveTo(ctx, StageAwaitingPost, Event{Kind: EventReviewed, Actor: &r.Actor, Detail: fmt.Sprintf("draft %d approved", d.N)})
		}
		c.notify(ctx, activities.NoticeChanges, d.N, c.newDraftDeadline(ctx), r.Comments)
		err = c.moveTo(ctx, StageInProduction, Event{Kind: EventReviewed, Actor: &r.Actor,
			Detail: fmt.Sprintf("draft %d: changes requested: %q", d.N, r.Comments)})
		if err != nil {
			return err
		}
	}
}

// newDraftDeadline starts the clock for the next draft.
func (c *collaboration) newDraftDeadline(ctx workflow.Context) time.Time {
	c.state.DraftDue = workflow.Now(ctx).UTC().Add(c.input.Timings.DraftDeadline.Std())
	return c.state.DraftDue
}

// awaitDraft waits for the next draft: a reminder before the deadline, an escalation to
// ops when it passes, and then it keeps waiting; the creator may still deliver.
func (c *collaboration) awaitDraft(ctx workflow.Context) error {
	n := len(c.state.Drafts) + 1
	due := func() string { return c.state.DraftDue.Format("2006-01-02 15:04 MST") }
	return c.awaitDeadline(ctx, StepDraftDeadline, &c.state.DraftDue, c.input.Timings.DraftDeadline.Std(),
		func() bool { return c.pendingDraft || c.ending() },
		func() {
			c.notify(ctx, activities.NoticeDraftReminder, n, c.state.DraftDue, "")
			c.record(ctx, Event{Kind: EventDraftReminder, Detail: fmt.Sprintf("draft %d due %s", n, due())})
		},
		func() overdueNotice {
			c.draftOverdue = true
			return overdueNotice{kind: EventDraftOverdue, key: fmt.Sprintf("draft-overdue/%d", n), subject: "Draft overdue",
				text: fmt.Sprintf("draft %d is overdue since %s: contact the creator, extend or cancel", n, due())}
		}, "the draft arrived")
}

// awaitReview waits for a decision on the latest draft. Past the review SLA (or the
// deadline ops extended it to) ops hear of it; a campaign that asks for it gets a
// disclosed draft approved then. From changeOverdueAttention on, a review still owed is
// an open escalation until it comes or ops extend its deadline.
func (c *collaboration) awaitReview(ctx workflow.Context) error {
	decided := func() bool { return c.reviewed != nil || c.ending() }
	c.state.ReviewDue = workflow.Now(ctx).UTC().Add(c.input.Timings.ReviewSLA.Std())
	w := &deadlineWait{step: StepReviewDeadline, due: &c.state.ReviewDue, done: decided}
	c.deadline = w
	defer func() {
		c.endDeadline("the review came")
		c.state.ReviewDue = time.Time{}
	}()
	for {
		out, err := c.waitDeadline(ctx, w, c.state.ReviewDue.Sub(workflow.Now(ctx)))
		if err != nil || out == waitDone {
			return err
		}
		if out == waitExtended {
			continue
		}
		d := c.state.Drafts[len(c.state.Drafts)-1]
		auto := c.input.AutoApprove && contract.HasDisclosure(d.Caption, c.state.AgreedTerms.DisclosureText)
		if auto || !overdueAttention(ctx) {
			return c.reviewOverdue(ctx, d, auto, decided)
		}
		waited := workflow.Now(ctx).Sub(d.SubmittedAt).Round(time.Second)
		extended, err := c.awaitOverdue(ctx, w, overdueNotice{kind: EventReviewOverdue, key: fmt.Sprintf("review-overdue/%d", d.N), subject: "Review overdue",
			text: fmt.Sprintf("draft %d has waited %s for review: review it, extend the deadline or cancel", d.N, waited)}, "the review came")
		if err != nil || !extended {
			return err
		}
	}
}

// reviewOverdue tells ops the review SLA passed, approves a disclosed draft when the
// campaign asks for it (auto), else waits for the review: the path of runs before
// changeOverdueAttention, and of auto-approval.
func (c *collaboration) reviewOverdue(ctx workflow.Context, d Draft, auto bool, decided func() bool) error {
	note := fmt.Sprintf("draft %d has waited %s for review", d.N, c.input.Timings.ReviewSLA.Std())
	c.record(ctx, Event{Kind: EventReviewOverdue, Detail: note})
	c.notifyOps(ctx, fmt.Sprintf("review-overdue/%d", d.N), "Review overdue", note)
	if c.v1 && decided() {
		// A reviewer decided while ops were being told: theirs is the decision.
		return nil
	}
	if auto {
		c.applyReview(ctx, ReviewRequest{Actor: system, Draft: d.N, Decision: DecisionApprove, Comments: "approved automatically after the review SLA"})
		return nil
	}
	c.deadline = nil
	return workflow.Await(ctx, decided)
}

func (c *collaboration) validateDraft(req DraftRequest) error {
	if req.Actor != nil {
		if err := validateActor(*req.Actor); err != nil {
			return err
		}
	}
	if c.state.Stage != StageInProduction || c.ending() || c.pendingDraft {
		return fmt.Errorf("collaboration is in %s, not waiting for a draft", c.state.Stage)
	}
	bad := map[string]string{}
	if len(req.Assets) == 0 || len(req.Assets) > MaxAssets {
		bad["assets"] = fmt.Sprintf("one to %d links", MaxAssets)
	}
	for i, asset := range req.Assets {
		if u, err := url.Parse(asset); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(asset) > 2000 {
			bad[fmt.Sprintf("assets[%d]", i)] = "must be an http(s) link"
		}
	}
	if caption := strings.TrimSpace(req.Caption); caption == "" || len(caption) > MaxCaptionLength {
		bad["caption"] = fmt.Sprintf("required, at most %d characters", MaxCaptionLength)
	}
	if len(bad) > 0 {
		return invalid(bad)
	}
	return nil
}

func (c *collaboration) handleDraft(ctx workflow.Context, req DraftRequest) (CollaborationState, error) {
	c.state.Drafts = append(c.state.Drafts, Draft{
		N: len(c.state.Drafts) + 1, Assets: req.Assets, Caption: strings.TrimSpace(req.Caption),
		SubmittedAt: workflow.Now(ctx).UTC(), SubmittedBy: req.Actor,
	})
	c.pendingDraft = true
	return c.stateOnce(ctx, func() bool { return c.state.Stage != StageInProduction })
}

func (c *collaboration) validateReview(req ReviewRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if c.state.Stage != StageInReview || c.ending() || c.reviewed != nil {
		return fmt.Errorf("collaboration is in %s, not in review", c.state.Stage)
	}
	d := c.state.Drafts[len(c.state.Drafts)-1]
	if req.Draft != d.N {
		return fmt.Errorf("draft %d is not the one in review (%d)", req.Draft, d.N)
	}
	switch req.Decision {
	case DecisionApprove:
		if !contract.HasDisclosure(d.Caption, c.state.AgreedTerms.DisclosureText) {
			return invalid(map[string]string{"decision": fmt.Sprintf("the caption lacks the required disclosure %q (or #ad, #sponsored, Paid partnership): request changes instead", c.state.AgreedTerms.DisclosureText)})
		}
	case DecisionChanges:
		if strings.TrimSpace(req.Comments) == "" {
			return invalid(map[string]string{"comments": "required when asking for changes"})
		}
		if limit := c.state.AgreedTerms.RevisionRounds; c.state.RevisionsUsed >= limit && req.Actor.Role != "ops" {
			return fmt.Errorf("the %d revision round(s) of the contract are used: ops must decide", limit)
		}
	default:
		return invalid(map[string]string{"decision": "approve or changes"})
	}
	if len(req.Comments) > MaxCommentsLength {
		return invalid(map[string]string{"comments": fmt.Sprintf("at most %d characters", MaxCommentsLength)})
	}
	return nil
}

func (c *collaboration) handleReview(ctx workflow.Context, req ReviewRequest) (CollaborationState, error) {
	c.applyReview(ctx, req)
	return c.stateOnce(ctx, func() bool { return c.state.Stage != StageInReview })
}

// applyReview records a decision; run moves the collaboration on.
func (c *collaboration) applyReview(ctx workflow.Context, req ReviewRequest) {
	req.Comments = strings.TrimSpace(req.Comments)
	d := &c.state.Drafts[len(c.state.Drafts)-1]
	d.Review = &Review{Decision: req.Decision, Comments: req.Comments, Actor: req.Actor, At: workflow.Now(ctx).UTC()}
	if req.Decision == DecisionChanges {
		c.state.RevisionsUsed++
		if limit := c.state.AgreedTerms.RevisionRounds; c.state.RevisionsUsed >= limit {
			c.state.Escalation = fmt.Sprintf("the %d revision round(s) of the contract are used: only ops may ask for more changes", limit)
			c.record(ctx, Event{Kind: EventEscalated, Actor: &req.Actor, Detail: c.state.Escalation})
		}
	} else {
		c.state.Escalation = ""
	}
	c.reviewed = &req
}
