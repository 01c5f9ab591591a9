package verify

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/collabflow/collabflow/roster"
)

// PlatformHosts maps a platform (one of roster.Platforms) to the domains its posts live on.
// A host is on a domain when it is the domain or one of its subdomains, so m.instagram.com
// and www.instagram.com are on instagram.com. A domain written with a port matches only
// that port; one without matches any port.
type PlatformHosts map[string][]string

// DefaultPlatformHosts are the public domains of each platform's posts. They are the
// platforms' own domains only: link shorteners and CDNs are left out because anyone can
// point them anywhere.
func DefaultPlatformHosts() PlatformHosts {
	return PlatformHosts{
		"instagram": {"instagram.com"},
		"tiktok":    {"tiktok.com"},
		"youtube":   {"youtube.com", "youtu.be"},
		"twitch":    {"twitch.tv"},
		"x":         {"x.com", "twitter.com"},
		"facebook":  {"facebook.com", "fb.watch"},
		"linkedin":  {"linkedin.com"},
		"pinterest": {"pinterest.com", "pin.it"},
		"snapchat":  {"snapchat.com"},
		"threads":   {"threads.net", "threads.com"},
		"bluesky":   {"bsky.app"},
	}
}

// ParsePlatformHosts reads overrides of the default table, as
// "platform=domain[,domain...][;platform=...]", for example
// "instagram=127.0.0.1:18299;tiktok=tiktok.com,vm.tiktok.com". A platform named replaces
// its default domains; the others keep theirs. Empty text gives the defaults.
func ParsePlatformHosts(s string) (PlatformHosts, error) {
	out := DefaultPlatformHosts()
	seen := map[string]bool{}
	for _, entry := range strings.Split(s, ";") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		platform, list, ok := strings.Cut(entry, "=")
		platform = strings.ToLower(strings.TrimSpace(platform))
		if !ok || !slices.Contains(roster.Platforms, platform) {
			return nil, fmt.Errorf("%q: want platform=domain[,domain...] with a platform from %s", entry, strings.Join(roster.Platforms, ", "))
		}
		if seen[platform] {
			return nil, fmt.Errorf("%s is given twice", platform)
		}
		seen[platform] = true
		var domains []string
		for _, d := range strings.Split(list, ",") {
			if d = strings.TrimSpace(d); d == "" {
				continue
			}
			norm, err := normalizeDomain(d)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", platform, err)
			}
			domains = append(domains, norm)
		}
		if len(domains) == 0 {
			return nil, fmt.Errorf("%s: no domain given", platform)
		}
		out[platform] = domains
	}
	return out, nil
}

// String is the table in the syntax ParsePlatformHosts reads, platforms in order, for the
// start-up log.
func (p PlatformHosts) String() string {
	var parts []string
	for _, platform := range slices.Sorted(maps.Keys(p)) {
		parts = append(parts, platform+"="+strings.Join(p[platform], ","))
	}
	return strings.Join(parts, ";")
}

var domainPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// normalizeDomain lower-cases a domain and checks that it is a bare host name or IP
// address with an optional port: a scheme or path would never match a URL's host.
func normalizeDomain(d string) (string, error) {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	host, port := d, ""
	if h, p, err := net.SplitHostPort(d); err == nil {
		host, port = h, p
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: the port is not a number from 1 to 65535", d)
		}
	}
	if net.ParseIP(host) == nil && !domainPattern.MatchString(host) {
		return "", fmt.Errorf("%q is not a domain such as instagram.com or 127.0.0.1:18299", d)
	}
	if port != "" {
		return net.JoinHostPort(host, port), nil
	}
	return host, nil
}

// onDomain reports whether the URL's host is on the domain: equal to it or a subdomain of
// it, ignoring case and a trailing dot, and the port only when the domain names one.
func onDomain(u *url.URL, domain string) bool {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	want, wantPort := domain, ""
	if h, p, err := net.SplitHostPort(domain); err == nil {
		want, wantPort = h, p
	}
	if wantPort != "" && urlPort(u) != wantPort {
		return false
	}
	if net.ParseIP(want) != nil {
		return host == want
	}
	return host == want || strings.HasSuffix(host, "."+want)
}

// urlPort is the URL's port, the scheme's default when none is written.
func urlPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}
