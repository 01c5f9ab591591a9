//go:build faults

package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// apiClient is how drivers talk to collabflow: as a careful client would, it retries a
// request that got no answer (connection refused or reset) or a 5xx or 429, with the
// same Idempotency-Key and the same body, until its context ends.
type apiClient struct {
	base string
	http *http.Client
	// inflight counts change requests (workflow updates) under way, so that the API can be
	// killed while some are.
	inflight atomic.Int64

	requests, retries, transportErrors, serverErrors, accepted202 atomic.Int64

	mu sync.Mutex
	// failedChanges are the 5xx answers to change requests, as evidence: an update the
	// workflow accepted should answer 202, not 5xx.
	failedChanges []failedChange
	// resumed are change requests answered after a retry that followed a cut connection
	// (the API killed mid-request): the evidence that retrying with the key is safe.
	resumed []string
}

// failedChange is one 5xx answer to a change request.
type failedChange struct {
	at     time.Time
	path   string
	answer answer
}

func newAPIClient(base string) *apiClient {
	return &apiClient{base: base, http: &http.Client{
		// Above the API's own 30 s request timeout, so that its answer (503) is what we see.
		Timeout:   40 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}}
}

// answer is an HTTP answer.
type answer struct {
	Status int
	Body   []byte
}

func (a answer) decode(v any) error {
	if err := json.Unmarshal(a.Body, v); err != nil {
		return fmt.Errorf("decode %d %s: %w", a.Status, truncate(a.Body), err)
	}
	return nil
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.Status, truncate(a.Body)) }

func truncate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// request is one logical request; its body is fixed once, so that retries send the
// same bytes under the same Idempotency-Key.
type request struct {
	method, path, key string
	body              []byte
	contentType       string
	// update marks a change that is a workflow update: it gets an Idempotency-Key and
	// counts as in flight.
	update bool
	// basicAuth is the Inbound Parse password.
	basicAuth string
	client    *http.Client
}

// jsonRequest builds a request with a JSON body (nil: none).
func jsonRequest(method, path, key string, body any) request {
	r := request{method: method, path: path, key: key}
	if body != nil {
		r.body, _ = json.Marshal(body)
		r.contentType = "application/json"
	}
	return r
}

// change builds a change to a collaboration: a JSON POST with an Idempotency-Key.
func change(path, key string, body any) request {
	r := jsonRequest(http.MethodPost, path, key, body)
	r.update = true
	return r
}

// send does r until it gets an answer that is neither a 5xx nor a 429, retrying with
// backoff; the error says why it gave up (the context ended).
func (c *apiClient) send(ctx context.Context, r request) (answer, error) {
	idem := ""
	if r.update {
		idem = uuid.NewString()
	}
	hc := c.http
	if r.client != nil {
		hc = r.client
	}
	var last string
	cut := false
	for attempt, wait := 0, 200*time.Millisecond; ; attempt, wait = attempt+1, min(2*wait, 2*time.Second) {
		if attempt > 0 {
			c.retries.Add(1)
			select {
			case <-ctx.Done():
				return answer{}, fmt.Errorf("%s %s: gave up after %d attempts, last: %s", r.method, r.path, attempt, last)
			case <-time.After(wait):
			}
		}
		var body io.Reader
		if r.body != nil {
			body = bytes.NewReader(r.body)
		}
		req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
		if err != nil {
			return answer{}, err
		}
		if r.contentType != "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		if r.key != "" {
			req.Header.Set("Authorization", "Bearer "+r.key)
		}
		if r.basicAuth != "" {
			req.SetBasicAuth("sendgrid", r.basicAuth)
		}
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		c.requests.Add(1)
		if r.update {
			c.inflight.Add(1)
		}
		resp, err := hc.Do(req)
		if r.update {
			c.inflight.Add(-1)
		}
		if err != nil {
			if ctx.Err() != nil {
				return answer{}, fmt.Errorf("%s %s: %w (last: %s)", r.method, r.path, ctx.Err(), last)
			}
			c.transportErrors.Add(1)
			last, cut = err.Error(), true
			continue
		}
		raw, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			c.transportErrors.Add(1)
			last = err.Error()
			continue
		}
		a := answer{Status: resp.StatusCode, Body: raw}
		switch {
		case a.Status >= 500:
			c.serverErrors.Add(1)
			if r.update {
				c.mu.Lock()
				c.failedChanges = append(c.failedChanges, failedChange{at: time.Now(), path: r.path, answer: a})
				c.mu.Unlock()
			}
			last = a.String()
			continue
		case a.Status == http.StatusTooManyRequests:
			last = a.String()
			continue
		case a.Status == http.StatusAccepted:
			c.accepted202.Add(1)
		}
		if cut && r.update {
			c.mu.Lock()
			c.resumed = append(c.resumed, fmt.Sprintf("%s %s: %d after %d attempt(s)%s", r.method, r.path, a.Status, attempt+1,
				map[bool]string{true: ", replayed from the stored answer"}[resp.Header.Get("Idempotent-Replayed") == "true"]))
			c.mu.Unlock()
		}
		return a, nil
	}
}

// inbound posts a reply as SendGrid's Inbound Parse would.
func (c *apiClient) inbound(ctx context.Context, from, to, subject, text string) (answer, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range map[string]string{"from": from, "to": to, "subject": subject, "text": text,
		"envelope": fmt.Sprintf(`{"to":[%q],"from":%q}`, to, from)} {
		if err := w.WriteField(k, v); err != nil {
			return answer{}, err
		}
	}
	if err := w.Close(); err != nil {
		return answer{}, err
	}
	return c.send(ctx, request{method: http.MethodPost, path: "/webhooks/sendgrid/inbound", body: body.Bytes(),
		contentType: w.FormDataContentType(), basicAuth: inboundSecret})
}

var (
	csrfField    = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	contractLink = regexp.MustCompile(`https?://[^/\s]+(/portal/contracts/[A-Za-z0-9_.-]+)`)
)

// sign signs a contract through the portal as the creator's browser would: load the
// page (which sets the CSRF cookie), then post the form with the token.
func (c *apiClient) sign(ctx context.Context, path, name string) (answer, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return answer{}, err
	}
	browser := &http.Client{Jar: jar, Timeout: c.http.Timeout, Transport: c.http.Transport}
	page, err := c.send(ctx, request{method: http.MethodGet, path: path, client: browser})
	if err != nil {
		return answer{}, err
	}
	m := csrfField.FindSubmatch(page.Body)
	if page.Status != http.StatusOK || m == nil {
		return page, errors.New("the contract page has no form to sign")
	}
	form := url.Values{"name": {name}, "agree": {"yes"}, "_csrf": {string(m[1])}}
	r := request{method: http.MethodPost, path: path, body: []byte(form.Encode()),
		contentType: "application/x-www-form-urlencoded", update: true, client: browser}
	return c.send(ctx, r)
}
