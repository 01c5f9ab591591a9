package verify

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// expect puts the post on the loopback and test hosts these tests fetch, as "ada".
var expect = Expect{Disclosure: "#ad", TrackingURL: "https://acme.test/spring?utm_source=ada&utm_medium=influencer", Code: "ADA-7Q2",
	Accounts: []Account{{Platform: "instagram", Hosts: []string{"127.0.0.1", "localhost", "::1", "169.254.169.254", "10.0.0.1", "collabflow.invalid"}, Handle: "ada"}}}

func post(status int, body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
}

func checks(r Report) map[string]bool {
	out := map[string]bool{}
	for _, c := range r.Checks {
		out[c.Name] = c.Passed
	}
	return out
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   map[string]bool
	}{
		{"live, disclosed, linked", 200, `<p>#ad New shoes! <a href="https://acme.test/spring?utm_source=ada&amp;utm_medium=influencer">shop</a></p>`,
			map[string]bool{CheckLive: true, CheckDisclosure: true, CheckLink: true}},
		{"discount code instead of link", 200, `<p>Paid partnership with Acme. Use code ada-7q2 at checkout</p>`,
			map[string]bool{CheckLive: true, CheckDisclosure: true, CheckLink: true}},
		{"not found", 404, `#ad ADA-7Q2`, map[string]bool{CheckLive: false, CheckDisclosure: false, CheckLink: false}},
		{"disclosure only inside another word", 200, `Off on an #adventure with code ADA-7Q2`,
			map[string]bool{CheckLive: true, CheckDisclosure: false, CheckLink: true}},
		{"link missing", 200, `#ad loving these shoes`, map[string]bool{CheckLive: true, CheckDisclosure: true, CheckLink: false}},
		{"code inside another code", 200, `#ad use code ADA-7Q2X`, map[string]bool{CheckLive: true, CheckDisclosure: true, CheckLink: false}},
	}
	f := NewFetcher(true, 5*time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := post(tt.status, tt.body)
			defer srv.Close()
			r := f.Verify(context.Background(), srv.URL+"/ada/p/1", expect)
			got := checks(r)
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("%s = %v, want %v (report %+v)", name, got[name], want, r)
				}
			}
			if !got[CheckAccount] {
				t.Errorf("%s failed, but the handle is in the address: %+v", CheckAccount, r)
			}
			wantPassed := tt.want[CheckLive] && tt.want[CheckDisclosure] && tt.want[CheckLink]
			if r.Passed != wantPassed || r.Status != tt.status || len(r.ContentSHA256) != 64 {
				t.Errorf("report %+v", r)
			}
			for _, c := range r.Checks {
				if c.Passed && c.Evidence == "" {
					t.Errorf("check %s passed without evidence", c.Name)
				}
			}
		})
	}
}

func TestPrivateAddressesRefusedByDefault(t *testing.T) {
	srv := post(200, "#ad ADA-7Q2")
	defer srv.Close()
	f := NewFetcher(false, 2*time.Second)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	for _, u := range []string{srv.URL, "http://localhost:" + port, "http://[::1]:" + port, "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/"} {
		r := f.Verify(context.Background(), u, expect)
		if r.Passed || checks(r)[CheckLive] || !strings.Contains(r.Checks[0].Evidence, "not allowed") {
			t.Errorf("%s: %+v", u, r)
		}
	}
	for _, u := range []string{"ftp://example.com/x", "file:///etc/passwd", "not a url"} {
		if r := f.Verify(context.Background(), u, expect); r.Passed || !strings.Contains(r.Checks[0].Evidence, "http") {
			t.Errorf("%s: %+v", u, r)
		}
	}
}

func TestRedirectLoopIsBounded(t *testing.T) {
	var hits int
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, srv.URL+fmt.Sprintf("/loop/%d", hits), http.StatusFound)
	}))
	defer srv.Close()
	r := NewFetcher(true, 5*time.Second).Verify(context.Background(), srv.URL, expect)
	if r.Passed || !strings.Contains(r.Checks[0].Evidence, "redirects") || hits > MaxRedirects {
		t.Fatalf("hits %d, report %+v", hits, r)
	}
}

func TestBodyIsCapped(t *testing.T) {
	big := strings.Repeat("x", MaxBody+1000) + " #ad ADA-7Q2"
	srv := post(200, big)
	defer srv.Close()
	r := NewFetcher(true, 5*time.Second).Verify(context.Background(), srv.URL, expect)
	if r.Passed || !strings.Contains(r.Checks[0].Evidence, fmt.Sprintf("%d bytes", MaxBody)) {
		t.Fatalf("read past the cap: %+v", r.Checks[0])
	}
}

// TestHostTroubleIsNotAFailingPost: a rate limit, an outage, a timeout, a name that does
// not resolve or a refused connection says nothing about the post. The report is
// "could not check" (Transient) with evidence in plain words, never a failed live check
// that would email the creator or hold the payout.
func TestHostTroubleIsNotAFailingPost(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // longer than the fetcher's timeout; ends when the client gives up
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	closed := post(200, "")
	closedURL := closed.URL
	closed.Close() // nothing listens there any more: connection refused

	tests := []struct {
		name, url, evidence string
	}{
		{"rate limited", "", "HTTP 429"},
		{"unavailable", "", "HTTP 503"},
		{"server error", "", "HTTP 500"},
		{"bad gateway", "", "HTTP 502"},
		{"timeout", slow.URL + "/p/1", "did not answer within"},
		{"connection refused", closedURL + "/p/1", "connection to the post's host failed"},
		{"unresolvable host", "http://post.collabflow.invalid/p/1", ""}, // resolver failure or timeout, depending on the machine
	}
	f := NewFetcher(true, 500*time.Millisecond)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.url
			if u == "" {
				var status int
				fmt.Sscanf(tt.evidence, "HTTP %d", &status)
				srv := post(status, "#ad ADA-7Q2 https://acme.test/spring?utm_source=ada&utm_medium=influencer")
				defer srv.Close()
				u = srv.URL + "/p/1"
			}
			r := f.Verify(context.Background(), u, expect)
			if !r.Transient || r.Passed {
				t.Fatalf("transient %v passed %v, want a could-not-check report: %+v", r.Transient, r.Passed, r)
			}
			ev := r.Checks[0].Evidence
			if !strings.HasPrefix(ev, "could not check: ") || !strings.Contains(ev, tt.evidence) {
				t.Errorf("evidence %q, want plain words with %q", ev, tt.evidence)
			}
			for _, raw := range []string{"lookup ", "dial tcp", "127.0.0.1", "Client.Timeout", "connect:"} {
				if strings.Contains(ev, raw) {
					t.Errorf("evidence %q carries the raw error (%q)", ev, raw)
				}
			}
		})
	}
}

// TestFailingPostIsNotTransient: answers about the post itself stay failing reports that
// the workflow acts on.
func TestFailingPostIsNotTransient(t *testing.T) {
	f := NewFetcher(true, 2*time.Second)
	for _, status := range []int{404, 410, 403} {
		srv := post(status, "gone")
		r := f.Verify(context.Background(), srv.URL+"/p/1", expect)
		srv.Close()
		if r.Transient || r.Passed || checks(r)[CheckLive] {
			t.Errorf("HTTP %d: %+v, want a failing report", status, r)
		}
	}
	r := NewFetcher(false, 2*time.Second).Verify(context.Background(), "http://10.0.0.1/p/1", expect)
	if r.Transient || !strings.Contains(r.Checks[0].Evidence, "not allowed") {
		t.Errorf("a forbidden address: %+v", r)
	}
}

// TestPublic: every special-purpose range that is not an ordinary internet address is
// refused by the dial-time guard, in IPv4, IPv4-mapped IPv6 and IPv6 forms, while
// ordinary addresses next to those ranges pass.
func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"93.184.215.14", true},
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"1.0.0.1", true},
		{"100.128.0.1", true},     // just past 100.64.0.0/10
		{"198.20.0.1", true},      // just past 198.18.0.0/15
		{"223.255.255.254", true}, // just below 240.0.0.0/4
		{"64:ff9b:2::1", true},    // past the local-use NAT64 /48
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"127.0.0.1", false},
		{"10.0.0.1", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"100.64.0.1", false},
		{"100.127.255.254", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"198.19.255.254", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"224.0.0.1", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:240.0.0.1", false},
		{"::ffff:0.1.2.3", false},
		{"::", false},
		{"::1", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fec0::1", false},
		{"feff:ffff::1", false}, // the top of fec0::/10
		{"ff02::1", false},
		{"64:ff9b::a00:1", false},   // 10.0.0.1 through the well-known NAT64 prefix
		{"64:ff9b:1::a00:1", false}, // through the local-use NAT64 prefix
		{"64:ff9b:1:ffff::1", false},
		{"2001:db8::1", false},
	} {
		ip := net.ParseIP(tc.ip)
		if ip == nil {
			t.Fatalf("bad test address %q", tc.ip)
		}
		if got := public(ip); got != tc.want {
			t.Errorf("public(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}
