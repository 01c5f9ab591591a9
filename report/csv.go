package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CSVHeader is the first row of WriteCSV. Money columns are minor units of the row's
// currency; rates are fractions (0.05 is 5 %).
var CSVHeader = []string{"level", "tier", "creator_id", "creator_name", "collaboration_id", "variant", "stage",
	"collaborations", "impressions", "reach", "engagements", "engagement_rate", "clicks", "ctr", "conversions",
	"currency", "fees", "bonuses", "revenue_share", "kill_fees", "cost", "spent", "committed", "revenue",
	"currency_conversions", "cpa", "roi"}

// WriteCSV writes the report as a table: per tier, one row per creator then the tier's
// subtotal (level "tier"), and last the campaign's total (level "campaign"). A group with
// money in a second currency gets a further row with only the money columns filled, so
// summing a column never adds a figure twice or mixes currencies.
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("write csv header: %w", err)
	}
	write := func(lead []string, f Figures) error {
		for _, rec := range records(lead, f) {
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("write csv row: %w", err)
			}
		}
		return nil
	}
	for _, t := range r.ByTier {
		for _, c := range r.ByCreator {
			if c.Tier != t.Tier {
				continue
			}
			if err := write([]string{"creator", c.Tier, c.CreatorID, c.CreatorName, c.CollaborationID, c.Variant, c.Stage}, c.Figures); err != nil {
				return err
			}
		}
		if err := write([]string{"tier", t.Tier, "", "", "", "", ""}, t.Figures); err != nil {
			return err
		}
	}
	if err := write([]string{"campaign", "", "", "", "", "", ""}, r.Campaign); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// records are a group's rows: the first with every figure and its first currency, one
// more per further currency.
func records(lead []string, f Figures) [][]string {
	for i := range lead {
		lead[i] = Cell(lead[i])
	}
	counts := []string{strconv.Itoa(f.Collaborations), itoa(f.Impressions), itoa(f.Reach), itoa(f.Engagements),
		rate(f.EngagementRate), itoa(f.Clicks), rate(f.CTR), itoa(f.Conversions)}
	money := func(l MoneyLine) []string {
		cpa := ""
		if l.CPA != nil {
			cpa = itoa(*l.CPA)
		}
		return []string{Cell(l.Currency), itoa(l.Fees), itoa(l.Bonuses), itoa(l.RevenueShare), itoa(l.KillFees),
			itoa(l.Cost), itoa(l.Spent), itoa(l.Committed), itoa(l.Revenue), itoa(l.Conversions), cpa, rate(l.ROI)}
	}
	if len(f.Money) == 0 {
		return [][]string{concat(lead, counts, make([]string, 12))}
	}
	out := [][]string{concat(lead, counts, money(f.Money[0]))}
	for _, l := range f.Money[1:] {
		out = append(out, concat(lead, make([]string, len(counts)), money(l)))
	}
	return out
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func rate(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

// Cell guards a text cell against formula injection: a spreadsheet runs a cell that
// starts with = + - @ (or a tab or carriage return, which some strip first) as a formula,
// and creator names come from outside. A leading ' makes it text (OWASP's advice).
func Cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
