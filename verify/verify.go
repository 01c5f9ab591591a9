// Package verify fetches a published post and checks that it is live, carries the
// sponsorship disclosure and carries the collaboration's tracking link or discount code.
// Fetching is guarded: a submitted URL must not reach the internal network.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/collabflow/collabflow/contract"
)

// Expect is what the post must show.
type Expect struct {
	Disclosure  string `json:"disclosure"`
	TrackingURL string `json:"tracking_url"`
	Code        string `json:"code"`
}

// Check is one named check with its evidence.
type Check struct {
	Name     string `json:"name"`
	Passed   bool   `json:"passed"`
	Evidence string `json:"evidence"`
}

// Report is the result of verifying one post.
type Report struct {
	URL           string    `json:"url"`
	FinalURL      string    `json:"final_url,omitempty"`
	Status        int       `json:"status"`
	ContentSHA256 string    `json:"content_sha256,omitempty"`
	Checks        []Check   `json:"checks"`
	Passed        bool      `json:"passed"`
	FetchedAt     time.Time `json:"fetched_at"`
}

// Check names.
const (
	CheckLive       = "live"
	CheckDisclosure = "disclosure"
	CheckLink       = "tracking_link_or_code"
)

// Limits of a fetch.
const (
	MaxBody      = 2 << 20
	MaxRedirects = 5
)

// ErrForbiddenAddress is a URL that resolves to a private, loopback or link-local address.
var ErrForbiddenAddress = errors.New("address not allowed")

// Fetcher fetches posts over HTTP.
type Fetcher struct {
	client *http.Client
}

// NewFetcher builds a fetcher with a timeout, bounded redirects and, unless allowPrivate,
// a dialer that refuses non-public addresses after DNS resolution (so a hostname that
// resolves to 127.0.0.1 is refused too).
func NewFetcher(allowPrivate bool, timeout time.Duration) *Fetcher {
	dialer := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !public(ip) {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, host)
			}
			return nil
		}
	}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          10,
		IdleConnTimeout:       30 * time.Second,
	}
	return &Fetcher{client: &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= MaxRedirects {
				return fmt.Errorf("more than %d redirects", MaxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %s is not http(s)", req.URL.Scheme)
			}
			return nil
		},
	}}
}

var privateBlocks = func() []*net.IPNet {
	var out []*net.IPNet
	for _, cidr := range []string{"100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "64:ff9b::/96"} {
		_, n, _ := net.ParseCIDR(cidr)
		out = append(out, n)
	}
	return out
}()

// public reports whether ip is an ordinary internet address.
func public(ip net.IP) bool {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, n := range privateBlocks {
		if n.Contains(ip) {
			return false
		}
	}
	return true
}

// Verify fetches the post and runs every check. A fetch that fails is a failed live check
// with the reason as evidence, not an error: the post is what is wrong.
func (f *Fetcher) Verify(ctx context.Context, rawURL string, e Expect) Report {
	r := Report{URL: rawURL, FetchedAt: time.Now().UTC()}
	fail := func(evidence string) Report {
		r.Checks = []Check{{Name: CheckLive, Evidence: evidence}, {Name: CheckDisclosure, Evidence: "not checked"}, {Name: CheckLink, Evidence: "not checked"}}
		return r
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail("not an http(s) URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fail(err.Error())
	}
	req.Header.Set("User-Agent", "collabflow-verifier/1.0")
	resp, err := f.client.Do(req)
	if err != nil {
		return fail("fetch failed: " + err.Error())
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return fail("read failed: " + err.Error())
	}
	sum := sha256.Sum256(body)
	r.Status, r.FinalURL, r.ContentSHA256 = resp.StatusCode, resp.Request.URL.String(), hex.EncodeToString(sum[:])
	live := resp.StatusCode >= 200 && resp.StatusCode < 300
	r.Checks = append(r.Checks, Check{Name: CheckLive, Passed: live, Evidence: fmt.Sprintf("HTTP %d, %d bytes, sha256 %s", resp.StatusCode, len(body), r.ContentSHA256)})
	text := html.UnescapeString(string(body))

	disclosed := live && contract.HasDisclosure(text, e.Disclosure)
	evidence := "no disclosure found (" + e.Disclosure + ", #ad, #sponsored, Paid partnership)"
	if disclosed {
		evidence = snippet(text, []string{e.Disclosure, "#ad", "#sponsored", "paid partnership"})
	}
	r.Checks = append(r.Checks, Check{Name: CheckDisclosure, Passed: disclosed, Evidence: evidence})

	var linked bool
	evidence = "neither the tracking link nor the discount code found"
	switch {
	case !live:
	case e.TrackingURL != "" && strings.Contains(text, e.TrackingURL):
		linked, evidence = true, snippet(text, []string{e.TrackingURL})
	case e.Code != "" && contract.ContainsWord(text, e.Code):
		linked, evidence = true, snippet(text, []string{e.Code})
	}
	r.Checks = append(r.Checks, Check{Name: CheckLink, Passed: linked, Evidence: evidence})
	r.Passed = live && disclosed && linked
	return r
}

// snippet is the text around the first of needles found, for the evidence record.
func snippet(text string, needles []string) string {
	lower := strings.ToLower(text)
	for _, n := range needles {
		if n == "" {
			continue
		}
		if i := strings.Index(lower, strings.ToLower(n)); i >= 0 {
			start, end := max(0, i-40), min(len(text), i+len(n)+40)
			return strings.Join(strings.Fields(text[start:end]), " ")
		}
	}
	return ""
}
