package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// queueLength is how many entries a queue page shows, oldest first.
const queueLength = 100

// reviewItem is a draft waiting for review.
type reviewItem struct {
	store.Collaboration
	Creator, Campaign string
	Waiting           time.Duration
	// Left is the time until the review is due; negative once overdue. HasDue is false
	// when the workflow set no deadline.
	Left   time.Duration
	HasDue bool
}

// Overdue says whether the review's deadline has passed.
func (r reviewItem) Overdue() bool { return r.HasDue && r.Left < 0 }

// OverdueBy is how long ago the deadline passed.
func (r reviewItem) OverdueBy() time.Duration { return -r.Left }

// reviewQueuePage is the review queue.
type reviewQueuePage struct {
	Items []reviewItem
	Total int
}

// reviewQueue lists the collaborations whose draft waits for review, the longest waiting
// first, with the time left before the review is due. Every role may read it, as it may
// read the collaborations listed; the review itself is on each collaboration's page.
func (s *Server) reviewQueue(c echo.Context) error {
	ctx := c.Request().Context()
	list, total, err := s.store.StageQueue(ctx, string(workflows.StageInReview), queueLength)
	if err != nil {
		return err
	}
	creators, campaignNames, err := s.names(c, list)
	if err != nil {
		return err
	}
	now := time.Now()
	p := reviewQueuePage{Total: total}
	for _, row := range list {
		it := reviewItem{Collaboration: row, Creator: creators[row.CreatorID], Campaign: campaignNames[row.CampaignID], Waiting: now.Sub(row.StageSince)}
		if row.DueAt != nil {
			it.HasDue, it.Left = true, row.DueAt.Sub(now)
		}
		p.Items = append(p.Items, it)
	}
	return s.consolePage(c, http.StatusOK, "reviews", consoleData{Title: "Review queue", Page: p})
}

// names are the creators' and campaigns' names of a list of collaborations: one query for
// the creators, one lookup per distinct campaign.
func (s *Server) names(c echo.Context, list []store.Collaboration) (creators, campaignNames map[string]string, err error) {
	ctx := c.Request().Context()
	ids := make([]string, 0, len(list))
	campaignNames = map[string]string{}
	for _, row := range list {
		ids = append(ids, row.CreatorID)
		if _, ok := campaignNames[row.CampaignID]; ok {
			continue
		}
		cp, err := s.store.Campaign(ctx, row.CampaignID)
		if err != nil {
			return nil, nil, err
		}
		campaignNames[row.CampaignID] = cp.Name
	}
	if creators, err = s.store.CreatorNames(ctx, ids); err != nil {
		return nil, nil, err
	}
	for _, id := range ids {
		if creators[id] == "" {
			creators[id] = "(erased creator)"
		}
	}
	return creators, campaignNames, nil
}

// payoutReaders are the roles GET /v1/payouts admits; the payout queue shows the same
// ledger, so it admits the same roles.
var payoutReaders = []string{RoleFinance, RoleOps, RoleAuditor}

// payoutQueuePage is the payout queue: pending ledger rows, oldest first.
type payoutQueuePage struct {
	Payouts []store.Payout
	Next    string
	// Confirm is the payout whose confirm form was last posted, with what was typed.
	Confirm, Reference string
	Idem               string
}

func (s *Server) payoutQueue(c echo.Context) error {
	d := consoleData{}
	if c.QueryParam("confirmed") != "" {
		d.Notice = "Payout confirmed."
	}
	return s.renderPayoutQueue(c, http.StatusOK, d, "", "")
}

// renderPayoutQueue shows a page of pending payouts (ids are time-ordered, so the oldest
// come first), with d's messages and the last confirm form's input.
func (s *Server) renderPayoutQueue(c echo.Context, status int, d consoleData, confirm, reference string) error {
	if !slices.Contains(payoutReaders, consoleSession(c).key.Role) {
		return s.consolePage(c, http.StatusForbidden, "message", consoleData{Title: "Payouts",
			Error: "Your role may not read the payout ledger; allowed: " + strings.Join(payoutReaders, ", ")})
	}
	list, next, err := s.store.Payouts(c.Request().Context(), store.PayoutPending, "", consoleCursor(c), queueLength)
	if err != nil {
		return err
	}
	d.Title = "Payout queue"
	d.Page = payoutQueuePage{Payouts: list, Next: next, Confirm: confirm, Reference: reference, Idem: formToken()}
	return s.consolePage(c, status, "payouts", d)
}

// confirmPayoutForm is finance confirming a payout through POST /v1/payouts/{id}/confirm;
// the API decides who may and whether the collaboration takes the payment.
func (s *Server) confirmPayoutForm(c echo.Context) error {
	id, err := pathUUID(c, "payout")
	if err != nil {
		return err
	}
	reference := strings.TrimSpace(c.FormValue("reference"))
	a, err := s.dispatch(c, http.MethodPost, "/v1/payouts/"+id+"/confirm", confirmBody(reference), c.FormValue("_idem"))
	if err != nil {
		return err
	}
	if a.Status == http.StatusOK {
		return c.Redirect(http.StatusSeeOther, "/console/payouts?confirmed="+id)
	}
	d := consoleData{}
	if a.Status == http.StatusAccepted {
		// The collaboration has the confirmation and finishes it; the ledger row follows
		// when the confirmation is sent again.
		d.Notice = "The collaboration took the confirmation and is finishing it: confirm again shortly to mark the ledger paid."
		return s.renderPayoutQueue(c, http.StatusAccepted, d, id, reference)
	}
	d.Error, d.Fields = refusal(a)
	return s.renderPayoutQueue(c, a.Status, d, id, reference)
}

// confirmBody is the request body of POST /v1/payouts/{id}/confirm made from the confirm form.
func confirmBody(reference string) map[string]string {
	return map[string]string{"reference": reference}
}
