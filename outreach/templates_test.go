package outreach

import (
	"strings"
	"testing"
)

func TestDefaultSequenceRenders(t *testing.T) {
	for i, s := range DefaultSequence() {
		if field, why := s.Check(); field != "" {
			t.Fatalf("default step %d: %s: %s", i, field, why)
		}
	}
	subject, body, err := DefaultSequence()[0].Render(SampleData())
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Acme x Ada: a paid collaboration?" || !strings.Contains(body, "(@ada.codes)") || !strings.Contains(body, "USD 1,500.00") {
		t.Fatalf("rendered %q / %q", subject, body)
	}
}

func TestStepCheck(t *testing.T) {
	tests := []struct {
		name  string
		step  Step
		field string
	}{
		{"plain text", Step{Subject: "Hello", Body: "Hi there"}, ""},
		{"known fields", Step{Subject: "{{.Campaign.Brand}}", Body: "{{.Creator.RecentPost}} {{.Step}}"}, ""},
		{"unknown field in subject", Step{Subject: "{{.Creator.Nickname}}", Body: "x"}, "subject"},
		{"unknown field in body", Step{Subject: "x", Body: "{{.Discount}}"}, "body"},
		{"does not parse", Step{Subject: "x", Body: "{{.Creator.Name"}, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			field, why := tt.step.Check()
			if field != tt.field {
				t.Fatalf("field %q (%s), want %q", field, why, tt.field)
			}
			if field != "" && strings.HasPrefix(why, "template:") {
				t.Fatalf("message keeps Go's prefix: %s", why)
			}
		})
	}
}

func TestRenderKeepsSubjectOnOneLine(t *testing.T) {
	d := SampleData()
	d.Creator.FirstName = "Ada\r\nBcc: victim@example.com"
	subject, _, err := Step{Subject: "Hi {{.Creator.FirstName}}", Body: "b"}.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(subject, "\r\n") {
		t.Fatalf("subject %q has a line break", subject)
	}
}

func TestFooter(t *testing.T) {
	f := Footer("Acme", "1 Main St, Springfield", "instagram", "https://x.test/u/tok")
	for _, want := range []string{"Acme", "1 Main St, Springfield", "public instagram profile", "https://x.test/u/tok"} {
		if !strings.Contains(f, want) {
			t.Errorf("footer lacks %q:\n%s", want, f)
		}
	}
	if strings.Contains(Footer("Acme", "addr", "", "u"), "public") {
		t.Error("follow-up footer repeats the data source")
	}
}
