// Package verify fetches a published post and checks that it is live, carries the
// sponsorship disclosure and carries the collaboration's tracking link or discount code,
// and that it is on a platform the contract names, on the creator's account there.
// Fetching is guarded: a submitted URL must not reach the internal network, and neither
// it nor a redirect may leave the agreed platforms' domains.
package verify

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
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

// Expect is what the post must show, and where.
type Expect struct {
	Disclosure  string `json:"disclosure"`
	TrackingURL string `json:"tracking_url"`
	Code        string `json:"code"`
	// Accounts are where the post may be: the platforms the contract names and the
	// creator's handle on each. None means nowhere, so nothing is fetched. They are
	// filled in by the activity from the database at check time and never serialised:
	// handles are personal data and stay out of Temporal's history.
	Accounts []Account `json:"-"`
}

// Account is one platform a post may be published on and the creator's handle there.
type Account struct {
	Platform string
	// Hosts are the platform's domains (see PlatformHosts).
	Hosts []string
	// Handle is the creator's handle on the platform, with or without "@"; empty when the
	// roster has none, which fails the check.
	Handle string
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
	// Transient means the post could not be checked (a timeout, a DNS or connection
	// failure, HTTP 429 or 5xx): it says nothing about the post, and a later fetch may
	// succeed. Passed is false and the live check's evidence says why in plain words.
	Transient bool `json:"transient,omitempty"`
}

// Check names.
const (
	CheckLive       = "live"
	CheckDisclosure = "disclosure"
	CheckLink       = "tracking_link_or_code"
	CheckAccount    = "platform_account"
)

// Limits of a fetch.
const (
	MaxBody      = 2 << 20
	MaxRedirects = 5
)

// ErrForbiddenAddress is a URL that resolves to a private, loopback or link-local address.
var ErrForbiddenAddress = errors.New("address not allowed")

// Redirect refusals, told apart from transport failures when the evidence is written.
var (
	errTooManyRedirects = fmt.Errorf("more than %d redirects", MaxRedirects)
	errRedirectScheme   = errors.New("redirect is not http(s)")
	errRedirectAway     = errors.New("redirect off the agreed platforms")
)

// allowedHostsKey carries a fetch's allowed domains to CheckRedirect, which sees only the
// request; the client and its connection pool are shared by every fetch.
type allowedHostsKey struct{}

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
				return errTooManyRedirects
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("%w: %s", errRedirectScheme, req.URL.Scheme)
			}
			// A post may move within its platform (to www., a canonical path, a login
			// page) but not off it: the page elsewhere is not the creator's post, and
			// following it lets a submitted URL reach any host.
			hosts, _ := req.Context().Value(allowedHostsKey{}).([]string)
			if !onAnyDomain(req.URL, hosts) {
				return errRedirectAway
			}
			return nil
		},
	}}
}

// privateBlocks are the special-purpose ranges (RFC 6890 and successors) that the net.IP
// methods in public do not cover. A post is on a public website, so an address here can
// only be a way into a network the server sits on: the carrier-grade NAT and benchmarking
// ranges, "this network" (0.0.0.0 is caught as unspecified, the rest of 0/8 is not), the
// reserved 240/4 (with the broadcast address), the documentation ranges, the NAT64
// prefixes that embed an IPv4 address (the well-known one and the local-use one of RFC
// 8215), and the deprecated IPv6 site-local fec0::/10 that some networks still route.
var privateBlocks = func() []*net.IPNet {
	var out []*net.IPNet
	for _, cidr := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "2001:db8::/32", "fec0::/10",
	} {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			panic(fmt.Sprintf("verify: private block %s: %v", cidr, err))
		}
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

// Verify fetches the post and runs every check. A post that answers and fails a check is a
// failed report, not an error: the post is what is wrong. A fetch that cannot tell (the
// host timed out, could not be resolved or reached, or answered 429 or 5xx) is a
// Transient report: nothing is known about the post yet. A post whose address is not on
// e.Accounts' domains is not fetched.
func (f *Fetcher) Verify(ctx context.Context, rawURL string, e Expect) Report {
	r := Report{URL: rawURL, FetchedAt: time.Now().UTC()}
	failWith := func(live, account string) Report {
		r.Checks = []Check{{Name: CheckLive, Evidence: live}, {Name: CheckDisclosure, Evidence: "not checked"},
			{Name: CheckLink, Evidence: "not checked"}, {Name: CheckAccount, Evidence: account}}
		return r
	}
	fail := func(evidence string) Report { return failWith(evidence, "not checked") }
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail("not an http(s) URL")
	}
	platforms := platformNames(e.Accounts)
	// A post off the agreed platforms is not fetched at all: it cannot pass, and the
	// fetch would let any submitted address reach any host.
	if len(e.Accounts) == 0 {
		return failWith("not checked: no platform is agreed for this post", "the contract names no platform and account for this post")
	}
	if accountFor(u, e.Accounts) == nil {
		return failWith("not checked: the post is not on "+platforms,
			"the post's address is not on "+platforms+": submit the address of the post on the platform itself")
	}
	var hosts []string
	for _, a := range e.Accounts {
		hosts = append(hosts, a.Hosts...)
	}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, allowedHostsKey{}, hosts), http.MethodGet, rawURL, nil)
	if err != nil {
		return fail("not a valid URL")
	}
	req.Header.Set("User-Agent", "collabflow-verifier/1.0")
	resp, err := f.client.Do(req)
	if errors.Is(err, errRedirectAway) {
		// The target is not named: it may be an internal address, and this evidence
		// reaches the creator.
		return failWith("not checked: the post's address redirects away from "+platforms,
			"the post's address redirects away from "+platforms+": submit the address of the post on the platform itself")
	}
	if err != nil {
		evidence, transient := fetchFailure(err, f.client.Timeout)
		r.Transient = transient
		return fail(evidence)
	}
	defer func() { _ = resp.Body.Close() }()
	r.Status, r.FinalURL = resp.StatusCode, resp.Request.URL.String()
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		// Platforms rate-limit and login-wall fetchers, and hosts have outages: the
		// answer is about the host, not the post.
		r.Transient = true
		return fail(fmt.Sprintf("could not check: the post's host answered HTTP %d (%s); trying again later", resp.StatusCode, strings.ToLower(http.StatusText(resp.StatusCode))))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		evidence, transient := fetchFailure(err, f.client.Timeout)
		r.Transient = transient
		return fail(evidence)
	}
	sum := sha256.Sum256(body)
	r.ContentSHA256 = hex.EncodeToString(sum[:])
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

	onAccount, evidence := checkAccount(resp.Request.URL, live, string(body), e.Accounts)
	r.Checks = append(r.Checks, Check{Name: CheckAccount, Passed: onAccount, Evidence: evidence})
	r.Passed = live && disclosed && linked && onAccount
	return r
}

// fetchFailure describes in plain words why a fetch failed, and whether a later fetch may
// succeed. Raw resolver and socket errors name internal addresses and confuse readers of
// the evidence record, so they stay out of it.
func fetchFailure(err error, timeout time.Duration) (evidence string, transient bool) {
	var (
		dnsErr  *net.DNSError
		netErr  net.Error
		opErr   *net.OpError
		certErr *tls.CertificateVerificationError
	)
	switch {
	case errors.Is(err, ErrForbiddenAddress):
		return "the post's address is not allowed: it points into a private, loopback or link-local network", false
	case errors.Is(err, errTooManyRedirects):
		return fmt.Sprintf("the post's address redirects more than %d times", MaxRedirects), false
	case errors.Is(err, errRedirectScheme):
		return "the post's address redirects to something that is not http(s)", false
	case errors.As(err, &certErr):
		return "the post's site presents a TLS certificate that does not verify", false
	case errors.As(err, &dnsErr):
		return "could not check: the post's host name could not be resolved; trying again later", true
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("could not check: the post's host did not answer within %s; trying again later", timeout), true
	case errors.Is(err, context.Canceled):
		return "could not check: the check was cancelled; trying again later", true
	case errors.As(err, &opErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return "could not check: the connection to the post's host failed; trying again later", true
	}
	return "could not check: the fetch failed; trying again later", true
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
