package verify

import (
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// checkAccount is the platform_account check of the page at final (the address after
// redirects). It passes when final is on one of the agreed platforms' domains and the
// creator's handle there shows that the post is theirs, by either of:
//
//   - the address: a path segment is the handle, with or without "@"
//     (tiktok.com/@ada/video/1, x.com/ada/status/1, instagram.com/ada/p/X);
//   - the page's author metadata, read only from a live page: <meta> author,
//     article:author, twitter:creator or profile:username naming the handle (exactly, or
//     "@handle" among its words), or og:url, the platform's canonical address, with the
//     handle as a path segment.
//
// Mentions in the page's text do not count: captions and comments name other accounts,
// so any post mentioning the creator would pass. Evidence names the platform, never the
// handle or host: it is stored in the workflow history and reaches the creator.
func checkAccount(final *url.URL, live bool, page string, accounts []Account) (bool, string) {
	a := accountFor(final, accounts)
	switch {
	case a == nil:
		// Redirects are confined to the agreed domains, so only a bug lands here.
		return false, "the post's final address is not on " + platformNames(accounts)
	case normalizeHandle(a.Handle) == "":
		return false, "the creator has no " + a.Platform + " handle on file, so the post's account cannot be checked"
	case pathHasHandle(final, a.Handle):
		return true, "on " + a.Platform + ", the creator's account is in the post's address"
	case live && metaNamesHandle(page, a):
		return true, "on " + a.Platform + ", the page names the creator's account as its author"
	}
	return false, "the post is on " + a.Platform + " but not shown as the creator's account: neither its address nor the page's author names their handle"
}

// accountFor is the account whose platform domains u is on, nil when none.
func accountFor(u *url.URL, accounts []Account) *Account {
	for i := range accounts {
		if onAnyDomain(u, accounts[i].Hosts) {
			return &accounts[i]
		}
	}
	return nil
}

// onAnyDomain reports whether u is on one of the domains.
func onAnyDomain(u *url.URL, domains []string) bool {
	return slices.ContainsFunc(domains, func(d string) bool { return onDomain(u, d) })
}

// platformNames lists the accounts' platforms for evidence: "instagram or tiktok".
func platformNames(accounts []Account) string {
	var names []string
	for _, a := range accounts {
		if !slices.Contains(names, a.Platform) {
			names = append(names, a.Platform)
		}
	}
	if len(names) == 0 {
		return "the agreed platform"
	}
	return strings.Join(names, " or ")
}

func normalizeHandle(h string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(h), "@"))
}

// pathHasHandle reports whether a segment of u's path is the handle, "@" optional.
func pathHasHandle(u *url.URL, handle string) bool {
	h := normalizeHandle(handle)
	if h == "" {
		return false
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if strings.EqualFold(strings.TrimPrefix(seg, "@"), h) {
			return true
		}
	}
	return false
}

var (
	metaTag  = regexp.MustCompile(`(?is)<meta\b[^>]*>`)
	metaAttr = regexp.MustCompile(`(?s)([A-Za-z_:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)
)

// authorMeta are the <meta> names (or properties) that name a page's author.
var authorMeta = []string{"author", "article:author", "twitter:creator", "profile:username"}

// metaNamesHandle reports whether the page's author metadata names a's handle.
func metaNamesHandle(page string, a *Account) bool {
	h := normalizeHandle(a.Handle)
	for _, tag := range metaTag.FindAllString(page, 200) {
		var key, content string
		for _, m := range metaAttr.FindAllStringSubmatch(tag, -1) {
			value := html.UnescapeString(m[2] + m[3] + m[4])
			switch strings.ToLower(m[1]) {
			case "name", "property", "itemprop":
				key = strings.ToLower(strings.TrimSpace(value))
			case "content":
				content = strings.TrimSpace(value)
			}
		}
		switch {
		case key == "og:url":
			if u, err := url.Parse(content); err == nil && onAnyDomain(u, a.Hosts) && pathHasHandle(u, h) {
				return true
			}
		case slices.Contains(authorMeta, key):
			if normalizeHandle(content) == h {
				return true
			}
			words := strings.FieldsFunc(content, func(r rune) bool {
				return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-@", r)
			})
			for _, w := range words {
				if strings.EqualFold(strings.TrimRight(w, "."), "@"+h) {
					return true
				}
			}
		}
	}
	return false
}
