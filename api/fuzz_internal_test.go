package api

import (
	"net/mail"
	"strings"
	"testing"
)

// FuzzInboundSender: the Inbound Parse sender check never panics, and vouches for a sender
// only with a DKIM pass for the From: domain itself or an SPF pass for an envelope sender
// of that domain.
func FuzzInboundSender(f *testing.F) {
	f.Add("Ada <ada@example.com>", "ada@example.com", "{@example.com : pass}", "pass")
	f.Add("ada@example.com", "x@evil.test", "{@evil.test : pass, @example.com : fail}", "pass")
	f.Fuzz(func(t *testing.T, from, envelope, dkim, spf string) {
		if !senderAuthenticated(from, envelope, dkim, spf) {
			return
		}
		domain := addressDomain(from)
		if dkimResults(dkim)[domain] != "pass" && (spfResult(spf) != "pass" || addressDomain(envelope) != domain) {
			t.Fatalf("vouched for %q with dkim %q, spf %q, envelope %q", from, dkim, spf, envelope)
		}
	})
}

// FuzzRawInbound: a raw message in the Inbound Parse "email" field, however malformed,
// is read without a panic (security review L11).
func FuzzRawInbound(f *testing.F) {
	f.Add("From: ada@example.com\r\nSubject: hi\r\n\r\nyes please")
	f.Add("Content-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/plain\n\nhello\n--x--")
	f.Add("no blank line at all")
	f.Fuzz(func(t *testing.T, raw string) {
		msg, err := mail.ReadMessage(strings.NewReader(raw))
		if err != nil {
			return
		}
		_ = rawText(msg)
	})
}
