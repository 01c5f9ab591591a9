//go:build faults

package faults

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/collabflow/collabflow/devenv/sendgridsink"
)

// sendgridFake is SendGrid as the test controls it. While an outage is on its mail send
// API answers 429 and 503 in turn; otherwise the sink accepts and records each message
// with the time it arrived and its custom args (message_key, collaboration_id, kind).
// Like SendGrid it then reports "processed" and "delivered" for each accepted message to
// the Event Webhook, signed, in batches about a second apart, and delivers a batch again
// until the API takes it.
type sendgridFake struct {
	sink   *sendgridsink.Sink
	outage atomic.Bool
	turn   atomic.Int64
	key    *ecdsa.PrivateKey

	mu      sync.Mutex
	refused map[int]int

	batches, redelivered atomic.Int64
}

func newSendGridFake() (*sendgridFake, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &sendgridFake{sink: sendgridsink.New(), refused: map[int]int{}, key: key}, nil
}

// publicKey is the Event Webhook verification key as SendGrid shows it (base64 PKIX).
func (f *sendgridFake) publicKey() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// deliverEvents posts events of newly accepted messages to url until ctx ends.
func (f *sendgridFake) deliverEvents(ctx context.Context, url string) {
	hc := &http.Client{Timeout: 10 * time.Second}
	var pending []map[string]any
	reported := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		msgs := f.sink.Messages()
		for _, m := range msgs[reported:] {
			for _, name := range []string{"processed", "delivered"} {
				ev := map[string]any{"email": m.To[0], "event": name, "timestamp": m.ReceivedAt.Unix(),
					"sg_event_id": m.MessageID + "-" + name, "sg_message_id": m.MessageID + ".filterdrecv-faults"}
				for k, v := range m.CustomArgs {
					ev[k] = v
				}
				pending = append(pending, ev)
			}
		}
		reported = len(msgs)
		if len(pending) == 0 {
			continue
		}
		if f.post(ctx, hc, url, pending) {
			pending = nil
		} else {
			f.redelivered.Add(1)
		}
	}
}

// post sends one signed batch and reports whether the API took it.
func (f *sendgridFake) post(ctx context.Context, hc *http.Client, url string, events []map[string]any) bool {
	body, err := json.Marshal(events)
	if err != nil {
		return false
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	digest := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, f.key, digest[:])
	if err != nil {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Twilio-Email-Event-Webhook-Signature", base64.StdEncoding.EncodeToString(sig))
	req.Header.Set("X-Twilio-Email-Event-Webhook-Timestamp", ts)
	f.batches.Add(1)
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
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

// publish puts a collaboration's post online, on the creator's account (the handle in
// the address, as on instagram.com/<handle>/p/<id>), and returns its URL.
func (h *postHost) publish(id, handle, caption, code, link string) string {
	path := "/" + handle + "/p/" + id
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
