// Package experiments holds a campaign's experiment log: what was tried (a hypothesis,
// the variable it changes, its variants), what came of it and what was decided. An
// outreach A/B test carries two email sequences, which launch assigns to collaborations
// by variant name; the report then shows the reply rate per variant. It does no I/O.
package experiments

import (
	"fmt"
	"regexp"
	"time"

	"github.com/collabflow/collabflow/outreach"
)

// Kinds of experiment.
const (
	// KindOutreachAB tests two outreach sequences against each other.
	KindOutreachAB = "outreach_ab"
	// KindOther is any other test, recorded for the log.
	KindOther = "other"
)

// Statuses: open until a decision is recorded.
const (
	StatusOpen    = "open"
	StatusDecided = "decided"
)

// Experiment is one entry of a campaign's experiment log.
type Experiment struct {
	ID         string    `json:"id"`
	CampaignID string    `json:"campaign_id"`
	Kind       string    `json:"kind" validate:"required,oneof=outreach_ab other"`
	Hypothesis string    `json:"hypothesis" validate:"required,max=2000"`
	Variable   string    `json:"variable" validate:"required,max=200"`
	Variants   []Variant `json:"variants" validate:"max=10,dive"`
	Result     string    `json:"result" validate:"max=5000"`
	Decision   string    `json:"decision" validate:"max=2000"`
	Status     string    `json:"status"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Variant is one arm of an experiment. Its name is what collaborations.variant holds for
// the collaborations assigned to it.
type Variant struct {
	Name        string `json:"name" validate:"required"`
	Description string `json:"description" validate:"max=2000"`
	// Sequence is the outreach emails of an outreach_ab variant, checked like a
	// campaign's; other kinds have none.
	Sequence []outreach.Step `json:"sequence" validate:"max=10,dive"`
}

// variantName is what a variant may be called: it is stored on every collaboration and
// shown in reports and CSV, so short, lower-case and free of anything a spreadsheet runs.
var variantName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// Check applies the rules tags cannot: variant names, the two arms of an outreach test,
// and every template rendered against sample data (as a campaign's sequence is at save).
// followUps is the number of follow-ups the campaign's timings wait for, which each
// outreach sequence must match. It returns the bad fields by JSON path, nil when none.
func (e Experiment) Check(followUps int) map[string]string {
	bad := map[string]string{}
	seen := map[string]bool{}
	for i, v := range e.Variants {
		at := fmt.Sprintf("variants[%d]", i)
		switch {
		case !variantName.MatchString(v.Name):
			bad[at+".name"] = "1 to 40 of a-z, 0-9, _ and -, starting with a letter or digit"
		case seen[v.Name]:
			bad[at+".name"] = "another variant has this name"
		}
		seen[v.Name] = true
		if e.Kind != KindOutreachAB {
			if len(v.Sequence) > 0 {
				bad[at+".sequence"] = "only an outreach_ab experiment has sequences"
			}
			continue
		}
		if len(v.Sequence) != followUps+1 {
			bad[at+".sequence"] = fmt.Sprintf("needs %d emails: the first and one per follow-up in the campaign's timings.follow_up_delays", followUps+1)
		}
		for j, step := range v.Sequence {
			if field, why := step.Check(); field != "" {
				bad[fmt.Sprintf("%s.sequence[%d].%s", at, j, field)] = why
			}
		}
	}
	if e.Kind == KindOutreachAB && len(e.Variants) != 2 {
		bad["variants"] = "an outreach_ab experiment has exactly two variants"
	}
	if len(bad) == 0 {
		return nil
	}
	return bad
}
