package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/fit"
	"github.com/collabflow/collabflow/outreach"
)

// campaignInput is what a client may set on a campaign.
type campaignInput struct {
	Name            string                 `json:"name"`
	Brand           string                 `json:"brand"`
	SenderEmail     string                 `json:"sender_email"`
	LandingURL      string                 `json:"landing_url"`
	Brief           campaigns.Brief        `json:"brief"`
	Compensation    campaigns.Compensation `json:"compensation"`
	UsageRightsDays int                    `json:"usage_rights_days"`
	DisclosureText  string                 `json:"disclosure_text"`
	Timings         campaigns.Timings      `json:"timings"`
	Sequence        []outreach.Step        `json:"sequence"`
	SendWindow      outreach.Window        `json:"send_window"`
	AutoApprove     bool                   `json:"auto_approve"`
	Fit             fit.Rules              `json:"fit"`
	Budget          *campaigns.Budget      `json:"budget"`
}

func (s *Server) createCampaign(c echo.Context) error {
	var in campaignInput
	if err := decode(c, &in); err != nil {
		return err
	}
	cp := campaigns.Campaign{
		Name: strings.TrimSpace(in.Name), Brand: strings.TrimSpace(in.Brand),
		SenderEmail: strings.TrimSpace(in.SenderEmail), LandingURL: strings.TrimSpace(in.LandingURL),
		Brief: in.Brief, Compensation: in.Compensation, UsageRightsDays: in.UsageRightsDays,
		DisclosureText: strings.TrimSpace(in.DisclosureText), Timings: in.Timings,
		Sequence: in.Sequence, SendWindow: in.SendWindow, AutoApprove: in.AutoApprove, Fit: in.Fit, Budget: in.Budget,
	}
	cp.Compensation.Currency = strings.ToUpper(cp.Compensation.Currency)
	if cp.Budget != nil {
		cp.Budget.Currency = strings.ToUpper(strings.TrimSpace(cp.Budget.Currency))
	}
	cp.ApplyDefaults()
	if err := s.validate.Struct(cp); err != nil {
		return validationError(err)
	}
	if fields := checkCampaign(cp); len(fields) > 0 {
		return invalid(fields)
	}
	created, err := s.store.CreateCampaign(c.Request().Context(), cp)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, created)
}

func (s *Server) getCampaign(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	cp, err := s.store.Campaign(c.Request().Context(), id)
	if err != nil {
		return notFoundAs(err, "campaign")
	}
	return c.JSON(http.StatusOK, cp)
}

func (s *Server) listCampaigns(c echo.Context) error {
	limit, after, err := idPage(c)
	if err != nil {
		return err
	}
	list, next, err := s.store.ListCampaigns(c.Request().Context(), after, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listResponse[campaigns.Campaign]{Items: list, Next: next})
}

// checkCampaign applies the rules that span fields or need more than a tag: templates are
// rendered against sample data now, so a broken one fails here and not when it is due.
func checkCampaign(cp campaigns.Campaign) map[string]string {
	fields := map[string]string{}
	if t := cp.Brief.Timeline; t.Start != "" && t.End != "" && t.End < t.Start {
		fields["brief.timeline.end"] = "must not be before brief.timeline.start"
	}
	if len(cp.Sequence) == 0 {
		fields["sequence"] = "at least one email"
	}
	for i, step := range cp.Sequence {
		if field, why := step.Check(); field != "" {
			fields[fmt.Sprintf("sequence[%d].%s", i, field)] = why
		}
	}
	if n := len(cp.Sequence) - 1; n >= 0 && len(cp.Timings.FollowUpDelays) != n {
		fields["timings.follow_up_delays"] = fmt.Sprintf("needs %d entries, one per follow-up in sequence", n)
	}
	if field, why := cp.SendWindow.Check(); field != "" {
		fields["send_window."+field] = why
	}
	if field, why := cp.Fit.Check(); field != "" {
		fields["fit."+field] = why
	}
	return fields
}

// putCampaignFit replaces a campaign's fit rules as a whole (PUT: the body is the complete
// rules, an omitted field is no constraint). Candidates are scored by the new rules at
// once; creators already on the roster stay there.
func (s *Server) putCampaignFit(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	var rules fit.Rules
	if err := decode(c, &rules); err != nil {
		return err
	}
	rules.Normalize()
	if err := s.validate.Struct(rules); err != nil {
		return validationError(err)
	}
	if field, why := rules.Check(); field != "" {
		return invalid(map[string]string{field: why})
	}
	cp, err := s.store.SetCampaignFit(c.Request().Context(), id, rules)
	if err != nil {
		return notFoundAs(err, "campaign")
	}
	return c.JSON(http.StatusOK, cp)
}
