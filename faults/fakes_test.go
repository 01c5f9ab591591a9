//go:build faults

package faults

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/collabflow/collabflow/devenv/sendgridsink"
)

// sendgridFake is SendGrid's mail send API as the test controls it. While an outage is
// on it answers 429 and 503 in turn; otherwise the sink accepts and records each message
// with the time it arrived and its custom args (message_key, collaboration_id, kind).
type sendgridFake struct {
	sink   *sendgridsink.Sink
	outage atomic.Bool
	turn   atomic.Int64

	mu      sync.Mutex
	refused map[int]int
}

func newSendGridFake() *sendgridFake {
	return &sendgridFake{sink: sendgridsink.New(), refused: map[int]int{}}
}

func (f *sendgridFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/v3/mail/send" && f.outage.Load() {
		status := http.StatusTooManyRequests
		if f.turn.Add(1)%2 == 0 {
			status = http.StatusServiceUnavailable
		}
		f.mu.Lock()
		f.refused[status]++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"message": "fault injection: " + http.StatusText(status)}}})
		return
	}
	f.sink.ServeHTTP(w, r)
}

// messages is everything accepted so far, oldest first.
func (f *sendgridFake) messages() []sendgridsink.Received { return f.sink.Messages() }

// of lists what was accepted for one collaboration, oldest first.
func (f *sendgridFake) of(id string) []sendgridsink.Received {
	var out []sendgridsink.Received
	for _, m := range f.sink.Messages() {
		if m.CustomArgs["collaboration_id"] == id {
			out = append(out, m)
		}
	}
	return out
}

func (f *sendgridFake) refusals() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("%d × 429, %d × 503", f.refused[http.StatusTooManyRequests], f.refused[http.StatusServiceUnavailable])
}

// isOutreach tells a sequence email by its message key (<collaboration>/outreach/<step>).
func isOutreach(m sendgridsink.Received) bool {
	return strings.Contains(m.CustomArgs["message_key"], "/outreach/")
}

// postHost serves creators' live posts: the caption with its #ad disclosure, the
// collaboration's discount code and tracking link. Switched to time out, it holds every
// request until the client gives up, as a platform that stopped answering would.
type postHost struct {
	base    string
	timeout atomic.Bool
	served  atomic.Int64
	hung    atomic.Int64

	mu    sync.Mutex
	pages map[string]string
}

func newPostHost() *postHost { return &postHost{pages: map[string]string{}} }

// publish puts a collaboration's post online and returns its URL.
func (h *postHost) publish(id, caption, code, link string) string {
	path := "/p/" + id
	page := fmt.Sprintf("<html><body><p>%s</p><p>Use code %s at <a href=%q>%s</a></p></body></html>",
		html.EscapeString(caption), html.EscapeString(code), link, html.EscapeString(link))
	h.mu.Lock()
	h.pages[path] = page
	h.mu.Unlock()
	return h.base + path
}

func (h *postHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.timeout.Load() {
		h.hung.Add(1)
		// Answer nothing: the verifier's own timeout ends the request.
		<-r.Context().Done()
		return
	}
	h.mu.Lock()
	page, ok := h.pages[r.URL.Path]
	h.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.served.Add(1)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(page))
}
