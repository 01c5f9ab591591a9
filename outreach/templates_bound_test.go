package outreach

import (
	"strings"
	"testing"
)

// Templates are checked at save for a bounded cost (security review M5): no loops, no
// template definitions, no functions that allocate without bound, and a capped output.
func TestTemplatesHaveABoundedCost(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"range over a number", "{{range 1000000000}}x{{end}}", "range"},
		{"range over a field", "{{range .Creator.Name}}x{{end}}", "range"},
		{"define and call", `{{define "a"}}x{{end}}{{template "a"}}`, "defines"},
		{"printf width", `{{printf "%0999999999d" 1}}`, "printf"},
		{"nested printf", `{{if eq 1 1}}{{printf "%s" .Offer}}{{end}}`, "printf"},
		{"fine", "Hi {{.Creator.FirstName}}{{if and .Offer (ne .Step 1)}} again{{end}}", ""},
	} {
		field, why := Step{Subject: "Hello", Body: tc.body}.Check()
		switch {
		case tc.want == "" && field != "":
			t.Errorf("%s: refused: %s", tc.name, why)
		case tc.want != "" && (field != "body" || !strings.Contains(why, tc.want)):
			t.Errorf("%s: %q %q, want a refusal naming %q", tc.name, field, why, tc.want)
		}
	}
	// Within the body's 20,000 characters, long data must not make an email without bound.
	d := SampleData()
	d.Creator.Name = strings.Repeat("x", 1000)
	if _, _, err := (Step{Subject: "Hi", Body: strings.Repeat("{{.Creator.Name}}", 100)}).Render(d); err == nil || !strings.Contains(err.Error(), "renders more than") {
		t.Errorf("100 KB rendered: %v", err)
	}
	for i, step := range DefaultSequence() {
		if field, why := step.Check(); field != "" {
			t.Errorf("default step %d: %s: %s", i+1, field, why)
		}
	}
}
