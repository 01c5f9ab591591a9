package api

import (
	"encoding/json"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
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
// is read without a panic (security review L11), into valid UTF-8 within the limits.
func FuzzRawInbound(f *testing.F) {
	f.Add("From: ada@example.com\r\nSubject: hi\r\n\r\nyes please")
	f.Add("Content-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/plain\n\nhello\n--x--")
	f.Add("no blank line at all")
	f.Add("Subject: =?KOI8-R?B?6dfBzg==?=\nContent-Type: text/html; charset=Shift_JIS\nContent-Transfer-Encoding: base64\n\nPHA+iuyC8YLFPC9wPg==")
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := mail.ReadMessage(strings.NewReader(raw)); err != nil {
			return
		}
		got := readRawEmail(strings.NewReader(raw))
		if len(got.Text) > maxStoredText || len(got.Subject) > maxInboundField || len(got.MessageID) > maxInboundField ||
			!utf8.ValidString(got.Text) || !utf8.ValidString(got.Subject) || !utf8.ValidString(got.MessageID) {
			t.Fatalf("read %q into %+v", raw, got)
		}
	})
}

// FuzzEventBatch: an Event Webhook body, however malformed, is parsed without a panic; a
// body that does not parse yields an error and no events, so the handler applies nothing
// from it; and what does parse is what the handler can store and signal: valid UTF-8
// strings (PostgreSQL text), a bounded number of events of bounded size, and events that
// parse the same again when written back out. An event the handler would apply (no
// defect) has no NUL or other control character in any string and a timestamp from 2000
// to a day after now; any other event carries its defect, so the handler skips it. The
// seeds in testdata/fuzz/FuzzEventBatch include a real SendGrid batch, control characters
// and timestamps out of range.
func FuzzEventBatch(f *testing.F) {
	f.Add([]byte(`[{"email":"ada@example.com","event":"delivered","timestamp":1700000000,"sg_event_id":"e1","collaboration_id":"c1","message_key":"m1"}]`))
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := parseEventBatch(body, now)
		if err != nil {
			if events != nil {
				t.Fatalf("error %v came with %d events: a malformed batch must yield none", err, len(events))
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted a body that is not JSON: %q", body)
		}
		// Every element of the array takes at least two bytes with its separator.
		if 2*len(events) > len(body) {
			t.Fatalf("%d events from %d bytes", len(events), len(body))
		}
		for i, ev := range events {
			control := false
			for _, field := range []string{ev.Email, ev.Event, ev.EventID, ev.Reason, ev.Type, ev.Response, ev.CollaborationID, ev.MessageKey} {
				if !utf8.ValidString(field) {
					t.Fatalf("event %d: field %q is not valid UTF-8", i, field)
				}
				// Invalid bytes become U+FFFD, three bytes each: no more growth than that.
				if len(field) > 3*len(body) {
					t.Fatalf("event %d: field of %d bytes from a body of %d", i, len(field), len(body))
				}
				control = control || strings.ContainsFunc(field, func(r rune) bool {
					return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
				})
			}
			at := time.Unix(ev.Timestamp, 0).UTC()
			inRange := !at.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) && !at.After(now.Add(24*time.Hour))
			if sound := !control && inRange; sound != (ev.defect == "") {
				t.Fatalf("event %d: control characters %v, timestamp %v (in range %v), defect %q", i, control, at, inRange, ev.defect)
			}
		}
		out, err := json.Marshal(events)
		if err != nil {
			t.Fatalf("write events back: %v", err)
		}
		again, err := parseEventBatch(out, now)
		if err != nil || !slices.Equal(again, events) {
			t.Fatalf("events changed when written and parsed again: %v\n%+v\n%+v", err, events, again)
		}
	})
}
