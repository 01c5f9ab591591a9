package api

import (
	"bytes"
	"context"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/report"
)

// campaignReport measures a campaign (see the report package for the definitions): JSON,
// or CSV when the client accepts text/csv. The rows come from four queries over one
// snapshot, whatever the number of collaborations.
func (s *Server) campaignReport(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	_, r, err := s.buildReport(c.Request().Context(), id)
	if err != nil {
		return err
	}
	c.Response().Header().Add("Vary", "Accept")
	if !wantsCSV(c.Request().Header.Get("Accept")) {
		return c.JSON(http.StatusOK, r)
	}
	// Written to memory first: a failure half-way answers an error, not half a file.
	var buf bytes.Buffer
	if err := report.WriteCSV(&buf, r); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="campaign-`+id+`-report.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// buildReport reads a campaign and measures it: the API's report and the console's report
// page are the same figures.
func (s *Server) buildReport(ctx context.Context, id string) (campaigns.Campaign, report.Report, error) {
	cp, err := s.store.Campaign(ctx, id)
	if err != nil {
		return cp, report.Report{}, notFoundAs(err, "campaign")
	}
	rows, err := s.store.ReportRows(ctx, id)
	if err != nil {
		return cp, report.Report{}, err
	}
	stages := stageNames()
	in := report.Input{CampaignID: id, Stages: stages, Rows: rows, AsOf: time.Now()}
	if b := cp.Budget; b != nil {
		in.Budget = &report.Money{Currency: b.Currency, Amount: b.Amount}
	}
	return cp, report.Build(in), nil
}

// wantsCSV reports whether an Accept header asks for text/csv (with a non-zero q); JSON
// is the answer to anything else, including no header.
func wantsCSV(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "text/csv" {
			continue
		}
		q, ok := params["q"]
		if !ok {
			return true
		}
		if v, err := strconv.ParseFloat(q, 64); err == nil && v > 0 {
			return true
		}
	}
	return false
}

// putCampaignBudget sets a campaign's budget {currency, amount}, which its report sets
// payouts against.
func (s *Server) putCampaignBudget(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	var b campaigns.Budget
	if err := decode(c, &b); err != nil {
		return err
	}
	b.Currency = strings.ToUpper(strings.TrimSpace(b.Currency))
	if err := s.validate.Struct(b); err != nil {
		return validationError(err)
	}
	cp, err := s.store.SetCampaignBudget(c.Request().Context(), id, &b)
	if err != nil {
		return notFoundAs(err, "campaign")
	}
	return c.JSON(http.StatusOK, cp)
}
