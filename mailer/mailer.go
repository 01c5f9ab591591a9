// Package mailer sends email through SendGrid's v3 mail send API with sendgrid-go. The base
// URL is configurable, so `collabflow dev` and tests point the real client at a local sink.
package mailer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
)

// Sanitized is the message with every header value on one line: line breaks and other
// control characters in names, addresses, the subject and extra headers become spaces, so
// that no data (a creator's name, a campaign's brand) can add a header. The body is left
// as it is.
func (m Message) Sanitized() Message {
	m.FromEmail, m.FromName, m.ToEmail, m.ToName = oneLine(m.FromEmail), oneLine(m.FromName), oneLine(m.ToEmail), oneLine(m.ToName)
	m.ReplyTo, m.Subject = oneLine(m.ReplyTo), oneLine(m.Subject)
	if len(m.Headers) > 0 {
		headers := make(map[string]string, len(m.Headers))
		for k, v := range m.Headers {
			headers[oneLine(k)] = oneLine(v)
		}
		m.Headers = headers
	}
	return m
}

// oneLine replaces control characters with spaces and collapses runs of spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)), " ")
}

// Message is one plain-text email.
type Message struct {
	FromEmail string
	FromName  string
	ToEmail   string
	ToName    string
	ReplyTo   string
	Subject   string
	Text      string
	// Headers are extra MIME headers, such as List-Unsubscribe.
	Headers map[string]string
	// CustomArgs come back on every Event Webhook event of this message; never put
	// personal data in them.
	CustomArgs map[string]string
}

// ProviderError is a refusal by SendGrid. Retryable ones (429, 5xx) may succeed later;
// the rest will not, whatever the retry.
type ProviderError struct {
	Status int
	Body   string
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("sendgrid answered %d: %s", e.Status, strings.TrimSpace(e.Body))
}

// Retryable reports whether sending again may succeed.
func (e *ProviderError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// MayHaveAccepted reports whether SendGrid may have accepted a message whose Send returned
// err. It did not when it answered 4xx (a refusal, or 429: not now) or 503 (unavailable),
// or when no connection was made. A timeout, a connection lost mid-request or a 500, 502
// or 504 (which a proxy in front of SendGrid gives after forwarding the request) leave the
// outcome unknown: sending again at once could deliver the email twice.
func MayHaveAccepted(err error) bool {
	if err == nil {
		return true
	}
	var refused *ProviderError
	if errors.As(err, &refused) {
		return refused.Status >= 500 && refused.Status != http.StatusServiceUnavailable
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return false
	}
	var dnsErr *net.DNSError
	return !errors.As(err, &dnsErr)
}

// SendGrid is a client of the v3 mail send endpoint.
type SendGrid struct {
	key     string
	baseURL string
	client  *rest.Client
}

// DefaultBaseURL is SendGrid's API.
const DefaultBaseURL = "https://api.sendgrid.com"

// NewSendGrid builds a client. Its HTTP client has a timeout, unlike sendgrid-go's default,
// and it does not retry on 429 itself: the caller (a Temporal activity) retries with backoff.
func NewSendGrid(apiKey, baseURL string, timeout time.Duration) (*SendGrid, error) {
	if apiKey == "" {
		return nil, errors.New("mailer: SendGrid API key is empty")
	}
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	return &SendGrid{
		key:     apiKey,
		baseURL: strings.TrimRight(baseURL, "/"),
		client:  &rest.Client{HTTPClient: &http.Client{Timeout: timeout}},
	}, nil
}

// Send hands a message to SendGrid and returns the provider's message ID.
func (s *SendGrid) Send(ctx context.Context, m Message) (string, error) {
	m = m.Sanitized()
	v3 := mail.NewV3Mail()
	v3.SetFrom(mail.NewEmail(m.FromName, m.FromEmail))
	if m.ReplyTo != "" {
		v3.SetReplyTo(mail.NewEmail("", m.ReplyTo))
	}
	v3.Subject = m.Subject
	p := mail.NewPersonalization()
	p.AddTos(mail.NewEmail(m.ToName, m.ToEmail))
	v3.AddPersonalizations(p)
	v3.AddContent(mail.NewContent("text/plain", m.Text))
	for k, v := range m.Headers {
		v3.SetHeader(k, v)
	}
	for k, v := range m.CustomArgs {
		v3.SetCustomArg(k, v)
	}

	req := sendgrid.GetRequest(s.key, "/v3/mail/send", s.baseURL)
	req.Method = rest.Post
	req.Body = mail.GetRequestBody(v3)
	resp, err := s.client.SendWithContext(ctx, req)
	if err != nil {
		return "", fmt.Errorf("send to sendgrid: %w", err)
	}
	// sendgrid-go returns a nil error for 4xx and 5xx: the status decides.
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return "", &ProviderError{Status: resp.StatusCode, Body: resp.Body}
	}
	for name, values := range resp.Headers {
		if strings.EqualFold(name, "X-Message-Id") && len(values) > 0 {
			return values[0], nil
		}
	}
	return "", nil
}
