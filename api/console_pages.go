package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/payout"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// The console's pages read the read model and the workflow's state directly, through the
// store and the state query the API's read routes use: every role may read them, so there
// is no role decision to share, and a board of thirteen columns would otherwise be
// thirteen JSON round trips charged to the key's rate limit. Changes always go through
// the API (dispatch).

// boardColumnCards is how many cards a board column shows; the column's link pages on.
const boardColumnCards = 25

// stageColumnCards is how many cards one column shows when it is the whole board.
const stageColumnCards = 100

// campaignListPage is the console's home: the campaigns, a page at a time.
type campaignListPage struct {
	Campaigns []campaigns.Campaign
	Next      string
}

func (s *Server) campaignList(c echo.Context) error {
	list, next, err := s.store.ListCampaigns(c.Request().Context(), consoleCursor(c), defaultLimit)
	if err != nil {
		return err
	}
	return s.consolePage(c, http.StatusOK, "campaigns", consoleData{Title: "Campaigns", Page: campaignListPage{Campaigns: list, Next: next}})
}

// consoleCursor is a page's ?after= id cursor; one that is not an id (edited by hand)
// starts from the first page rather than showing an error.
func consoleCursor(c echo.Context) string {
	after, err := canonicalID("after", c.QueryParam("after"), errNotAnID)
	if err != nil {
		return ""
	}
	return after
}

// boardFilter is the board's filters, as the query string gives them.
type boardFilter struct {
	Stage, Tier        string
	Attention, Overdue bool
	After              string
	Tiers              []roster.Tier
	Stages             []workflows.Stage
	AnyFilter          bool
	attention, overdue *bool
	campaignID         string
}

// query is the filter as a query string, with the column's stage and cursor.
func (f boardFilter) query(stage, after string) string {
	v := url.Values{}
	if stage != "" {
		v.Set("stage", stage)
	}
	if after != "" {
		v.Set("after", after)
	}
	if f.Tier != "" {
		v.Set("tier", f.Tier)
	}
	if f.Attention {
		v.Set("attention", "true")
	}
	if f.Overdue {
		v.Set("overdue", "true")
	}
	return "/console/campaigns/" + f.campaignID + "?" + v.Encode()
}

// readBoardFilter reads the query string; values that are not filters are ignored.
func readBoardFilter(c echo.Context, campaignID string) boardFilter {
	f := boardFilter{Tiers: roster.Tiers, Stages: workflows.Stages, campaignID: campaignID}
	if st := c.QueryParam("stage"); slices.Contains(workflows.Stages, workflows.Stage(st)) {
		f.Stage = st
		f.After = c.QueryParam("after")
	}
	if t := c.QueryParam("tier"); slices.Contains(roster.Tiers, roster.Tier(t)) {
		f.Tier = t
	}
	yes := true
	if c.QueryParam("attention") == "true" {
		f.Attention, f.attention = true, &yes
	}
	if c.QueryParam("overdue") == "true" {
		f.Overdue, f.overdue = true, &yes
	}
	f.AnyFilter = f.Stage != "" || f.Tier != "" || f.Attention || f.Overdue
	return f
}

// boardColumn is one stage of the board.
type boardColumn struct {
	store.StageCount
	Cards []boardCard
	// More links to the column's next cards; empty when all are shown.
	More string
	// Only links to the board showing this column alone.
	Only string
}

// boardCard is one collaboration on the board.
type boardCard struct {
	store.Collaboration
	Creator string
	Overdue bool
}

// boardPage is the campaign board.
type boardPage struct {
	Campaign campaigns.Campaign
	Pipeline store.Pipeline
	Columns  []boardColumn
	Filter   boardFilter
	// Clear is the board without filters.
	Clear string
	Bulk  *store.BulkAction
	// Form is the bulk form's last input, shown again with its errors.
	Form bulkForm
	// Roster is the roster's creators without a collaboration in the campaign yet, whom
	// the start form offers; Start is that form's last input.
	Roster []store.RosterCandidate
	Start  startForm
}

// startForm is the board's form starting a collaboration: a creator of the roster, or any
// creator by id. Failed says the last post was refused, so the form shows the errors.
type startForm struct {
	CreatorID string
	Idem      string
	Failed    bool
}

// rosterOffered is how many roster creators the start form lists; a longer roster's
// others are started by id (or by a launch).
const rosterOffered = 500

// bulkForm is the board's bulk form: the selection, the action and the reason.
type bulkForm struct {
	IDs    []string
	Action string
	Reason string
	Idem   string
}

// Selected says whether a card was in the selection.
func (f bulkForm) Selected(id string) bool { return slices.Contains(f.IDs, id) }

func (s *Server) campaignBoard(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	d, err := s.board(c, id, bulkForm{Idem: formToken()}, startForm{Idem: formToken()})
	if err != nil {
		return err
	}
	if b := c.QueryParam("bulk"); b != "" {
		if bulk, err := s.store.BulkActionByID(c.Request().Context(), b); err == nil && bulk.CampaignID == id {
			d.Page.(*boardPage).Bulk = &bulk
		}
	}
	return s.consolePage(c, http.StatusOK, "board", d)
}

// board reads a campaign's board: the pipeline's counts and each column's first cards,
// both filtered, with the creators' names in one query.
func (s *Server) board(c echo.Context, id string, form bulkForm, start startForm) (consoleData, error) {
	ctx := c.Request().Context()
	cp, err := s.store.Campaign(ctx, id)
	if err != nil {
		return consoleData{}, notFoundAs(err, "campaign")
	}
	f := readBoardFilter(c, id)
	stages := stageNames()
	now := time.Now()
	// The counts are of the cards the filters select: a column headed by the whole
	// campaign's count over filtered cards reads as cards missing.
	p, err := s.store.PipelineOf(ctx, store.CollaborationFilter{CampaignID: id, Stage: f.Stage, Tier: f.Tier,
		Attention: f.attention, Overdue: f.overdue, Now: now}, stages)
	if err != nil {
		return consoleData{}, err
	}
	page := &boardPage{Campaign: cp, Pipeline: p, Filter: f, Clear: "/console/campaigns/" + id, Form: form, Start: start}
	// Only ops may start one, so only they are shown whom they could start.
	if consoleSession(c).key.Role == RoleOps {
		if page.Roster, err = s.store.RosterNotStarted(ctx, id, rosterOffered); err != nil {
			return consoleData{}, err
		}
	}
	var ids []string
	for _, sc := range p.Stages {
		if f.Stage != "" && sc.Stage != f.Stage {
			continue
		}
		limit := boardColumnCards
		if f.Stage != "" {
			limit = stageColumnCards
		}
		list, next, err := s.store.ListCollaborations(ctx, store.CollaborationFilter{CampaignID: id, Stage: sc.Stage, Tier: f.Tier,
			Attention: f.attention, Overdue: f.overdue, Now: now, After: f.After, Limit: limit})
		if err != nil {
			return consoleData{}, err
		}
		col := boardColumn{StageCount: sc, Only: f.query(sc.Stage, "")}
		if next != "" {
			col.More = f.query(sc.Stage, next)
		}
		for _, row := range list {
			overdue := row.DueAt != nil && row.DueAt.Before(now) && slices.Contains(store.WaitingStages, row.Stage)
			col.Cards = append(col.Cards, boardCard{Collaboration: row, Overdue: overdue})
			ids = append(ids, row.CreatorID)
		}
		page.Columns = append(page.Columns, col)
	}
	names, err := s.store.CreatorNames(ctx, ids)
	if err != nil {
		return consoleData{}, err
	}
	for i := range page.Columns {
		for j := range page.Columns[i].Cards {
			card := &page.Columns[i].Cards[j]
			if card.Creator = names[card.CreatorID]; card.Creator == "" {
				card.Creator = "(erased creator)"
			}
		}
	}
	return consoleData{Title: cp.Name, Page: page}, nil
}

// boardBulk is the board's bulk form: pause, resume or cancel the selected cards, through
// POST /v1/campaigns/{id}/bulk. An empty selection is refused here: the API would take it
// as every open collaboration of the campaign, which a forgotten tick must not do.
func (s *Server) boardBulk(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return badRequest("form", "not a form")
	}
	in := bulkForm{IDs: form["ids"], Action: c.FormValue("action"), Reason: c.FormValue("reason"), Idem: c.FormValue("_idem")}
	if in.Idem == "" {
		in.Idem = formToken()
	}
	msg, fields, status := "", map[string]string{}, http.StatusUnprocessableEntity
	if len(in.IDs) == 0 {
		msg, fields["collaboration_ids"] = "validation failed", "select at least one card"
	} else {
		a, err := s.dispatch(c, http.MethodPost, "/v1/campaigns/"+id+"/bulk", bulkBody(in), in.Idem)
		if err != nil {
			return err
		}
		if a.Status == http.StatusAccepted {
			var b store.BulkAction
			if err := json.Unmarshal(a.Body, &b); err != nil {
				return fmt.Errorf("bulk answer: %w", err)
			}
			return c.Redirect(http.StatusSeeOther, "/console/campaigns/"+id+"?bulk="+url.QueryEscape(b.ID))
		}
		msg, fields = refusal(a)
		status = a.Status
	}
	d, err := s.board(c, id, in, startForm{Idem: formToken()})
	if err != nil {
		return err
	}
	d.Error, d.Fields = msg, fields
	return s.consolePage(c, status, "board", d)
}

// bulkBody is the request body of POST /v1/campaigns/{id}/bulk made from the bulk form.
func bulkBody(in bulkForm) map[string]any {
	return map[string]any{"action": in.Action, "reason": in.Reason, "collaboration_ids": in.IDs}
}

// startBody is the request body of POST /v1/collaborations made from the start form.
func startBody(campaignID, creatorID string) map[string]any {
	return map[string]any{"campaign_id": campaignID, "creator_id": creatorID}
}

// startNotices are the collaboration page's notices after the board's start form: the
// API answers 201 for a new collaboration, 200 for the pair's existing one.
var startNotices = map[string]string{
	"start":  "Collaboration started: outreach is under way.",
	"exists": "This creator already has this collaboration in the campaign; here it is.",
}

// boardStart is the board's start form: a collaboration of the campaign with a creator,
// through POST /v1/collaborations, which starts its workflow (with its search attributes)
// or answers the one that exists. Either way the browser goes to its page.
func (s *Server) boardStart(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	in := startForm{CreatorID: strings.TrimSpace(c.FormValue("creator_id")), Idem: c.FormValue("_idem"), Failed: true}
	if in.Idem == "" {
		in.Idem = formToken()
	}
	a, err := s.dispatch(c, http.MethodPost, "/v1/collaborations", startBody(id, in.CreatorID), in.Idem)
	if err != nil {
		return err
	}
	if a.Status == http.StatusCreated || a.Status == http.StatusOK {
		var started struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(a.Body, &started); err != nil || started.ID == "" {
			return fmt.Errorf("start answer %q: %w", a.Body, err)
		}
		done := "start"
		if a.Status == http.StatusOK {
			done = "exists"
		}
		return c.Redirect(http.StatusSeeOther, "/console/collaborations/"+url.PathEscape(started.ID)+"?done="+done)
	}
	d, err := s.board(c, id, bulkForm{Idem: formToken()}, in)
	if err != nil {
		return err
	}
	d.Error, d.Fields = refusal(a)
	return s.consolePage(c, a.Status, "board", d)
}

// stageStep is one stage a collaboration passed through, and how long it stayed.
type stageStep struct {
	Stage     string
	EnteredAt time.Time
	For       time.Duration
	Current   bool
}

// collaborationPage is everything the collaboration page shows.
type collaborationPage struct {
	State    workflows.CollaborationState
	Campaign campaigns.Campaign
	Creator  string
	Path     []stageStep
	Emails   []store.Email
	// LatestOffer is the offer an accept would agree to; 0 when there is none.
	LatestOffer int
	// PendingDraft is the draft waiting for review; 0 when none.
	PendingDraft int
	Open         bool
	// Declinable says the collaboration may still end as declined: not signed yet.
	Declinable bool
	// WantsPost says the collaboration waits for the URL of a live post.
	WantsPost bool
	// Deadline is the running draft, review or post deadline ops may extend (DeadlineOf
	// names it); zero when none runs.
	Deadline   time.Time
	DeadlineOf string
	// ExtendChoices are the durations the extend form offers.
	ExtendChoices []extendChoice
	// Metrics is the newest metrics snapshot; nil before any.
	Metrics *payout.Metrics
	Idem    string
	// Form is the last action's input, shown again with its errors; Action names it.
	Form   map[string]string
	Action string
}

// Value is a field of the last form's input.
func (p collaborationPage) Value(name string) string { return p.Form[name] }

func (s *Server) collaborationPage(c echo.Context) error {
	d, err := s.collaboration(c)
	if err != nil {
		return err
	}
	if a, ok := collabActions[c.QueryParam("done")]; ok {
		d.Notice = a.done
	} else if notice, ok := startNotices[c.QueryParam("done")]; ok {
		d.Notice = notice
	}
	return s.consolePage(c, http.StatusOK, "collaboration", d)
}

// collaboration reads a collaboration's page: its state from the workflow, its stage path
// and emails from the read model.
func (s *Server) collaboration(c echo.Context) (consoleData, error) {
	id, err := collaborationID(c)
	if err != nil {
		return consoleData{}, err
	}
	ctx := c.Request().Context()
	state, err := s.queryState(ctx, id)
	if isNotFound(err) {
		return consoleData{}, notFound("collaboration")
	} else if err != nil {
		return consoleData{}, err
	}
	if err := s.hideErased(ctx, &state); err != nil {
		return consoleData{}, err
	}
	p := &collaborationPage{State: state, Open: !state.Stage.Terminal(), Idem: formToken(), Form: map[string]string{}}
	if p.Campaign, err = s.store.Campaign(ctx, state.CampaignID); err != nil {
		return consoleData{}, err
	}
	names, err := s.store.CreatorNames(ctx, []string{state.CreatorID})
	if err != nil {
		return consoleData{}, err
	}
	if p.Creator = names[state.CreatorID]; p.Creator == "" {
		p.Creator = "(erased creator)"
	}
	history, err := s.store.StageHistory(ctx, id)
	if err != nil {
		return consoleData{}, err
	}
	for i, h := range history {
		step := stageStep{Stage: h.Stage, EnteredAt: h.EnteredAt}
		if i+1 < len(history) {
			step.For = history[i+1].EnteredAt.Sub(h.EnteredAt)
		} else {
			step.Current = true
			if !state.Stage.Terminal() {
				step.For = time.Since(h.EnteredAt)
			}
		}
		p.Path = append(p.Path, step)
	}
	if p.Emails, err = s.store.Emails(ctx, id); err != nil {
		return consoleData{}, err
	}
	// As GET /v1/collaborations/{id}/emails: link and reply tokens are ops' to see.
	if consoleSession(c).key.Role != RoleOps {
		for i := range p.Emails {
			p.Emails[i].BodyText = redactTokens(p.Emails[i].BodyText)
			p.Emails[i].ReplyTo = redactTokens(p.Emails[i].ReplyTo)
		}
	}
	switch m, err := s.store.LatestMetrics(ctx, id); {
	case err == nil:
		p.Metrics = &m
	case !errors.Is(err, store.ErrNotFound):
		return consoleData{}, err
	}
	if n := len(state.Offers); n > 0 {
		p.LatestOffer = state.Offers[n-1].N
	}
	if n := len(state.Drafts); n > 0 && state.Stage == workflows.StageInReview && state.Drafts[n-1].Review == nil {
		p.PendingDraft = state.Drafts[n-1].N
	}
	// As the workflow's validators judge them; the buttons only spare refusals.
	signed := state.Contract != nil && state.Contract.Signed != nil
	p.Declinable = !signed && slices.Contains([]workflows.Stage{workflows.StageOutreach, workflows.StageNegotiating, workflows.StageContracting}, state.Stage)
	p.WantsPost = state.Stage == workflows.StageAwaitingPost && len(state.Posts) < state.PostsRequired
	p.Deadline, p.DeadlineOf = runningDeadline(state)
	p.ExtendChoices = extendChoices
	return consoleData{Title: p.Creator + " · " + p.Campaign.Name, Page: p}, nil
}

// extendChoice is one duration of the extend form: the API's value and its words.
type extendChoice struct{ Value, Label string }

// extendChoices are the extensions the console offers; the API takes any from an hour to
// 90 days.
var extendChoices = []extendChoice{
	{"24h", "1 day"}, {"72h", "3 days"}, {"168h", "1 week"}, {"336h", "2 weeks"}, {"720h", "30 days"},
}

// runningDeadline is the deadline the collaboration waits out in its stage, which ops may
// extend, and what is due by it; zero in stages without one (as the workflow judges it,
// the form only spares refusals).
func runningDeadline(st workflows.CollaborationState) (time.Time, string) {
	switch {
	case st.Stage == workflows.StageInProduction && !st.DraftDue.IsZero():
		return st.DraftDue, fmt.Sprintf("draft %d", len(st.Drafts)+1)
	case st.Stage == workflows.StageInReview && !st.ReviewDue.IsZero():
		return st.ReviewDue, fmt.Sprintf("review of draft %d", len(st.Drafts))
	case st.Stage == workflows.StageAwaitingPost && len(st.Posts) < st.PostsRequired:
		return st.PostsDue, "posts"
	}
	return time.Time{}, ""
}

// collabAction is one action on the collaboration page: the API route it calls (after
// /v1/collaborations/{id}/) and the request body made from the form.
type collabAction struct {
	route func(form func(string) string) string
	body  func(form func(string) string) (any, map[string]string)
	done  string
}

// fixed is a route that does not depend on the form.
func fixed(route string) func(func(string) string) string {
	return func(func(string) string) string { return route }
}

// reasonBody is the body of the actions that take only a reason.
func reasonBody(form func(string) string) (any, map[string]string) {
	return map[string]string{"reason": form("reason")}, nil
}

// collabActions are the actions a person takes on a collaboration, by form name.
var collabActions = map[string]collabAction{
	"reply": {route: fixed("replies"), done: "Reply recorded.", body: func(form func(string) string) (any, map[string]string) {
		return map[string]string{"note": form("note")}, nil
	}},
	"offer": {route: fixed("offers"), done: "Offer recorded.", body: offerBody},
	"accept": {route: fixed("accept"), done: "Offer accepted: the contract goes out.", body: func(form func(string) string) (any, map[string]string) {
		n, err := strconv.Atoi(form("offer"))
		if err != nil {
			return nil, map[string]string{"offer": "an offer number"}
		}
		return map[string]int{"offer": n}, nil
	}},
	"pause":  {route: fixed("pause"), done: "Outreach paused.", body: reasonBody},
	"resume": {route: fixed("resume"), done: "Outreach resumed.", body: reasonBody},
	"cancel": {route: fixed("cancel"), done: "Collaboration cancelled.", body: reasonBody},
	"review": {done: "Review recorded.",
		route: func(form func(string) string) string { return "drafts/" + url.PathEscape(form("draft")) + "/review" },
		body: func(form func(string) string) (any, map[string]string) {
			return map[string]string{"decision": form("decision"), "comments": form("comments")}, nil
		}},
	"decline": {route: fixed("decline"), done: "Collaboration declined.", body: reasonBody},
	"draft": {route: fixed("drafts"), done: "Draft submitted for review.", body: func(form func(string) string) (any, map[string]string) {
		return map[string]any{"assets": lines(form("assets")), "caption": form("caption")}, nil
	}},
	"post": {route: fixed("posts"), done: "Post submitted for verification.", body: func(form func(string) string) (any, map[string]string) {
		return map[string]string{"url": form("url")}, nil
	}},
	"resolve": {route: fixed("resolve"), done: "Decision recorded.", body: func(form func(string) string) (any, map[string]string) {
		return map[string]string{"decision": form("decision"), "reason": form("reason")}, nil
	}},
	"extend": {route: fixed("deadline/extend"), done: "Deadline extended.", body: func(form func(string) string) (any, map[string]string) {
		return map[string]string{"by": form("by"), "reason": form("reason")}, nil
	}},
	"override": {route: fixed("verification/override"), done: "Verification overridden.", body: func(form func(string) string) (any, map[string]string) {
		n, err := strconv.Atoi(form("post"))
		if err != nil {
			return nil, map[string]string{"post": "a post number, or 0 to release the payout hold"}
		}
		return map[string]any{"post": n, "reason": form("reason")}, nil
	}},
}

// lines are a textarea's non-blank lines, trimmed: the draft form's asset links, one a
// line. None is an empty list, which the API refuses by its field name.
func lines(text string) []string {
	out := []string{}
	for l := range strings.Lines(text) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// offerBody is an offer of one deliverable at a fixed fee typed in the currency's major
// unit (1200.50), sent in minor units as the API takes it.
func offerBody(form func(string) string) (any, map[string]string) {
	bad := map[string]string{}
	fee, err := strconv.ParseFloat(strings.TrimSpace(form("fixed_fee")), 64)
	if err != nil || fee < 0 || fee > 1e12 {
		bad["terms.fixed_fee"] = "an amount such as 1200 or 1200.50"
	}
	count, err := strconv.Atoi(strings.TrimSpace(form("count")))
	if err != nil {
		bad["terms.deliverables[0].count"] = "a whole number"
	}
	if len(bad) > 0 {
		return nil, bad
	}
	return map[string]any{"from": form("from"), "note": form("note"), "terms": map[string]any{
		"deliverables":    []map[string]any{{"platform": form("platform"), "format": form("format"), "count": count}},
		"currency":        strings.ToUpper(strings.TrimSpace(form("currency"))),
		"fixed_fee":       int64(math.Round(fee * 100)),
		"disclosure_text": form("disclosure_text"),
	}}, nil
}

// collaborationAction takes one action through the API and shows the page again: after a
// success by redirecting to it (so a reload does not post again), after a refusal with the
// API's errors beside the form.
func (s *Server) collaborationAction(c echo.Context) error {
	name := c.Param("action")
	a, ok := collabActions[name]
	if !ok {
		return notFound("console action")
	}
	id, err := collaborationID(c)
	if err != nil {
		return err
	}
	form := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	body, fields := a.body(form)
	msg, status := "validation failed", http.StatusUnprocessableEntity
	if fields == nil {
		answer, err := s.dispatch(c, http.MethodPost, "/v1/collaborations/"+id+"/"+a.route(form), body, form("_idem"))
		if err != nil {
			return err
		}
		if answer.Status < 300 {
			return c.Redirect(http.StatusSeeOther, "/console/collaborations/"+id+"?done="+name)
		}
		msg, fields = refusal(answer)
		status = answer.Status
	}
	d, err := s.collaboration(c)
	if err != nil {
		return err
	}
	p := d.Page.(*collaborationPage)
	p.Action = name
	if params, err := c.FormParams(); err == nil {
		for k := range params {
			if k != "_csrf" && k != "_idem" {
				p.Form[k] = form(k)
			}
		}
	}
	if msg == "validation failed" && len(fields) == 0 {
		msg = "The API refused this."
	}
	d.Error, d.Fields = msg, fields
	return s.consolePage(c, status, "collaboration", d)
}

// formatMoney shows minor units of a currency as an amount with two decimals.
func formatMoney(currency string, minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, minor/100, minor%100, currency)
}

// formatDuration shows a stay in a stage in its largest units: 3d 4h, 2h 5m, 40s.
func formatDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}
