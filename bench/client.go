package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// apiClient talks to collabflow's API as a careful client does: a request that got no
// answer, a 5xx or a 429 is sent again with the same Idempotency-Key and body.
type apiClient struct {
	base string
	http *http.Client
}

func newAPIClient(base string) *apiClient {
	return &apiClient{base: strings.TrimRight(base, "/"), http: &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute},
	}}
}

// answer is an HTTP answer.
type answer struct {
	status int
	body   []byte
	header http.Header
}

func (a answer) decode(v any) error {
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("decode %s: %w", a, err)
	}
	return nil
}

func (a answer) String() string {
	s := strings.TrimSpace(string(a.body))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return fmt.Sprintf("%d %s", a.status, s)
}

// call sends one request with a JSON body (nil: none) as key's holder. POSTs carry an
// Idempotency-Key that stays the same across retries.
func (c *apiClient) call(ctx context.Context, method, path, key string, body any) (answer, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return answer{}, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	hdr := http.Header{}
	if raw != nil {
		hdr.Set("Content-Type", "application/json")
	}
	if key != "" {
		hdr.Set("Authorization", "Bearer "+key)
	}
	if method == http.MethodPost {
		hdr.Set("Idempotency-Key", uuid.NewString())
	}
	return c.do(ctx, c.http, method, path, hdr, raw)
}

// do sends a request until it gets an answer that is neither a 5xx nor a 429.
func (c *apiClient) do(ctx context.Context, hc *http.Client, method, path string, hdr http.Header, raw []byte) (answer, error) {
	var last string
	for attempt, wait := 0, 100*time.Millisecond; ; attempt, wait = attempt+1, min(2*wait, 2*time.Second) {
		if attempt > 0 {
			if attempt > 30 {
				return answer{}, fmt.Errorf("%s %s: gave up after %d attempts, last: %s", method, path, attempt, last)
			}
			select {
			case <-ctx.Done():
				return answer{}, fmt.Errorf("%s %s: %w (last: %s)", method, path, ctx.Err(), last)
			case <-time.After(wait):
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(raw))
		if err != nil {
			return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return answer{}, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
			}
			last = err.Error()
			continue
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			last = err.Error()
			continue
		}
		a := answer{status: resp.StatusCode, body: body, header: resp.Header}
		if a.status >= 500 || a.status == http.StatusTooManyRequests {
			last = a.String()
			continue
		}
		return a, nil
	}
}

// want sends a request and decodes its answer into out (nil: ignore the body), failing
// unless the status is one of ok.
func (c *apiClient) want(ctx context.Context, method, path, key string, body, out any, ok ...int) error {
	a, err := c.call(ctx, method, path, key, body)
	if err != nil {
		return err
	}
	for _, s := range ok {
		if a.status == s {
			if out == nil {
				return nil
			}
			return a.decode(out)
		}
	}
	return fmt.Errorf("%s %s: %s", method, path, a)
}
