package api

import (
	"errors"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sendgrid/sendgrid-go/helpers/inbound"
)

// TestDKIMResultsParse (M2): the dkim field is parsed into domain → result, not searched
// for the substring "pass".
func TestDKIMResultsParse(t *testing.T) {
	for _, tc := range []struct {
		field string
		want  map[string]string
	}{
		{"{@example.com : pass}", map[string]string{"example.com": "pass"}},
		{"{@Example.COM : PASS}", map[string]string{"example.com": "pass"}},
		{"{@example.com : fail (bypass)}", map[string]string{"example.com": "fail"}},
		{"{@evil.test : pass}", map[string]string{"evil.test": "pass"}},
		{"{@a.test : pass, @b.test : neutral}", map[string]string{"a.test": "pass", "b.test": "neutral"}},
		{"{@a.test : fail, @a.test : pass}", map[string]string{"a.test": "pass"}},
		{"{@passport.test : none}", map[string]string{"passport.test": "none"}},
		{"{example.com : pass}", map[string]string{}},
		{"{@ : pass}", map[string]string{}},
		{"{@example.com pass}", map[string]string{}},
		{"{@x@example.com : pass}", map[string]string{}},
		{"{@example.com : }", map[string]string{}},
		{"pass", map[string]string{}},
		{"", map[string]string{}},
		{"none", map[string]string{}},
	} {
		if got := dkimResults(tc.field); !maps.Equal(got, tc.want) {
			t.Errorf("dkimResults(%q) = %v, want %v", tc.field, got, tc.want)
		}
	}
}

// TestSenderAuthenticated (M2): a sender is vouched for only by a DKIM pass for the From:
// domain itself, or an SPF pass for an envelope sender of that domain.
func TestSenderAuthenticated(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		from, envelope, dkim, spf string
		want                      bool
	}{
		{"dkim pass for the sender's domain", "Sam <sam@example.com>", "", "{@example.com : pass}", "", true},
		{"dkim pass, domain case differs", "sam@EXAMPLE.com", "", "{@example.COM : pass}", "none", true},
		{"spf pass for the sender's envelope domain", "sam@example.com", "bounce@example.com", "", "pass", true},
		{"dkim pass for another domain (B14)", "Mallory <mallory@example.com>", "bounce@evil.test", "{@evil.test : pass}", "pass", false},
		{"dkim fail (bypass), spf softfail (passthrough) (B15)", "eve@example.com", "eve@example.com", "{@example.com : fail (bypass)}", "softfail (passthrough)", false},
		{"spf pass for another envelope domain", "sam@example.com", "x@evil.test", "", "pass", false},
		{"spf pass without an envelope sender", "sam@example.com", "", "", "pass", false},
		{"subdomain signature is not the sender's domain", "sam@example.com", "", "{@mail.example.com : pass}", "", false},
		{"parent-looking domain", "sam@example.com.evil.test", "", "{@example.com : pass}", "", false},
		{"spf word containing pass", "sam@example.com", "sam@example.com", "", "passthrough", false},
		{"no checks", "sam@example.com", "sam@example.com", "", "", false},
		{"no sender", "", "", "{@example.com : pass}", "pass", false},
	} {
		if got := senderAuthenticated(tc.from, tc.envelope, tc.dkim, tc.spf); got != tc.want {
			t.Errorf("%s: senderAuthenticated(%q, %q, %q, %q) = %v, want %v", tc.name, tc.from, tc.envelope, tc.dkim, tc.spf, got, tc.want)
		}
	}
}

// TestInboundParserPanicIs400 (L11): a panic inside sendgrid-go's parser becomes a 400
// naming the field, not a 500.
func TestInboundParserPanicIs400(t *testing.T) {
	saved := inboundParse
	t.Cleanup(func() { inboundParse = saved })
	inboundParse = func(*http.Request) (*inbound.ParsedEmail, error) {
		var s []string
		_ = s[1] // the index out of range sendgrid-go's raw branch hits
		return nil, nil
	}
	form := &inboundForm{values: map[string][]string{"from": {"a@b.c"}, "headers": {"Subject: x"}}}
	_, _, err := parseInbound(form, http.Header{})
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Fields["headers"] == "" {
		t.Fatalf("err %v, want 400 naming the headers field", err)
	}
}

// TestRawText: the text and headers of a raw MIME message, plain or multipart, CRLF or LF,
// in any charset, HTML-only or with RFC 2047 headers, read as UTF-8 (issue 19 item 3).
func TestRawText(t *testing.T) {
	for _, tc := range []struct{ raw, want, subject string }{
		{"Subject: x\r\n\r\nhello\r\n", "hello\r\n", "x"},
		{"Subject: x", "", "x"},
		{"Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\n<p>hi</p>\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nyes =\nplease\n--b--\n", "yes please", ""},
		{"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVs\r\nbG8=\n", "hello", ""},
		{"Content-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nTr=E8s bien", "Très bien", ""},
		{"Content-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: base64\n\niuyC8YLFgqiO84KvgrWC3IK3gUI=", "喜んでお受けします。", ""},
		{"Content-Type: text/plain; charset=koi8-r\n\n\xe4\xc1", "Да", ""},
		{"Content-Type: text/html; charset=utf-8\n\n<p>Hello <b>there</b></p>", "Hello *there*", ""},
		{"Subject: =?ISO-8859-1?Q?d=E9j=E0?= vu\n\nok", "ok", "déjà vu"},
		{"Subject: =?Shift_JIS?B?iuyC8YLF?=\n\nok", "ok", "喜んで"},
		// The text before an attachment too large to read whole (maxRawRead) is kept.
		{"Subject: att\nContent-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain\n\nsee attached\n--m\n" +
			"Content-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf\nContent-Transfer-Encoding: base64\n\n" +
			strings.Repeat("QUJD\n", 2*maxRawRead/5) + "--m--\n", "see attached", "att"},
	} {
		got := readRawEmail(strings.NewReader(tc.raw))
		if got.Text != tc.want || got.Subject != tc.subject {
			t.Errorf("readRawEmail(%q) = %q, subject %q; want %q, subject %q", tc.raw, got.Text, got.Subject, tc.want, tc.subject)
		}
	}
}

// TestInboundFormSpillsLargeFields (M1): the form is read with a bounded memory budget: a
// body field beyond it goes to a temporary file, small fields stay in memory, and the
// stored text is cut off at maxStoredText.
func TestInboundFormSpillsLargeFields(t *testing.T) {
	var body strings.Builder
	w := multipart.NewWriter(&body)
	_ = w.WriteField("from", "a@example.com")
	_ = w.WriteField("text", strings.Repeat("é", 2*inboundMemory)) // 4 MB
	raw := "Subject: big\r\n\r\n" + strings.Repeat("x", 2*inboundMemory)
	_ = w.WriteField("email", raw)
	_ = w.Close()
	req := httptest.NewRequest("POST", "/webhooks/sendgrid/inbound", strings.NewReader(body.String()))
	req.Header.Set("Content-Type", w.FormDataContentType())
	form, err := readInboundForm(httptest.NewRecorder(), req)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range form.files {
		names = append(names, f.Name())
	}
	if form.spilled["text"] == nil || form.spilled["email"] == nil || len(form.values["text"]) != 0 || form.values["from"][0] != "a@example.com" {
		t.Fatalf("spilled %v values %d", form.spilled, len(form.values))
	}
	parsed, msg, err := parseInbound(form, req.Header)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(parsed.TextBody); n > maxStoredText || n < maxStoredText-4 || !utf8.ValidString(parsed.TextBody) {
		t.Fatalf("text of %d bytes (valid UTF-8 %v), want it cut at %d", n, utf8.ValidString(parsed.TextBody), maxStoredText)
	}
	if len(msg.Text) != maxStoredText || msg.Subject != "big" {
		t.Fatalf("raw text of %d bytes, subject %q", len(msg.Text), msg.Subject)
	}
	form.close()
	for _, name := range names {
		if _, err := os.Stat(name); !os.IsNotExist(err) {
			t.Errorf("temporary file %s left behind: %v", name, err)
		}
	}
}

// TestAddressesWithEncodedNames (issue 19 item 3): a From: whose display name is RFC 2047
// encoded in a charset net/mail does not know (KOI8-R, Shift_JIS) still yields its
// address, so a reply matched by its DKIM-checked sender is not lost.
func TestAddressesWithEncodedNames(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"=?KOI8-R?B?6dfBzg==?= <ivan@example.com>", "ivan@example.com"},
		{"=?Shift_JIS?B?iuyC8YLF?= <taro@example.jp>", "taro@example.jp"},
		{"=?ISO-8859-1?Q?Ren=E9?= <rene@example.fr>", "rene@example.fr"},
		{"=?x-unknown?Q?abc?= <x@example.com>", ""},
	} {
		got := strings.Join(addressList(tc.header), ",")
		if got != tc.want {
			t.Errorf("addressList(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
	if !senderAuthenticated("=?KOI8-R?B?6dfBzg==?= <ivan@example.com>", "", "{@example.com : pass}", "") {
		t.Error("a DKIM pass for the sender's domain did not vouch for a sender with a KOI8-R name")
	}
}
