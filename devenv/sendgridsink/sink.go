// Package sendgridsink is a local stand-in for SendGrid's v3 mail send API. The real
// sendgrid-go client talks to it in `collabflow dev` (when no SENDGRID_API_KEY is set) and
// in tests; what it received can be listed at GET /messages.
package sendgridsink

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/mail"
)

// Received is one accepted message as the sink stores it.
type Received struct {
	MessageID  string            `json:"message_id"`
	ReceivedAt time.Time         `json:"received_at"`
	From       string            `json:"from"`
	To         []string          `json:"to"`
	ReplyTo    string            `json:"reply_to"`
	Subject    string            `json:"subject"`
	Text       string            `json:"text"`
	Headers    map[string]string `json:"headers"`
	CustomArgs map[string]string `json:"custom_args"`
}

// Sink records mail sends. The zero value is not ready; use New.
type Sink struct {
	mu       sync.Mutex
	messages []Received
	failures []int
	seq      int
	onAccept func(Received)
}

// New returns an empty sink.
func New() *Sink { return &Sink{} }

// FailNext makes the next sends answer with these statuses, one each, before it accepts
// again: how tests play SendGrid's 429s and outages.
func (s *Sink) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, statuses...)
}

// OnAccept has f called with each message the sink accepts, once it is stored: a load
// driver learns of an email at once instead of polling the whole list.
func (s *Sink) OnAccept(f func(Received)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onAccept = f
}

// Messages returns a copy of everything accepted so far, oldest first.
func (s *Sink) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.messages...)
}

// ServeHTTP serves POST /v3/mail/send, GET /messages and DELETE /messages.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v3/mail/send":
		s.send(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/messages":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Messages())
	case r.Method == http.MethodDelete && r.URL.Path == "/messages":
		s.mu.Lock()
		s.messages = nil
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func (s *Sink) send(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		writeErrors(w, http.StatusUnauthorized, "authorization required")
		return
	}
	s.mu.Lock()
	if len(s.failures) > 0 {
		status := s.failures[0]
		s.failures = s.failures[1:]
		s.mu.Unlock()
		writeErrors(w, status, "simulated failure")
		return
	}
	s.mu.Unlock()

	var m mail.SGMailV3
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		writeErrors(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	if m.From == nil || m.From.Address == "" || len(m.Personalizations) == 0 || len(m.Personalizations[0].To) == 0 ||
		m.Subject == "" || len(m.Content) == 0 {
		writeErrors(w, http.StatusBadRequest, "from, personalizations[0].to, subject and content are required")
		return
	}
	rec := Received{
		ReceivedAt: time.Now().UTC(),
		From:       m.From.Address,
		Subject:    m.Subject,
		Text:       m.Content[0].Value,
		Headers:    m.Headers,
		CustomArgs: m.CustomArgs,
	}
	for _, to := range m.Personalizations[0].To {
		rec.To = append(rec.To, to.Address)
	}
	if m.ReplyTo != nil {
		rec.ReplyTo = m.ReplyTo.Address
	}
	s.mu.Lock()
	s.seq++
	rec.MessageID = fmt.Sprintf("sink-%06d", s.seq)
	s.messages = append(s.messages, rec)
	notify := s.onAccept
	s.mu.Unlock()
	if notify != nil {
		notify(rec)
	}
	w.Header().Set("X-Message-Id", rec.MessageID)
	w.WriteHeader(http.StatusAccepted)
}

// writeErrors answers in SendGrid's error shape.
func writeErrors(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"message": msg}}})
}
