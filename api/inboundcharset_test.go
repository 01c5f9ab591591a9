package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// encode is s in a legacy charset, as a sender's mail client writes it.
func encode(t *testing.T, enc encoding.Encoding, s string) string {
	t.Helper()
	out, err := enc.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInboundRepliesInOtherCharsets (issue 19 item 3): replies in ISO-8859-1, Shift_JIS
// and KOI8-R, HTML-only replies and RFC 2047 subjects are recorded as readable UTF-8,
// both from a raw MIME message ("send raw") and from SendGrid's parsed fields with their
// charsets.
func TestInboundRepliesInOtherCharsets(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	m := sentTo(id)[0]
	from := "Creator <" + m.To[0] + ">"
	envelope := fmt.Sprintf(`{"to":[%q],"from":%q}`, m.ReplyTo, m.To[0])
	latin := "Très bien, ça me va !"
	japaneseText := "喜んでお受けします。"
	sjis := encode(t, japanese.ShiftJIS, japaneseText)
	html := "<html><body><p>Hello <b>there</b>,</p><p>count me in!</p></body></html>"
	for _, tc := range []struct {
		name        string
		fields      map[string]string
		wantText    string // the whole recorded text, or
		wantContain []string
		wantSubject string
	}{
		{name: "raw ISO-8859-1 quoted-printable", wantText: latin, wantSubject: "Re: offer", fields: map[string]string{
			"email": "From: " + from + "\r\nSubject: Re: offer\r\nMessage-ID: <latin-raw>\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
				"Tr=E8s bien, =E7a me va !"}},
		{name: "raw Shift_JIS base64", wantText: japaneseText, wantSubject: "Re: offer", fields: map[string]string{
			"email": "From: " + from + "\r\nSubject: Re: offer\r\nMessage-ID: <sjis-raw>\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				base64.StdEncoding.EncodeToString([]byte(sjis))}},
		{name: "raw HTML only", wantContain: []string{"Hello", "there", "count me in!"}, wantSubject: "Re: offer", fields: map[string]string{
			"email": "From: " + from + "\r\nSubject: Re: offer\r\nMessage-ID: <html-raw>\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: text/html; charset=UTF-8\r\n\r\n" + html}},
		{name: "raw multipart/alternative in Windows-1252", wantText: "Yes – “gladly”", wantSubject: "Re: offer", fields: map[string]string{
			"email": "From: " + from + "\r\nSubject: Re: offer\r\nMessage-ID: <alt-raw>\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n" +
				"Content-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nYes =96 =93gladly=94\r\n--b\r\n" +
				"Content-Type: text/html; charset=windows-1252\r\n\r\n<p>Yes =96 gladly</p>\r\n--b--\r\n"}},
		{name: "raw RFC 2047 subject and From name", wantText: "ok", wantSubject: "Re: Предложение", fields: map[string]string{
			"email": "From: =?KOI8-R?B?" + base64.StdEncoding.EncodeToString([]byte(encode(t, charmap.KOI8R, "Иван"))) + "?= <" + m.To[0] + ">\r\n" +
				"Subject: =?KOI8-R?B?" + base64.StdEncoding.EncodeToString([]byte(encode(t, charmap.KOI8R, "Re: Предложение"))) + "?=\r\n" +
				"Message-ID: <koi8-raw>\r\n\r\nok"}},
		{name: "parsed ISO-8859-1", wantText: latin, wantSubject: "Re: déjà", fields: map[string]string{
			"from": from, "subject": encode(t, charmap.ISO8859_1, "Re: déjà"), "text": encode(t, charmap.ISO8859_1, latin),
			"headers": "Message-ID: <latin-parsed>\n", "charsets": `{"to":"UTF-8","from":"UTF-8","subject":"iso-8859-1","text":"iso-8859-1"}`}},
		{name: "parsed Shift_JIS", wantText: japaneseText, wantSubject: "Re: offer", fields: map[string]string{
			"from": from, "subject": "Re: offer", "text": sjis,
			"headers": "Message-ID: <sjis-parsed>\n", "charsets": `{"to":"UTF-8","from":"UTF-8","subject":"UTF-8","text":"Shift_JIS"}`}},
		{name: "parsed HTML only", wantContain: []string{"Hello", "there", "count me in!"}, wantSubject: "Re: offer", fields: map[string]string{
			"from": from, "subject": "Re: offer", "html": html,
			"headers": "Message-ID: <html-parsed>\n", "charsets": `{"to":"UTF-8","from":"UTF-8","subject":"UTF-8","html":"UTF-8"}`}},
		{name: "parsed text and HTML in Windows-1252", wantText: "Yes – “gladly”", wantSubject: "Re: offer", fields: map[string]string{
			"from": from, "subject": "Re: offer", "text": encode(t, charmap.Windows1252, "Yes – “gladly”"), "html": encode(t, charmap.Windows1252, "<p>Yes – gladly</p>"),
			"headers": "Message-ID: <alt-parsed>\n", "charsets": `{"from":"UTF-8","subject":"UTF-8","text":"windows-1252","html":"windows-1252"}`}},
		{name: "parsed RFC 2047 subject", wantText: "ok", wantSubject: "Re: Предложение", fields: map[string]string{
			"from":    "=?KOI8-R?B?" + base64.StdEncoding.EncodeToString([]byte(encode(t, charmap.KOI8R, "Иван"))) + "?= <" + m.To[0] + ">",
			"subject": "=?KOI8-R?B?" + base64.StdEncoding.EncodeToString([]byte(encode(t, charmap.KOI8R, "Re: Предложение"))) + "?=", "text": "ok",
			"headers": "Message-ID: <koi8-parsed>\n", "charsets": `{"from":"UTF-8","subject":"UTF-8","text":"UTF-8"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fields["to"], tc.fields["envelope"] = m.ReplyTo, envelope
			if got := must(t, 200, inboundPost(t, tc.fields, inboundSecret)).str("collaboration_id"); got != id {
				t.Fatalf("matched %q, want %s", got, id)
			}
			received, err := st.InboundMessages(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			var got *struct{ text, subject, from string }
			for _, r := range received {
				if strings.Contains(tc.fields["email"]+tc.fields["headers"], "Message-ID: "+r.MessageID) && r.MessageID != "" {
					got = &struct{ text, subject, from string }{r.BodyText, r.Subject, r.FromEmail}
				}
			}
			if got == nil {
				t.Fatalf("reply not recorded: %+v", received)
			}
			body := strings.TrimSpace(got.text)
			if tc.wantText != "" && body != tc.wantText {
				t.Errorf("recorded text %q, want %q", body, tc.wantText)
			}
			for _, want := range tc.wantContain {
				if !strings.Contains(body, want) || strings.Contains(body, "<") {
					t.Errorf("recorded text %q, want readable text with %q", body, want)
				}
			}
			if got.subject != tc.wantSubject {
				t.Errorf("recorded subject %q, want %q", got.subject, tc.wantSubject)
			}
			if !strings.EqualFold(got.from, m.To[0]) {
				t.Errorf("recorded sender %q, want %q", got.from, m.To[0])
			}
		})
	}
}
