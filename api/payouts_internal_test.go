package api

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// testCollab is a collaboration ID in its canonical form.
const testCollab = "collab-0190a000-0000-7000-8000-000000000001-0190a000-0000-7000-8000-000000000002"

// TestCanonicalCollaborationID: any case is the same collaboration; anything that is not
// two canonical UUIDs after "collab-" is none (security review L5, L10).
func TestCanonicalCollaborationID(t *testing.T) {
	for raw, want := range map[string]string{
		testCollab:                        testCollab,
		" " + strings.ToUpper(testCollab): testCollab,
		"collab-1":                        "",
		"collab-urn:uuid:0190a000-0000-7000-8000-000000000001-0190a000-0000-7000-8000-000000000002": "",
		"collab-0190a0000000700080000000000000010190a000-0000-7000-8000-000000000002-x":             "",
		strings.TrimPrefix(testCollab, "collab-"):                                                   "",
	} {
		got, ok := canonicalCollaborationID(raw)
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q %v, want %q", raw, got, ok, want)
		}
	}
}

// TestParseMetricsRowCurrency: a CSV row's currency is an ISO 4217 code (any case), or
// empty without revenue; three characters of anything else, such as a spreadsheet formula,
// are refused under the row's name (security review I2).
func TestParseMetricsRowCurrency(t *testing.T) {
	s := &Server{validate: newValidator()}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	row := func(revenue, currency string) []string {
		return []string{strings.ToUpper(testCollab), "2026-03-01T00:00:00Z", "1000", "800", "50", "5", "2", "1", "30", "3", revenue, currency}
	}
	for _, tc := range []struct {
		revenue, currency string
		want              map[string]string
	}{
		{"4500", "USD", map[string]string{}},
		{"4500", " eur ", map[string]string{}},
		{"0", "", map[string]string{}},
		{"4500", "", map[string]string{"row 2.currency": "required with revenue"}},
		{"4500", "=A1", map[string]string{"row 2.currency": "must be an ISO 4217 currency code such as USD"}},
		{"4500", "+1+", map[string]string{"row 2.currency": "must be an ISO 4217 currency code such as USD"}},
		{"4500", "@SU", map[string]string{"row 2.currency": "must be an ISO 4217 currency code such as USD"}},
		{"4500", "ABC", map[string]string{"row 2.currency": "must be an ISO 4217 currency code such as USD"}},
		{"4500", "US", map[string]string{"row 2.currency": "must be an ISO 4217 currency code such as USD"}},
		{"0", "=A1", map[string]string{"row 2.currency": "must be an ISO 4217 currency code such as USD"}},
	} {
		m, id, bad := s.parseMetricsRow(row(tc.revenue, tc.currency), "row 2.", now)
		if !maps.Equal(bad, tc.want) {
			t.Errorf("revenue %s, currency %q: %v, want %v", tc.revenue, tc.currency, bad, tc.want)
			continue
		}
		if len(bad) == 0 && (id != testCollab || !slices.Contains([]string{"USD", "EUR", ""}, m.Currency)) {
			t.Errorf("currency %q: parsed %q, %+v", tc.currency, id, m)
		}
	}
}
