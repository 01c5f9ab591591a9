package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/collabstart"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

type startCollaborationInput struct {
	CampaignID string `json:"campaign_id" validate:"required"`
	CreatorID  string `json:"creator_id" validate:"required"`
}

// startCollaboration starts the one workflow of a (campaign, creator) pair, or returns the
// existing one with 200: the workflow ID is derived from the pair and never reused.
func (s *Server) startCollaboration(c echo.Context) error {
	var in startCollaborationInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := s.validate.Struct(in); err != nil {
		return validationError(err)
	}
	// One pair, one workflow: the ID is derived from the canonical ids only.
	var err error
	if in.CampaignID, err = canonicalID("campaign_id", in.CampaignID, invalid(map[string]string{"campaign_id": idMessage})); err != nil {
		return err
	}
	if in.CreatorID, err = canonicalID("creator_id", in.CreatorID, invalid(map[string]string{"creator_id": idMessage})); err != nil {
		return err
	}
	ctx := c.Request().Context()
	id := workflows.CollaborationID(in.CampaignID, in.CreatorID)

	campaign, err := s.store.Campaign(ctx, in.CampaignID)
	if errors.Is(err, store.ErrNotFound) {
		return invalid(map[string]string{"campaign_id": "no such campaign"})
	} else if err != nil {
		return err
	}
	creator, err := s.store.Creator(ctx, in.CreatorID)
	if errors.Is(err, store.ErrNotFound) {
		return invalid(map[string]string{"creator_id": "no such creator"})
	} else if err != nil {
		return err
	}
	if creator.ErasedAt != nil {
		return invalid(map[string]string{"creator_id": "this creator was erased"})
	}
	// Start first: for a new pair (the common case) a lookup before would be two wasted
	// Temporal calls. Start refuses an existing pair without touching it (its read-model
	// row only moves forward), and only then is the collaboration looked up.
	starter := collabstart.Starter{Client: s.temporal, Store: s.store}
	if _, err := starter.Start(ctx, campaign, creator, actor(c), activities.Arm{}); errors.Is(err, collabstart.ErrAlreadyStarted) {
		exists, err := s.existing(c, id, in, campaign)
		if err == nil && !exists {
			// Start saw the workflow, so only a retention purge since can hide it.
			return fmt.Errorf("collaboration %s: started, then not found", id)
		}
		return err
	} else if err != nil {
		return err
	}
	// Every collaboration starts in outreach; answering from the input spares a query
	// racing the workflow's first task.
	return c.JSON(http.StatusCreated, initialState(id, in, campaign))
}

// existing answers 200 with the collaboration if its workflow exists: from a query, or from
// its start when the workflow's first task has not run yet and cannot answer one.
func (s *Server) existing(c echo.Context, id string, in startCollaborationInput, campaign campaigns.Campaign) (bool, error) {
	ctx := c.Request().Context()
	state, err := s.queryState(ctx, id)
	if err == nil {
		return true, c.JSON(http.StatusOK, state)
	}
	desc, derr := s.temporal.DescribeWorkflowExecution(ctx, id, "")
	switch {
	case isNotFound(derr):
		return false, nil
	case derr != nil:
		return false, derr
	case desc.GetWorkflowExecutionInfo().GetHistoryLength() <= firstTaskEvents:
		return true, c.JSON(http.StatusOK, initialState(id, in, campaign))
	}
	// It exists and has run. A query that found no workflow raced its creation by a
	// concurrent start (seen with double clicks): ask once more; a second failure is
	// the answer.
	if state, err = s.queryState(ctx, id); err != nil {
		return true, err
	}
	return true, c.JSON(http.StatusOK, state)
}

// firstTaskEvents is the history of a workflow whose first task has not completed:
// started, task scheduled, task started.
const firstTaskEvents = 3

// initialState is a collaboration as it starts, before its workflow has run.
func initialState(id string, in startCollaborationInput, campaign campaigns.Campaign) workflows.CollaborationState {
	return workflows.CollaborationState{
		ID: id, CampaignID: in.CampaignID, CreatorID: in.CreatorID, Stage: workflows.StageOutreach,
		Timings: campaign.Timings, Events: []workflows.Event{}, Offers: []workflows.Offer{},
		Drafts: []workflows.Draft{}, Posts: []workflows.Post{}, Payouts: []workflows.PayoutState{},
	}
}

func (s *Server) getCollaboration(c echo.Context) error {
	id, err := collaborationID(c)
	if err != nil {
		return err
	}
	state, err := s.queryState(c.Request().Context(), id)
	if isNotFound(err) {
		return notFound("collaboration")
	}
	if err != nil {
		return err
	}
	if err := s.hideErased(c.Request().Context(), &state); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, collaborationView{CollaborationState: state, RightsNow: rightsNow(state.Rights, time.Now())})
}

// collaborationView is a collaboration's state with what its rights allow today.
type collaborationView struct {
	workflows.CollaborationState
	RightsNow *rightsToday `json:"rights_now,omitempty"`
}

// rightsToday says, as of a moment, whether each window of the rights is still open.
type rightsToday struct {
	// Summary is the whole in a sentence, for people.
	Summary     string       `json:"summary"`
	Usage       *windowToday `json:"usage,omitempty"`
	Exclusivity *windowToday `json:"exclusivity,omitempty"`
}

// windowToday is one window of the rights as of a moment.
type windowToday struct {
	Until    time.Time `json:"until"`
	Open     bool      `json:"open"`
	DaysLeft int       `json:"days_left"`
}

// rightsNow is what the brand may still do with the content at now: nil before the posts
// are live or when the terms grant no rights.
func rightsNow(r *workflows.RightsState, now time.Time) *rightsToday {
	if r == nil {
		return nil
	}
	window := func(until time.Time) *windowToday {
		if until.IsZero() {
			return nil
		}
		w := &windowToday{Until: until, Open: now.Before(until)}
		if w.Open {
			w.DaysLeft = int(until.Sub(now).Hours() / 24)
		}
		return w
	}
	t := &rightsToday{Usage: window(r.UsageUntil), Exclusivity: window(r.ExclusivityUntil)}
	var parts []string
	switch u := t.Usage; {
	case u == nil:
		parts = append(parts, "the terms grant no reuse of the content")
	case u.Open:
		parts = append(parts, fmt.Sprintf("the brand may reuse the content until %s (%d days left)", u.Until.Format("2 January 2006"), u.DaysLeft))
	default:
		parts = append(parts, fmt.Sprintf("the brand's right to reuse the content ended on %s", u.Until.Format("2 January 2006")))
	}
	switch e := t.Exclusivity; {
	case e == nil:
	case e.Open:
		parts = append(parts, fmt.Sprintf("the creator works with no competitor until %s", e.Until.Format("2 January 2006")))
	default:
		parts = append(parts, fmt.Sprintf("exclusivity ended on %s", e.Until.Format("2 January 2006")))
	}
	t.Summary = strings.Join(parts, "; ")
	return t
}

// listCollaborations lists from the read model, filtered by campaign, creator, stage and
// whether ops' decision is awaited (?attention=true|false); each item carries its open
// escalation as "attention": {reason, since}.
func (s *Server) listCollaborations(c echo.Context) error {
	limit, after, err := pageParams(c)
	if err != nil {
		return err
	}
	f := store.CollaborationFilter{
		CampaignID: c.QueryParam("campaign_id"),
		CreatorID:  c.QueryParam("creator_id"),
		Stage:      c.QueryParam("stage"),
		After:      after,
		Limit:      limit,
	}
	for name, v := range map[string]*string{"campaign_id": &f.CampaignID, "creator_id": &f.CreatorID} {
		if *v == "" {
			continue
		}
		if *v, err = canonicalID(name, *v, badRequest(name, "must be an id")); err != nil {
			return err
		}
	}
	if f.Stage != "" && !slices.Contains(workflows.Stages, workflows.Stage(f.Stage)) {
		return badRequest("stage", "not a stage")
	}
	if f.Attention, err = boolParam(c, "attention"); err != nil {
		return err
	}
	if f.Overdue, err = boolParam(c, "overdue"); err != nil {
		return err
	}
	f.Now = time.Now()
	if f.Tier = c.QueryParam("tier"); f.Tier != "" && !slices.Contains(roster.Tiers, roster.Tier(f.Tier)) {
		return badRequest("tier", "one of nano, micro, mid, macro, mega")
	}
	list, next, err := s.store.ListCollaborations(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listResponse[store.Collaboration]{Items: list, Next: next})
}

// reasonInput is the body of the calls that end a collaboration.
type reasonInput struct {
	Reason string `json:"reason" validate:"required,max=1000"`
}

// reason trims and validates the reason.
func (in *reasonInput) reason(s *Server) (string, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	if err := s.validate.Struct(in); err != nil {
		return "", validationError(err)
	}
	return in.Reason, nil
}

// cancelCollaboration ends a collaboration through a workflow update, so the answer is
// the state after the cancel (or 202 while it is still under way). A retry with the same
// Idempotency-Key is not applied twice.
func (s *Server) cancelCollaboration(c echo.Context) error {
	var in reasonInput
	return s.collabUpdate(c, &in, workflows.UpdateCancel, func() (any, error) {
		reason, err := in.reason(s)
		return workflows.CancelRequest{Actor: actor(c), Reason: reason}, err
	})
}

// queryState asks the workflow for its state; it works on closed workflows too.
func (s *Server) queryState(ctx context.Context, id string) (workflows.CollaborationState, error) {
	var state workflows.CollaborationState
	resp, err := s.temporal.QueryWorkflow(ctx, id, "", workflows.QueryState)
	if err != nil {
		return state, err
	}
	if err := resp.Get(&state); err != nil {
		return state, err
	}
	return state, nil
}

// collaborationID reads :id as "collab-<campaign id>-<creator id>", in any case, and
// returns the workflow ID of that pair; a value that is not a collaboration ID is not found.
func collaborationID(c echo.Context) (string, error) {
	id, ok := canonicalCollaborationID(c.Param("id"))
	if !ok {
		return "", notFound("collaboration")
	}
	return id, nil
}

// canonicalCollaborationID reads "collab-<campaign id>-<creator id>" in any case and
// returns the workflow ID of that pair, the one form every table and workflow uses.
func canonicalCollaborationID(raw string) (string, bool) {
	pair, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(raw)), "collab-")
	if !ok || len(pair) != 2*36+1 || pair[36] != '-' {
		return "", false
	}
	campaign, err := canonicalID("id", pair[:36], errNotAnID)
	if err != nil {
		return "", false
	}
	creator, err := canonicalID("id", pair[37:], errNotAnID)
	if err != nil {
		return "", false
	}
	return workflows.CollaborationID(campaign, creator), true
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

type replyInput struct {
	Note string `json:"note" validate:"max=1000"`
}

// recordReply is ops telling the workflow a creator replied some other way (a DM, a call).
func (s *Server) recordReply(c echo.Context) error {
	var in replyInput
	noteID := ""
	err := s.collabUpdate(c, &in, workflows.UpdateRecordReply, func() (any, error) {
		if err := s.validate.Struct(in); err != nil {
			return nil, validationError(err)
		}
		req := workflows.ReplyRequest{Actor: actor(c)}
		note := strings.TrimSpace(in.Note)
		if note == "" {
			return req, nil
		}
		// What ops typed may quote the creator: it is kept here, and the workflow gets its id.
		id, err := collaborationID(c)
		if err != nil {
			return nil, err
		}
		saved, err := s.store.SaveNote(c.Request().Context(), store.Note{CollaborationID: id, Kind: store.NoteReply, Body: note, Author: req.Actor.Name})
		if err != nil {
			return nil, err
		}
		req.NoteID, noteID = saved.ID, saved.ID
		return req, nil
	})
	if err != nil && noteID != "" && refused(err) {
		if derr := s.store.DiscardNote(c.Request().Context(), noteID); derr != nil {
			s.logger.Warn("refused reply note not discarded", "note_id", noteID, "error", derr)
		}
	}
	return err
}

// listNotes returns what people typed about a collaboration that may quote the creator
// (replies recorded by hand), which the history refers to by id.
func (s *Server) listNotes(c echo.Context) error {
	id, err := collaborationID(c)
	if err != nil {
		return err
	}
	notes, err := s.store.Notes(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if notes == nil {
		notes = []store.Note{}
	}
	return c.JSON(http.StatusOK, map[string]any{"notes": notes})
}

// listEmails is a collaboration's email log: what was sent and what became of it. Bodies
// carry the creator's links (contract, content portal, unsubscribe) and the reply address
// carries the reply token; each is the creator's credential, so only ops see them as sent.
// Every other role gets the same log with the tokens replaced by a marker.
func (s *Server) listEmails(c echo.Context) error {
	id, err := collaborationID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	emails, err := s.store.Emails(ctx, id)
	if err != nil {
		return err
	}
	if len(emails) == 0 {
		// No email yet or no such collaboration: the read model, whose row a start writes
		// before the workflow, tells them apart without a call to Temporal.
		if _, err := s.store.Collaboration(ctx, id); errors.Is(err, store.ErrNotFound) {
			return notFound("collaboration")
		} else if err != nil {
			return err
		}
	}
	if actor(c).Role != RoleOps {
		for i := range emails {
			emails[i].BodyText = redactTokens(emails[i].BodyText)
			emails[i].ReplyTo = redactTokens(emails[i].ReplyTo)
			for j := range emails[i].Events {
				// A provider's click event names the link clicked.
				emails[i].Events[j].Detail = redactTokens(emails[i].Events[j].Detail)
			}
		}
	}
	return c.JSON(http.StatusOK, listResponse[store.Email]{Items: emails})
}

var (
	// linkToken is a link path's token: what follows /portal/<page>/ or /u/ up to a space
	// or a character that ends a URL in text.
	linkToken = regexp.MustCompile(`(/portal/[A-Za-z]+/|/u/)[^\s"'<>]+`)
	// replyToken is the token of a reply+<token>@ address.
	replyToken = regexp.MustCompile(`(?i)(reply\+)[^@\s"'<>]+@`)
)

// redactTokens replaces link and reply tokens in s with a marker; the rest of s is kept.
func redactTokens(s string) string {
	s = linkToken.ReplaceAllString(s, "${1}"+linkRedacted)
	return replyToken.ReplaceAllString(s, "${1}[token redacted]@")
}

// boolParam reads an optional true|false query parameter.
func boolParam(c echo.Context, name string) (*bool, error) {
	switch c.QueryParam(name) {
	case "":
		return nil, nil
	case "true":
		v := true
		return &v, nil
	case "false":
		v := false
		return &v, nil
	}
	return nil, badRequest(name, "true or false")
}

// campaignPipeline counts the campaign's collaborations per stage, in the lifecycle's
// order, with how many are overdue, on hold or waiting for ops, and the agreed fees: one
// grouped query on the read model.
func (s *Server) campaignPipeline(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.store.Campaign(ctx, id); err != nil {
		return notFoundAs(err, "campaign")
	}
	stages := stageNames()
	p, err := s.store.CampaignPipeline(ctx, id, stages, time.Now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

type pauseInput struct {
	Reason string `json:"reason" validate:"max=1000"`
}

// pauseOutreach pauses a collaboration's outreach sequence: nothing is sent and its waits
// stand still until resumeOutreach.
func (s *Server) pauseOutreach(c echo.Context) error {
	return s.pauseOrResume(c, workflows.UpdatePause)
}

// resumeOutreach lets a paused sequence carry on where it was.
func (s *Server) resumeOutreach(c echo.Context) error {
	return s.pauseOrResume(c, workflows.UpdateResume)
}

func (s *Server) pauseOrResume(c echo.Context, update string) error {
	var in pauseInput
	return s.collabUpdate(c, &in, update, func() (any, error) {
		if err := s.validate.Struct(in); err != nil {
			return nil, validationError(err)
		}
		return workflows.PauseRequest{Actor: actor(c), Reason: strings.TrimSpace(in.Reason)}, nil
	})
}

// stageNames are the stages in the lifecycle's order, as the read model stores them.
func stageNames() []string {
	names := make([]string, len(workflows.Stages))
	for i, st := range workflows.Stages {
		names[i] = string(st)
	}
	return names
}

// erasedMark stands, in what the API and the console show, for text that may carry an
// erased creator's handle.
const erasedMark = "[erased]"

// hideErased redacts state (see redactErased) when its creator was erased. The history
// keeps the originals: it is the audit record, and GET …/history serves it as recorded.
func (s *Server) hideErased(ctx context.Context, state *workflows.CollaborationState) error {
	if state == nil || state.CreatorID == "" {
		return nil
	}
	creator, err := s.store.Creator(ctx, state.CreatorID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("is the creator of %s erased: %w", state.ID, err)
	case creator.ErasedAt != nil:
		redactErased(state)
	}
	return nil
}

// postLine is a line of verification evidence: "post N (<url>): …".
var postLine = regexp.MustCompile(`(?m)^(post \d+) \(.*$`)

// redactErased replaces what the creator made, and what is made from their handle, with
// erasedMark: post URLs and their verification evidence (which quotes the page and the
// account), draft asset URLs and captions, the discount code, tracking link and any code
// the terms named (made from the handle before codes were random). The same texts, and
// verification lines, are cut out of the free text that quotes them (event details, the
// hold, escalations, reasons, notes and comments). What stays is the record: stages,
// times, actors, counts, checks' names and verdicts, amounts.
func redactErased(st *workflows.CollaborationState) {
	// whole are replaced; free texts keep what does not quote them.
	var whole, free []*string
	for i := range st.Posts {
		p := &st.Posts[i]
		whole, free = append(whole, &p.URL), append(free, &p.Override)
		if p.Verification != nil {
			for j := range p.Verification.Checks {
				whole = append(whole, &p.Verification.Checks[j].Evidence)
			}
		}
	}
	drafts := []*workflows.Draft{st.Approved}
	for i := range st.Drafts {
		drafts = append(drafts, &st.Drafts[i])
	}
	for _, d := range drafts {
		if d == nil {
			continue
		}
		for j := range d.Assets {
			whole = append(whole, &d.Assets[j])
		}
		whole = append(whole, &d.Caption)
		if d.Review != nil {
			free = append(free, &d.Review.Comments)
		}
	}
	if a := st.Attribution; a != nil {
		whole = append(whole, &a.Code, &a.TrackingURL, &a.Requested)
	}
	if st.AgreedTerms != nil {
		whole = append(whole, &st.AgreedTerms.DiscountCode)
	}
	for i := range st.Offers {
		whole, free = append(whole, &st.Offers[i].Terms.DiscountCode), append(free, &st.Offers[i].Note)
	}
	free = append(free, &st.Hold, &st.Escalation, &st.CancelReason, &st.EndReason)
	if st.Attention != nil {
		free = append(free, &st.Attention.Reason)
	}
	for i := range st.Events {
		free = append(free, &st.Events[i].Detail)
	}

	var quoted []string
	for _, p := range whole {
		if *p != "" && *p != erasedMark {
			quoted = append(quoted, *p)
			*p = erasedMark
		}
	}
	// Longest first, so that a URL goes whole before a code inside it; very short texts
	// (a caption of "#ad") would cut words out of everything.
	slices.SortFunc(quoted, func(a, b string) int { return len(b) - len(a) })
	for _, p := range free {
		for _, q := range quoted {
			if len(q) >= 4 {
				*p = strings.ReplaceAll(*p, q, erasedMark)
			}
		}
		*p = postLine.ReplaceAllString(*p, "${1}: "+erasedMark)
	}
}
