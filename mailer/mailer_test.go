package mailer_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/collabflow/collabflow/devenv/sendgridsink"
	"github.com/collabflow/collabflow/mailer"
)

func TestSendThroughTheRealClient(t *testing.T) {
	sink := sendgridsink.New()
	srv := httptest.NewServer(sink)
	defer srv.Close()
	sg, err := mailer.NewSendGrid("SG.test", srv.URL, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	id, err := sg.Send(context.Background(), mailer.Message{
		FromEmail: "collabs@acme.test", FromName: "Acme", ToEmail: "ada@example.com", ReplyTo: "reply+tok@in.acme.test",
		Subject: "Hello", Text: "Body", Headers: map[string]string{"List-Unsubscribe": "<https://x/u/t>"},
		CustomArgs: map[string]string{"collaboration_id": "collab-1", "step": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := sink.Messages()
	if len(got) != 1 || got[0].MessageID != id || got[0].To[0] != "ada@example.com" || got[0].ReplyTo != "reply+tok@in.acme.test" ||
		got[0].CustomArgs["collaboration_id"] != "collab-1" || got[0].Headers["List-Unsubscribe"] != "<https://x/u/t>" {
		t.Fatalf("sink got %+v (id %q)", got, id)
	}
}

func TestSendClassifiesRefusals(t *testing.T) {
	sink := sendgridsink.New()
	srv := httptest.NewServer(sink)
	defer srv.Close()
	sg, _ := mailer.NewSendGrid("SG.test", srv.URL, 5*time.Second)
	msg := mailer.Message{FromEmail: "a@acme.test", ToEmail: "b@example.com", Subject: "s", Text: "t"}
	for _, tt := range []struct {
		status    int
		retryable bool
	}{{429, true}, {500, true}, {503, true}, {400, false}, {401, false}, {403, false}} {
		sink.FailNext(tt.status)
		_, err := sg.Send(context.Background(), msg)
		var pe *mailer.ProviderError
		if !errors.As(err, &pe) || pe.Status != tt.status || pe.Retryable() != tt.retryable {
			t.Errorf("status %d: %v", tt.status, err)
		}
	}
	if len(sink.Messages()) != 0 {
		t.Fatal("a refused send was recorded")
	}
	if _, err := mailer.NewSendGrid("", srv.URL, time.Second); err == nil {
		t.Fatal("empty key accepted")
	}
}

// TestMayHaveAccepted: only answers that prove SendGrid took nothing allow an immediate
// second send; a lost answer (timeout, 500/502/504 from a proxy) may follow an acceptance.
func TestMayHaveAccepted(t *testing.T) {
	sink := sendgridsink.New()
	srv := httptest.NewServer(sink)
	defer srv.Close()
	sg, _ := mailer.NewSendGrid("SG.test", srv.URL, 5*time.Second)
	msg := mailer.Message{FromEmail: "a@acme.test", ToEmail: "b@example.com", Subject: "s", Text: "t"}
	for _, tt := range []struct {
		status int
		maybe  bool
	}{{400, false}, {429, false}, {503, false}, {500, true}, {502, true}, {504, true}} {
		sink.FailNext(tt.status)
		_, err := sg.Send(context.Background(), msg)
		if err == nil || mailer.MayHaveAccepted(err) != tt.maybe {
			t.Errorf("HTTP %d: %v, may have accepted = %v, want %v", tt.status, err, mailer.MayHaveAccepted(err), tt.maybe)
		}
	}

	closed := httptest.NewServer(sink)
	closed.Close() // connection refused: nothing reached SendGrid
	refused, _ := mailer.NewSendGrid("SG.test", closed.URL, 5*time.Second)
	if _, err := refused.Send(context.Background(), msg); err == nil || mailer.MayHaveAccepted(err) {
		t.Errorf("connection refused: %v, want surely not accepted", err)
	}

	answer := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-answer // the request arrived; the answer comes too late
	}))
	defer slow.Close()
	defer close(answer)
	timesOut, _ := mailer.NewSendGrid("SG.test", slow.URL, 200*time.Millisecond)
	if _, err := timesOut.Send(context.Background(), msg); err == nil || !mailer.MayHaveAccepted(err) {
		t.Errorf("timeout: %v, want possibly accepted", err)
	}
}

// No header can be added through data: line breaks in names, the subject and header
// values become spaces (security review L6).
func TestSanitizedKeepsHeadersOnOneLine(t *testing.T) {
	m := mailer.Message{
		FromName: "Acme\r\nBcc: victim@example.com", ToName: "Ada\nLovelace", Subject: "Your contract\r\n\r\nInjected body",
		ReplyTo: "reply+x@in.test\r\n", Headers: map[string]string{"List-Unsubscribe": "<https://x.test/u/t>\r\nX-Evil: 1"},
		Text: "line one\nline two",
	}.Sanitized()
	for name, v := range map[string]string{"from name": m.FromName, "to name": m.ToName, "subject": m.Subject,
		"reply-to": m.ReplyTo, "header": m.Headers["List-Unsubscribe"]} {
		if strings.ContainsAny(v, "\r\n") {
			t.Errorf("%s keeps a line break: %q", name, v)
		}
	}
	if m.Subject != "Your contract Injected body" || m.Text != "line one\nline two" {
		t.Errorf("subject %q, body %q", m.Subject, m.Text)
	}
}
