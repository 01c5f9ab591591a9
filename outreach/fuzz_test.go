package outreach

import (
	"strings"
	"testing"
)

// FuzzStepCheck: checking a template never panics, and a template that passes the check
// renders against the sample data within the size bound with a one-line subject.
func FuzzStepCheck(f *testing.F) {
	for _, s := range DefaultSequence() {
		f.Add(s.Subject, s.Body)
	}
	f.Fuzz(func(t *testing.T, subject, body string) {
		step := Step{Subject: subject, Body: body}
		if field, _ := step.Check(); field != "" {
			return
		}
		sub, text, err := step.Render(SampleData())
		if err != nil {
			t.Fatalf("checked template fails to render: %v", err)
		}
		if strings.ContainsAny(sub, "\r\n") || len(text) > MaxRendered {
			t.Fatalf("subject %q, body of %d bytes", sub, len(text))
		}
	})
}
