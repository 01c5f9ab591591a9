package api

import (
	"fmt"
	"math"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/report"
	"github.com/collabflow/collabflow/workflows"
)

// The report page draws its charts on the server as SVG: no chart library to embed, no
// script, and the CSP's style-src 'self' styles them through the one style sheet (the
// bars carry classes, not styles).

// Chart geometry, in SVG user units.
const (
	chartLabelWidth = 130
	chartBarWidth   = 360
	chartRowHeight  = 22
	chartBarHeight  = 16
	// chartTextWidth leaves room for the value written after the longest bar.
	chartTextWidth = 150
)

// barChart is a horizontal bar chart: one row per bar, each series scaled to its own
// largest value (spend and results have different units).
type barChart struct {
	Title string
	// Legend names the series by their classes.
	Legend []chartSeries
	Bars   []chartBar
	// Width and Height are the drawing's size.
	Width, Height int
	// Empty says why there is nothing to draw; the chart is not drawn then.
	Empty string
}

// chartSeries is one series of a chart: its name and the class its bars carry.
type chartSeries struct {
	Name, Class string
}

// chartBar is one drawn bar with its label and value text.
type chartBar struct {
	Label, Text, Class string
	// X and Height are the bar's left edge and thickness; Y its top.
	X, Y, TextY, Width, Height float64
	// TextX is where the value text starts: after the bar.
	TextX float64
}

// chartPoint is one value to draw.
type chartPoint struct {
	Label string
	Value float64
	Text  string
}

// newBarChart lays out series side by side per label: series[i][j] is label j's value in
// series i.
func newBarChart(title string, names []chartSeries, series ...[]chartPoint) barChart {
	ch := barChart{Title: title, Legend: names}
	if len(series) == 0 || len(series[0]) == 0 {
		return ch
	}
	peaks := make([]float64, len(series))
	for i, s := range series {
		for _, p := range s {
			peaks[i] = math.Max(peaks[i], p.Value)
		}
	}
	y := 0.0
	for j := range series[0] {
		for i, s := range series {
			p := s[j]
			w := 0.0
			if peaks[i] > 0 {
				w = p.Value / peaks[i] * chartBarWidth
			}
			label := ""
			if i == 0 {
				label = p.Label
			}
			ch.Bars = append(ch.Bars, chartBar{Label: label, Text: p.Text, Class: names[i].Class, X: chartLabelWidth, Y: y,
				TextY: y + chartBarHeight - 3, Width: w, Height: chartBarHeight, TextX: chartLabelWidth + w + 6})
			y += chartRowHeight
		}
		y += 6 // a gap between labels
	}
	ch.Width, ch.Height = chartLabelWidth+chartBarWidth+chartTextWidth, int(y)
	return ch
}

// reportPage is the campaign report: the figures and the three charts.
type reportPage struct {
	Campaign campaigns.Campaign
	Report   report.Report
	// Currency is the one spend is drawn in: the budget's, else the first with cost.
	Currency                   string
	SpendByTier, Funnel, Reply barChart
}

func (s *Server) campaignReportPage(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	cp, r, err := s.buildReport(c.Request().Context(), id)
	if err != nil {
		return err
	}
	p := reportPage{Campaign: cp, Report: r, Currency: reportCurrency(cp, r)}

	var spend, results []chartPoint
	for _, t := range r.ByTier {
		cost := int64(0)
		for _, m := range t.Money {
			if m.Currency == p.Currency {
				cost = m.Cost
			}
		}
		spend = append(spend, chartPoint{Label: t.Tier, Value: float64(cost), Text: formatMoney(p.Currency, cost)})
		results = append(results, chartPoint{Label: t.Tier, Value: float64(t.Conversions), Text: fmt.Sprintf("%d conversions", t.Conversions)})
	}
	p.SpendByTier = newBarChart("Spend and conversions per tier",
		[]chartSeries{{"Spend (" + p.Currency + ")", "series-a"}, {"Conversions", "series-b"}}, spend, results)
	if len(spend) == 0 {
		p.SpendByTier.Empty = "No collaborations yet."
	}

	var funnel []chartPoint
	for _, st := range r.Stages {
		if workflows.Stage(st.Stage).Terminal() && st.Stage != string(workflows.StageCompleted) {
			continue // ends other than completion are not steps of the funnel
		}
		funnel = append(funnel, chartPoint{Label: st.Stage, Value: float64(st.Entered), Text: fmt.Sprintf("%d reached", st.Entered)})
	}
	p.Funnel = newBarChart("Funnel: collaborations that reached each stage", []chartSeries{{"Reached", "series-a"}}, funnel)

	var replies []chartPoint
	for _, v := range r.ByVariant {
		rate := 0.0
		if v.Rate != nil {
			rate = *v.Rate
		}
		replies = append(replies, chartPoint{Label: v.Variant, Value: rate,
			Text: fmt.Sprintf("%.0f%% (%d of %d)", rate*100, v.Replied, v.EnteredOutreach)})
	}
	p.Reply = newBarChart("Reply rate per outreach variant", []chartSeries{{"Reply rate", "series-b"}}, replies)
	if len(replies) == 0 {
		p.Reply.Empty = "No outreach variants in this campaign: its reply rate is in the figures above."
	}
	return s.consolePage(c, http.StatusOK, "report", consoleData{Title: "Report: " + cp.Name, Page: p})
}

// reportCurrency is the currency spend is drawn in: the budget's, else the first currency
// the campaign's money is in, else its compensation's.
func reportCurrency(cp campaigns.Campaign, r report.Report) string {
	switch {
	case cp.Budget != nil:
		return cp.Budget.Currency
	case len(r.Campaign.Money) > 0:
		return r.Campaign.Money[0].Currency
	}
	return cp.Compensation.Currency
}
