package contract

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/contract.html
var documentTemplate string

var document = template.Must(template.New("contract").Parse(documentTemplate))

// Parties names who signs and what for.
type Parties struct {
	ContractID  string
	Version     int
	Brand       string
	CreatorName string
	Campaign    string
	PreparedOn  time.Time
}

// Document is a rendered contract and its SHA-256, the hash the signature covers.
type Document struct {
	HTML   string
	SHA256 string
}

// Render writes the contract for the terms. The same input gives the same bytes, so the
// hash identifies the document.
func Render(p Parties, t Terms) (Document, error) {
	data := struct {
		Parties
		PreparedOn   string
		Terms        Terms
		FixedFee     string
		KillFee      string
		RevenueShare string
		Bonuses      []string
	}{
		Parties:    p,
		PreparedOn: p.PreparedOn.UTC().Format(time.DateOnly),
		Terms:      t,
		FixedFee:   Money(t.Currency, t.FixedFee),
		KillFee:    Money(t.Currency, t.KillFee),
	}
	if t.RevenueSharePercent > 0 {
		data.RevenueShare = strconv.FormatFloat(t.RevenueSharePercent, 'f', -1, 64) + "%"
	}
	for _, b := range t.BonusTiers {
		data.Bonuses = append(data.Bonuses, fmt.Sprintf("%s once %s reach %d", Money(t.Currency, b.Amount), b.Metric, b.Threshold))
	}
	var buf bytes.Buffer
	if err := document.Execute(&buf, data); err != nil {
		return Document{}, fmt.Errorf("render contract: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return Document{HTML: buf.String(), SHA256: hex.EncodeToString(sum[:])}, nil
}

// Money writes minor units as "USD 1,500.00".
func Money(currency string, minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	units := strconv.FormatInt(minor/100, 10)
	var b strings.Builder
	for i, r := range units {
		if i > 0 && (len(units)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return fmt.Sprintf("%s %s%s.%02d", currency, sign, b.String(), minor%100)
}
