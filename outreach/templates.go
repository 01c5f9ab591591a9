package outreach

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
)

// Step is one email of a sequence: a subject and a plain-text body, both Go templates over
// Data ({{.Creator.FirstName}}, {{.Campaign.Brand}}, {{.Offer}}, …).
type Step struct {
	Subject string `json:"subject" validate:"required,max=200"`
	Body    string `json:"body" validate:"required,max=20000"`
}

// Data is what templates may use. Adding a field is safe; removing one breaks saved
// campaigns, whose templates were checked against it.
type Data struct {
	Creator  CreatorData
	Campaign CampaignData
	// Offer is the campaign's fixed fee written out, such as "USD 1,500.00".
	Offer string
	// Step is the email's number in the sequence, from 1.
	Step int
}

// CreatorData is the creator as templates see it.
type CreatorData struct {
	Name      string
	FirstName string
	// Handle and Platform are the creator's main handle (the first platform they have,
	// in roster order) without "@".
	Handle     string
	Platform   string
	RecentPost string
	Followers  int64
}

// CampaignData is the campaign as templates see it.
type CampaignData struct {
	Name       string
	Brand      string
	LandingURL string
}

// SampleData fills every field, for checking templates when a campaign is saved.
func SampleData() Data {
	return Data{
		Creator: CreatorData{Name: "Ada Lovelace", FirstName: "Ada", Handle: "ada.codes", Platform: "instagram",
			RecentPost: "https://instagram.com/p/example", Followers: 48000},
		Campaign: CampaignData{Name: "Spring launch", Brand: "Acme", LandingURL: "https://acme.test"},
		Offer:    "USD 1,500.00",
		Step:     1,
	}
}

// Render executes a step's templates. A field Data lacks is an error, not an empty string.
func (s Step) Render(d Data) (subject, body string, err error) {
	if subject, err = render("subject", s.Subject, d); err != nil {
		return "", "", err
	}
	if body, err = render("body", s.Body, d); err != nil {
		return "", "", err
	}
	// A header must not carry line breaks, whatever the data held.
	subject = strings.Join(strings.Fields(subject), " ")
	return subject, body, nil
}

// Check renders a step against SampleData and reports the first problem by field name.
func (s Step) Check() (field, why string) {
	if _, err := render("subject", s.Subject, SampleData()); err != nil {
		return "subject", err.Error()
	}
	if _, err := render("body", s.Body, SampleData()); err != nil {
		return "body", err.Error()
	}
	return "", ""
}

func render(name, text string, d Data) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("template does not parse: %s", cleanTemplateError(err))
	}
	if err := bounded(t); err != nil {
		return "", err
	}
	b := &cappedBuffer{max: MaxRendered}
	if err := t.Execute(b, d); err != nil {
		if errors.Is(err, errTooLong) {
			return "", errTooLong
		}
		return "", fmt.Errorf("template uses something that does not exist: %s", cleanTemplateError(err))
	}
	return b.String(), nil
}

// MaxRendered bounds what one template may render to.
const MaxRendered = 64 << 10

var errTooLong = fmt.Errorf("template renders more than %d bytes", MaxRendered)

// cappedBuffer refuses writes past max, so a template cannot grow an email without bound.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errTooLong
	}
	return b.Buffer.Write(p)
}

// allowedFuncs are the template functions an email may use: comparisons and logic, whose
// cost is bounded by their arguments. printf and friends can allocate without bound, and
// index/slice/call reach into data a template has no need of.
var allowedFuncs = map[string]bool{"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"and": true, "or": true, "not": true, "len": true}

// bounded refuses what lets a template run for long or render without bound: loops
// (range), template definitions and calls, and functions outside allowedFuncs. What is
// left runs in time linear in the template's size, which Step's validation caps.
func bounded(t *template.Template) error {
	if len(t.Templates()) > 1 {
		return errors.New("template defines other templates: not allowed in an email")
	}
	return boundedNode(t.Tree.Root)
}

func boundedNode(n parse.Node) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := boundedNode(c); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return boundedNode(n.Pipe)
	case *parse.IfNode:
		return boundedBranch(&n.BranchNode)
	case *parse.WithNode:
		return boundedBranch(&n.BranchNode)
	case *parse.RangeNode:
		return errors.New("range is not allowed in an email template")
	case *parse.TemplateNode:
		return errors.New("calling templates is not allowed in an email template")
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, cmd := range n.Cmds {
			for _, arg := range cmd.Args {
				if err := boundedNode(arg); err != nil {
					return err
				}
			}
		}
	case *parse.IdentifierNode:
		if !allowedFuncs[n.Ident] {
			return fmt.Errorf("function %q is not allowed in an email template", n.Ident)
		}
	}
	return nil
}

func boundedBranch(b *parse.BranchNode) error {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if err := boundedNode(n); err != nil {
			return err
		}
	}
	return nil
}

// cleanTemplateError drops the "template: name:1:2: " prefix that means nothing to a
// campaign author.
func cleanTemplateError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "template: ") {
		return msg[i+2:]
	}
	return msg
}

// DefaultSequence is the first email and two follow-ups a campaign gets when it names none.
func DefaultSequence() []Step {
	return []Step{
		{
			Subject: "{{.Campaign.Brand}} x {{.Creator.FirstName}}: a paid collaboration?",
			Body: `Hi {{.Creator.FirstName}},

I work with {{.Campaign.Brand}}. We came across your {{.Creator.Platform}} profile{{if .Creator.Handle}} (@{{.Creator.Handle}}){{end}} and think your audience would love {{.Campaign.Name}}.

We'd like to offer you a paid collaboration{{if .Offer}}, starting at {{.Offer}}{{end}}. Would you be open to hearing more? Just reply to this email.

Thanks,
The {{.Campaign.Brand}} team`,
		},
		{
			Subject: "Re: {{.Campaign.Brand}} x {{.Creator.FirstName}}: a paid collaboration?",
			Body: `Hi {{.Creator.FirstName}},

Following up on my note about {{.Campaign.Name}}: we'd still love to work with you. A one-line reply is enough to start.

The {{.Campaign.Brand}} team`,
		},
		{
			Subject: "Re: {{.Campaign.Brand}} x {{.Creator.FirstName}}: a paid collaboration?",
			Body: `Hi {{.Creator.FirstName}},

Last note from me about {{.Campaign.Name}}. If the timing isn't right, no problem; if it is, reply any time.

The {{.Campaign.Brand}} team`,
		},
	}
}

// Footer is the part of every outreach email the sender does not write: who sent it and
// from where (CAN-SPAM asks for a postal address), where the creator's data came from
// (GDPR Art. 14 on first contact), and the unsubscribe link.
func Footer(brand, postalAddress, source, unsubscribeURL string) string {
	var b strings.Builder
	b.WriteString("\n\n--\n")
	b.WriteString(brand + "\n" + postalAddress + "\n")
	if source != "" {
		b.WriteString("We found your contact details on your public " + source + " profile.\n")
	}
	b.WriteString("To get no more emails from us: " + unsubscribeURL + "\n")
	return b.String()
}
