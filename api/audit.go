package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/audit"
)

// history returns the Temporal event history of every run of the collaboration, oldest
// first, each run in the JSON format of `temporal workflow show --output json`;
// ?run_id= returns that one run alone, exactly in that format.
func (s *Server) history(c echo.Context) error {
	id, runs, err := s.runs(c)
	if err != nil {
		return err
	}
	if runID := c.QueryParam("run_id"); runID != "" {
		for _, r := range runs {
			if r.RunID == runID {
				b, err := audit.MarshalRun(r.History)
				if err != nil {
					return err
				}
				return c.JSONBlob(http.StatusOK, b)
			}
		}
		return notFound("run")
	}
	b, err := audit.MarshalExport(id, runs)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, b)
}

// timeline is the collaboration's record as an auditor reads it: every change with its
// actor and request ID, and how long each stage lasted; ?at=RFC3339 shows it as it was.
func (s *Server) timeline(c echo.Context) error {
	id, err := collaborationID(c)
	if err != nil {
		return err
	}
	var at time.Time
	if v := c.QueryParam("at"); v != "" {
		if at, err = time.Parse(time.RFC3339, v); err != nil {
			return badRequest("at", "an RFC 3339 time such as 2027-01-31T12:00:00Z")
		}
	}
	state, err := s.queryState(c.Request().Context(), id)
	if isNotFound(err) {
		return notFound("collaboration")
	} else if err != nil {
		return err
	}
	// An erased creator's post URLs, evidence, captions and codes are redacted here as in
	// every read view; GET …/history keeps them as recorded.
	ctx := c.Request().Context()
	if err := s.hideErased(ctx, &state); err != nil {
		return err
	}
	t := audit.BuildTimeline(state, at, time.Now().UTC())
	if !at.IsZero() {
		runs, err := audit.Fetch(ctx, s.temporal, id)
		if err != nil {
			return err
		}
		t.State = audit.StateAt(s.dataConverter, audit.Histories(runs), at)
		if err := s.hideErased(ctx, t.State); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, t)
}

// replay replays the collaboration's whole history against the code this server runs.
func (s *Server) replay(c echo.Context) error {
	_, runs, err := s.runs(c)
	if err != nil {
		return err
	}
	res := audit.Replay(s.dataConverter, audit.Histories(runs))
	if err := s.hideErased(c.Request().Context(), res.Final); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"summary": res.Summary(), "result": res})
}

// runs fetches every run of the collaboration named by :id.
func (s *Server) runs(c echo.Context) (string, []audit.Run, error) {
	id, err := collaborationID(c)
	if err != nil {
		return "", nil, err
	}
	runs, err := audit.Fetch(c.Request().Context(), s.temporal, id)
	if isNotFound(err) {
		return "", nil, notFound("collaboration")
	}
	return id, runs, err
}
