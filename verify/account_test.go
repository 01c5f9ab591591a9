package verify

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// platformServer answers for every host name: a fetcher from routedFetcher sends each
// connection to it whatever the URL's host, so tests fetch instagram.com, its subdomains
// and other hosts over real HTTP without DNS. Pages are keyed by host and path.
type platformServer struct {
	*httptest.Server
	mu    sync.Mutex
	pages map[string]string // "host/path" → body, or "-> URL" for a redirect
	hits  []string
}

func newPlatformServer(t *testing.T, pages map[string]string) *platformServer {
	t.Helper()
	s := &platformServer{pages: pages}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.ToLower(strings.TrimSuffix(r.Host, ".") + r.URL.Path)
		s.mu.Lock()
		s.hits = append(s.hits, key)
		page, ok := s.pages[key]
		s.mu.Unlock()
		switch {
		case !ok:
			http.NotFound(w, r)
		case strings.HasPrefix(page, "-> "):
			http.Redirect(w, r, strings.TrimPrefix(page, "-> "), http.StatusFound)
		default:
			fmt.Fprint(w, page)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *platformServer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits = nil
}

func (s *platformServer) fetched(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hits {
		if strings.HasPrefix(h, host+"/") {
			return true
		}
	}
	return false
}

// routedFetcher is a fetcher whose every connection goes to srv.
func routedFetcher(srv *httptest.Server) *Fetcher {
	f := NewFetcher(true, 2*time.Second)
	addr := srv.Listener.Addr().String()
	var d net.Dialer
	f.client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return f
}

func TestPlatformAccount(t *testing.T) {
	const caption = "<p>#ad New shoes, code ADA-7Q2</p>"
	hosts := DefaultPlatformHosts()
	instagram := []Account{{Platform: "instagram", Hosts: hosts["instagram"], Handle: "ada.codes"}}
	srv := newPlatformServer(t, map[string]string{
		"instagram.com/ada.codes/p/1":       caption,
		"instagram.com/bob/p/1":             caption,
		"instagram.com/ada.codes2/p/1":      caption,
		"m.instagram.com/ada.codes/p/1":     caption,
		"www.instagram.com/ada.codes/p/1":   caption,
		"tiktok.com/@ada.codes/video/1":     caption,
		"attacker.example/ada.codes/p/1":    caption,
		"evilinstagram.com/ada.codes/p/1":   caption,
		"instagram.com.evil.test/ada.codes": caption,
		"instagram.com/p/author":            `<html><head><meta name="author" content="@ada.codes"></head><body>` + caption + `</body></html>`,
		"instagram.com/p/ogurl":             `<meta content="https://www.instagram.com/ada.codes/p/ogurl/" property="og:url">` + caption,
		"instagram.com/p/creator":           `<meta name='twitter:creator' content='Ada Lovelace (@ada.codes) &bull; Instagram'>` + caption,
		"instagram.com/p/ogurl-elsewhere":   `<meta property="og:url" content="https://attacker.example/ada.codes/">` + caption,
		"instagram.com/p/mention":           caption + `<p>shout-out to @ada.codes</p>`,
		"instagram.com/p/other-author":      `<meta name="author" content="@bob">` + caption + `<p>@ada.codes</p>`,
		"instagram.com/p/move":              "-> http://www.instagram.com/ada.codes/p/1",
		"instagram.com/p/away":              "-> http://attacker.example/ada.codes/p/1",
		"instagram.com/p/away-internal":     "-> http://127.0.0.1:1/ada.codes/p/1",
	})
	f := routedFetcher(srv.Server)

	tests := []struct {
		name     string
		url      string
		accounts []Account
		pass     bool
		evidence string // in the platform_account check's evidence
		notHost  string // a host that must not have been fetched
	}{
		{"handle in the path", "http://instagram.com/ada.codes/p/1", instagram, true, "in the post's address", ""},
		{"@handle in the path", "http://tiktok.com/@ada.codes/video/1",
			[]Account{{Platform: "tiktok", Hosts: hosts["tiktok"], Handle: "@ada.codes"}}, true, "on tiktok", ""},
		{"subdomain", "http://m.instagram.com/ada.codes/p/1", instagram, true, "", ""},
		{"case of host and handle", "http://WWW.Instagram.COM./Ada.Codes/p/1", instagram, true, "", ""},
		{"one of several platforms", "http://instagram.com/ada.codes/p/1",
			append([]Account{{Platform: "tiktok", Hosts: hosts["tiktok"], Handle: "ada"}}, instagram...), true, "on instagram", ""},
		{"wrong handle", "http://instagram.com/bob/p/1", instagram, false, "not shown as the creator's account", ""},
		{"handle as a prefix", "http://instagram.com/ada.codes2/p/1", instagram, false, "not shown as the creator's account", ""},
		{"handle on another platform", "http://tiktok.com/@ada.codes/video/1", instagram, false, "not on instagram", "tiktok.com"},
		{"off platform", "http://attacker.example/ada.codes/p/1", instagram, false, "not on instagram", "attacker.example"},
		{"look-alike domain", "http://evilinstagram.com/ada.codes/p/1", instagram, false, "not on instagram", "evilinstagram.com"},
		{"platform domain as a prefix", "http://instagram.com.evil.test/ada.codes", instagram, false, "not on instagram", "instagram.com.evil.test"},
		{"author meta", "http://instagram.com/p/author", instagram, true, "names the creator's account as its author", ""},
		{"og:url", "http://instagram.com/p/ogurl", instagram, true, "author", ""},
		{"creator meta with a display name", "http://instagram.com/p/creator", instagram, true, "author", ""},
		{"og:url off the platform", "http://instagram.com/p/ogurl-elsewhere", instagram, false, "not shown as the creator's account", ""},
		{"handle only mentioned in the caption", "http://instagram.com/p/mention", instagram, false, "not shown as the creator's account", ""},
		{"another author", "http://instagram.com/p/other-author", instagram, false, "not shown as the creator's account", ""},
		{"no handle on file", "http://instagram.com/ada.codes/p/1",
			[]Account{{Platform: "instagram", Hosts: hosts["instagram"]}}, false, "no instagram handle on file", ""},
		{"no agreed platform", "http://instagram.com/ada.codes/p/1", nil, false, "names no platform", ""},
		{"redirect within the platform", "http://instagram.com/p/move", instagram, true, "", ""},
		{"redirect off the platform", "http://instagram.com/p/away", instagram, false, "redirects away from instagram", "attacker.example"},
		{"redirect to an internal address", "http://instagram.com/p/away-internal", instagram, false, "redirects away from instagram", "127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.reset()
			e := expect
			e.Accounts = tt.accounts
			r := f.Verify(context.Background(), tt.url, e)
			var account Check
			for _, c := range r.Checks {
				if c.Name == CheckAccount {
					account = c
				}
			}
			if account.Passed != tt.pass || r.Passed != tt.pass || r.Transient || !strings.Contains(account.Evidence, tt.evidence) {
				t.Fatalf("passed %v (check %+v), want %v with %q; report %+v", r.Passed, account, tt.pass, tt.evidence, r)
			}
			if tt.notHost != "" && srv.fetched(tt.notHost) {
				t.Errorf("fetched %s", tt.notHost)
			}
			for _, c := range r.Checks {
				// Evidence reaches the creator and the history: no handle, no address.
				for _, leak := range []string{"ada.codes", "127.0.0.1", "attacker.example"} {
					if strings.Contains(strings.ToLower(c.Evidence), leak) && c.Name == CheckAccount {
						t.Errorf("%s evidence %q names %q", c.Name, c.Evidence, leak)
					}
				}
			}
			if strings.Contains(r.FinalURL, "attacker") || strings.Contains(r.FinalURL, "127.0.0.1") {
				t.Errorf("final URL %q is off the platform", r.FinalURL)
			}
		})
	}
}

// TestRedirectOffPlatformOverHTTP: two real servers on different ports; only the
// platform's (configured with its port, as tests and dev do) may be fetched, and its
// redirect to the other is refused before the other is asked.
func TestRedirectOffPlatformOverHTTP(t *testing.T) {
	var otherHits int
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits++
		fmt.Fprint(w, "#ad ADA-7Q2 <meta name=author content=ada>")
	}))
	defer other.Close()
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/ada/p/1", http.StatusFound)
	}))
	defer platform.Close()
	hosts, err := ParsePlatformHosts("instagram=" + strings.TrimPrefix(platform.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	e := expect
	e.Accounts = []Account{{Platform: "instagram", Hosts: hosts["instagram"], Handle: "ada"}}
	f := NewFetcher(true, 2*time.Second)
	r := f.Verify(context.Background(), platform.URL+"/ada/p/1", e)
	if r.Passed || otherHits != 0 || !strings.Contains(r.Checks[3].Evidence, "redirects away from instagram") {
		t.Fatalf("other host hit %d time(s); report %+v", otherHits, r)
	}
	if strings.Contains(fmt.Sprint(r.Checks), strings.TrimPrefix(other.URL, "http://")) {
		t.Fatalf("evidence names the redirect target: %+v", r.Checks)
	}
	r = f.Verify(context.Background(), other.URL+"/ada/p/1", e)
	if r.Passed || otherHits != 0 || !strings.Contains(r.Checks[3].Evidence, "not on instagram") {
		t.Fatalf("the other port was fetched (%d) or passed: %+v", otherHits, r)
	}
}

func TestOnDomain(t *testing.T) {
	tests := []struct {
		url, domain string
		want        bool
	}{
		{"https://instagram.com/p/1", "instagram.com", true},
		{"https://www.instagram.com/p/1", "instagram.com", true},
		{"https://M.Instagram.Com./p/1", "instagram.com", true},
		{"https://instagram.com:8443/p/1", "instagram.com", true},
		{"https://notinstagram.com/p/1", "instagram.com", false},
		{"https://instagram.com.evil.test/p/1", "instagram.com", false},
		{"https://evil.test/instagram.com", "instagram.com", false},
		{"https://instagram.com@evil.test/p/1", "instagram.com", false},
		{"http://127.0.0.1:18299/p/1", "127.0.0.1:18299", true},
		{"http://127.0.0.1:18300/p/1", "127.0.0.1:18299", false},
		{"http://127.0.0.1/p/1", "127.0.0.1:80", true},
		{"https://127.0.0.1/p/1", "127.0.0.1:80", false},
		{"http://127.0.0.1:9/p/1", "127.0.0.1", true},
		{"http://1.127.0.0.1/p/1", "127.0.0.1", false},
		{"http://[::1]:8080/p/1", "[::1]:8080", true},
		{"http://localhost:8080/p/1", "localhost:8080", true},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := onDomain(u, tt.domain); got != tt.want {
			t.Errorf("onDomain(%s, %s) = %v, want %v", tt.url, tt.domain, got, tt.want)
		}
	}
}

func TestParsePlatformHosts(t *testing.T) {
	got, err := ParsePlatformHosts(" instagram = 127.0.0.1:18299 , Insta.Test. ; tiktok=vm.tiktok.com")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got["instagram"]) != "[127.0.0.1:18299 insta.test]" || fmt.Sprint(got["tiktok"]) != "[vm.tiktok.com]" ||
		fmt.Sprint(got["youtube"]) != "[youtube.com youtu.be]" {
		t.Fatalf("table %v", got)
	}
	if defaults, err := ParsePlatformHosts(""); err != nil || defaults.String() != DefaultPlatformHosts().String() {
		t.Fatalf("empty: %v %v", defaults, err)
	}
	for _, bad := range []string{
		"myspace=myspace.com", "instagram", "instagram=", "instagram=https://instagram.com",
		"instagram=instagram.com/p", "instagram=127.0.0.1:0", "instagram=127.0.0.1:99999",
		"instagram=a.com;instagram=b.com", "instagram=under_score.com",
	} {
		if _, err := ParsePlatformHosts(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
