package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/experiments"
)

// experimentInput is what a client may set when logging an experiment. Result and
// decision may come at once for a test run before it was logged.
type experimentInput struct {
	Kind       string                `json:"kind"`
	Hypothesis string                `json:"hypothesis"`
	Variable   string                `json:"variable"`
	Variants   []experiments.Variant `json:"variants"`
	Result     string                `json:"result"`
	Decision   string                `json:"decision"`
}

// createExperiment logs an experiment in a campaign. An outreach_ab test's two sequences
// are checked as a campaign's are (templates rendered against sample data, one email per
// follow-up the campaign's timings wait for), so launch can assign them without failing
// later; a second open outreach test is a 409.
func (s *Server) createExperiment(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	var in experimentInput
	if err := decode(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	cp, err := s.store.Campaign(ctx, id)
	if err != nil {
		return notFoundAs(err, "campaign")
	}
	e := experiments.Experiment{
		CampaignID: id, Kind: strings.TrimSpace(in.Kind), Hypothesis: strings.TrimSpace(in.Hypothesis),
		Variable: strings.TrimSpace(in.Variable), Variants: in.Variants, Result: strings.TrimSpace(in.Result),
		Decision: strings.TrimSpace(in.Decision), CreatedBy: actor(c).Name,
	}
	for i := range e.Variants {
		v := &e.Variants[i]
		v.Name, v.Description = strings.TrimSpace(v.Name), strings.TrimSpace(v.Description)
	}
	if err := s.validate.Struct(e); err != nil {
		return validationError(err)
	}
	if fields := e.Check(len(cp.Timings.FollowUpDelays)); fields != nil {
		return invalid(fields)
	}
	created, err := s.store.CreateExperiment(ctx, e)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, created)
}

// listExperiments is a campaign's experiment log, oldest first (keyset by id).
func (s *Server) listExperiments(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	limit, after, err := idPage(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.store.Campaign(ctx, id); err != nil {
		return notFoundAs(err, "campaign")
	}
	list, next, err := s.store.ListExperiments(ctx, id, after, limit)
	if err != nil {
		return err
	}
	if list == nil {
		list = []experiments.Experiment{}
	}
	return c.JSON(http.StatusOK, listResponse[experiments.Experiment]{Items: list, Next: next})
}

// experimentIDs reads the campaign's and the experiment's ids from the path; an id that
// cannot exist is simply not found.
func experimentIDs(c echo.Context) (string, string, error) {
	campaign, err := pathUUID(c, "campaign")
	if err != nil {
		return "", "", err
	}
	eid, err := canonicalID("eid", c.Param("eid"), notFound("experiment"))
	if err != nil {
		return "", "", err
	}
	return campaign, eid, nil
}

func (s *Server) getExperiment(c echo.Context) error {
	campaign, eid, err := experimentIDs(c)
	if err != nil {
		return err
	}
	e, err := s.store.Experiment(c.Request().Context(), campaign, eid)
	if err != nil {
		return notFoundAs(err, "experiment")
	}
	return c.JSON(http.StatusOK, e)
}

// outcomeInput records what an experiment showed and what was decided; an omitted field
// keeps its value.
type outcomeInput struct {
	Result   *string `json:"result"`
	Decision *string `json:"decision"`
}

// patchExperiment records an experiment's result and decision. A decision closes it (and
// frees the campaign for another outreach test); it cannot be cleared, since launch may
// have acted on it.
func (s *Server) patchExperiment(c echo.Context) error {
	campaign, eid, err := experimentIDs(c)
	if err != nil {
		return err
	}
	var in outcomeInput
	if err := decode(c, &in); err != nil {
		return err
	}
	fields := map[string]string{}
	if in.Result == nil && in.Decision == nil {
		fields["body"] = "give result, decision or both"
	}
	if in.Result != nil {
		r := strings.TrimSpace(*in.Result)
		in.Result = &r
		if len([]rune(r)) > 5000 {
			fields["result"] = "at most 5000 characters"
		}
	}
	if in.Decision != nil {
		d := strings.TrimSpace(*in.Decision)
		in.Decision = &d
		switch {
		case d == "":
			fields["decision"] = "must not be empty; omit it to keep the current one"
		case len([]rune(d)) > 2000:
			fields["decision"] = "at most 2000 characters"
		}
	}
	if len(fields) > 0 {
		return invalid(fields)
	}
	e, err := s.store.RecordExperimentOutcome(c.Request().Context(), campaign, eid, in.Result, in.Decision)
	if err != nil {
		return notFoundAs(err, "experiment")
	}
	return c.JSON(http.StatusOK, e)
}
