package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"strings"

	"github.com/inbucket/html2text"
	"github.com/jhillyerd/enmime/v2"
	"github.com/sendgrid/sendgrid-go/helpers/inbound"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
)

// Limits of the SendGrid webhooks. Both check credentials from the headers before they
// read a byte of the body.
const (
	// maxEventBody bounds an Event Webhook batch; SendGrid's batches are far smaller.
	maxEventBody = 1 << 20
	// maxInboundBody bounds an Inbound Parse post: SendGrid allows 30 MB of email, plus
	// the form's own overhead.
	maxInboundBody = 32 << 20
	// inboundMemory is how much of one Inbound Parse form is kept in memory while it is
	// read; a large field (text, html, the raw email) that does not fit goes to a
	// temporary file.
	inboundMemory = 1 << 20
	// maxStoredText bounds the text kept of one email (text, html or the raw message's
	// text part); the rest is cut off.
	maxStoredText = 1 << 20
	// maxInboundField bounds every other field (addresses, subject, headers, dkim, SPF).
	maxInboundField = 256 << 10
	// maxInboundParts bounds the number of parts of one form.
	maxInboundParts = 500
)

// inboundBodyFields are the fields that may be large and are spilled to disk.
var inboundBodyFields = map[string]bool{"text": true, "html": true, "email": true}

// inboundForm is an Inbound Parse form read as a stream: small fields in memory, large
// ones on disk when the memory budget is spent. Attachments are not kept.
type inboundForm struct {
	values  map[string][]string
	spilled map[string]*os.File // large fields on disk, by name (the first of each)
	files   []*os.File
}

// close removes the temporary files.
func (f *inboundForm) close() {
	for _, file := range f.files {
		_ = file.Close()
		_ = os.Remove(file.Name())
	}
}

// readInboundForm reads the multipart form of r within the limits above. Errors are
// *Error values: 400 for a broken form, 413 for one too large.
func readInboundForm(w http.ResponseWriter, r *http.Request) (*inboundForm, error) {
	if r.ContentLength > maxInboundBody {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Msg: "inbound email larger than 30 MB"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxInboundBody)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badRequest("body", "not an Inbound Parse multipart form")
	}
	form := &inboundForm{values: map[string][]string{}, spilled: map[string]*os.File{}}
	budget := int64(inboundMemory)
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return form, nil
		}
		if err != nil {
			form.close()
			return nil, formError("body", err)
		}
		if parts >= maxInboundParts {
			form.close()
			return nil, badRequest("body", "too many form parts")
		}
		name := p.FormName()
		if name == "" || p.FileName() != "" {
			// Attachments are not kept: read past them.
			if _, err := io.Copy(io.Discard, p); err != nil {
				form.close()
				return nil, formError(name, err)
			}
			continue
		}
		value, file, err := form.readValue(p, name, &budget)
		if err != nil {
			form.close()
			return nil, err
		}
		if file != nil {
			if form.spilled[name] == nil && len(form.values[name]) == 0 {
				form.spilled[name] = file
			}
			continue
		}
		form.values[name] = append(form.values[name], value)
	}
}

// readValue reads one field. A small field must fit maxInboundField; a body field is kept
// in memory while the budget lasts, else it is written to a temporary file, returned.
func (f *inboundForm) readValue(p io.Reader, name string, budget *int64) (string, *os.File, error) {
	if !inboundBodyFields[name] {
		data, err := io.ReadAll(io.LimitReader(p, maxInboundField+1))
		if err != nil {
			return "", nil, formError(name, err)
		}
		if len(data) > maxInboundField {
			return "", nil, badRequest(name, "field too large")
		}
		*budget -= int64(len(data))
		return string(data), nil, nil
	}
	var mem bytes.Buffer
	n, err := io.Copy(&mem, io.LimitReader(p, max(*budget, 0)+1))
	if err != nil {
		return "", nil, formError(name, err)
	}
	if n <= max(*budget, 0) {
		*budget -= n
		return mem.String(), nil, nil
	}
	file, err := os.CreateTemp("", "collabflow-inbound-*")
	if err != nil {
		return "", nil, err
	}
	f.files = append(f.files, file)
	if _, err := file.Write(mem.Bytes()); err != nil {
		return "", nil, err
	}
	mem = bytes.Buffer{}
	if _, err := io.Copy(file, p); err != nil {
		return "", nil, formError(name, err)
	}
	return "", file, nil
}

// text is a body field, cut off at maxStoredText.
func (f *inboundForm) text(name string) (string, error) {
	if file := f.spilled[name]; file != nil {
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
		data, err := io.ReadAll(io.LimitReader(file, maxStoredText))
		// A cut may split a character; PostgreSQL takes only valid UTF-8.
		return strings.ToValidUTF8(string(data), ""), err
	}
	if v := f.values[name]; len(v) > 0 {
		return v[0][:min(len(v[0]), maxStoredText)], nil
	}
	return "", nil
}

// reader reads a field from the start, from memory or disk; nil when it is absent.
func (f *inboundForm) reader(name string) (io.Reader, error) {
	if file := f.spilled[name]; file != nil {
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return file, nil
	}
	if v := f.values[name]; len(v) > 0 {
		return strings.NewReader(v[0]), nil
	}
	return nil, nil
}

// formError names a read error: too large is 413, anything else a broken form.
func formError(field string, err error) error {
	if tooLarge(err) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Msg: "inbound email larger than 30 MB"}
	}
	if field == "" {
		field = "body"
	}
	return badRequest(field, "unreadable multipart form")
}

// inboundParse is sendgrid-go's parser; tests replace it to make it panic.
var inboundParse = inbound.Parse

// parseInbound hands the form to sendgrid-go's parser. The raw MIME message ("email",
// when "send raw" is on) is kept from it: its raw branch panics on CRLF line endings, on a
// message without a blank line and on a message that is not multipart. The raw message is
// read with enmime instead (see readRawEmail), once net/mail has found it has a header.
// Any other panic in the parser answers 400 naming the field,
// never 500: SendGrid would only post the same email again.
func parseInbound(form *inboundForm, header http.Header) (parsed *inbound.ParsedEmail, raw *rawEmail, err error) {
	values := make(map[string][]string, len(form.values))
	for k, v := range form.values {
		if k != "email" {
			values[k] = v
		}
	}
	for _, name := range []string{"text", "html"} {
		if form.spilled[name] != nil {
			text, err := form.text(name)
			if err != nil {
				return nil, nil, err
			}
			values[name] = []string{text}
		}
	}
	if r, err := form.reader("email"); err != nil {
		return nil, nil, err
	} else if r != nil {
		if _, err := mail.ReadMessage(r); err != nil {
			return nil, nil, badRequest("email", "not a MIME message: "+err.Error())
		}
		if r, err = form.reader("email"); err != nil {
			return nil, nil, err
		}
		email := readRawEmail(r)
		raw = &email
	}
	req := &http.Request{Method: http.MethodPost, Header: header, Form: url.Values{}, PostForm: url.Values{},
		MultipartForm: &multipart.Form{Value: values}}
	defer func() {
		if p := recover(); p != nil {
			parsed, raw, err = nil, nil, badRequest(panicField(values), fmt.Sprintf("Inbound Parse field could not be parsed (%v)", p))
		}
	}()
	parsed, err = inboundParse(req)
	if err != nil {
		// Only the envelope's JSON can fail here.
		return nil, nil, badRequest("envelope", "not valid JSON")
	}
	return parsed, raw, nil
}

// panicField guesses the field the parser choked on: the raw email when there is one.
func panicField(values map[string][]string) string {
	for _, name := range []string{"email", "headers", "envelope"} {
		if len(values[name]) > 0 {
			return name
		}
	}
	return "body"
}

// maxRawRead bounds how much of a raw MIME message is parsed: enmime holds every part in
// memory, and a reply's text comes before its attachments, so the rest (up to 30 MB of
// attachments) is never read into memory.
const maxRawRead = 4*maxStoredText + maxInboundField

// rawParser reads raw messages: the charset a part declares is trusted (detection guesses
// wrong on short replies), a malformed part is skipped rather than failing the message.
var rawParser = enmime.NewParser(enmime.DisableCharacterDetection(true), enmime.SkipMalformedParts(true))

// rawEmail is what is kept of a raw MIME message: its text (the text/plain parts, else
// its HTML turned into text) in UTF-8, cut at maxStoredText, and its decoded headers.
type rawEmail struct {
	Text, Subject, MessageID string
}

// readRawEmail parses a raw MIME message with enmime, which decodes transfer encodings and
// charsets, turns an HTML-only reply into text and decodes RFC 2047 headers. A message it
// cannot read yields no text; the caller has already checked it has a header.
func readRawEmail(r io.Reader) (raw rawEmail) {
	defer func() {
		// A parser bug must not lose the reply: it is recorded without its text.
		if p := recover(); p != nil {
			raw = rawEmail{}
		}
	}()
	env, err := rawParser.ReadEnvelope(io.LimitReader(r, maxRawRead))
	if err != nil {
		return rawEmail{}
	}
	return rawEmail{
		Text:      clipText(env.Text),
		Subject:   clipField(env.GetHeader("Subject")),
		MessageID: clipField(strings.TrimSpace(env.Root.Header.Get("Message-ID"))),
	}
}

// formText is the reply text of a parsed Inbound Parse form: the text field decoded from
// the charset SendGrid declares for it in "charsets", else the html field decoded the same
// way and turned into plain text.
func formText(parsed *inbound.ParsedEmail, charsets map[string]string) string {
	if text := decodeCharset(parsed.TextBody, charsets["text"]); strings.TrimSpace(text) != "" {
		return clipText(text)
	}
	html := decodeCharset(parsed.ParsedValues["html"], charsets["html"])
	if strings.TrimSpace(html) == "" {
		return ""
	}
	text, err := html2text.FromString(html)
	if err != nil {
		// html2text only fails on a reader error; keep the markup rather than nothing.
		text = html
	}
	return clipText(text)
}

// formSubject is the subject field decoded from its declared charset, then from any RFC
// 2047 encoded words left in it.
func formSubject(parsed *inbound.ParsedEmail, charsets map[string]string) string {
	return clipField(decodeHeader(decodeCharset(parsed.ParsedValues["subject"], charsets["subject"])))
}

// formCharsets reads the "charsets" field, field name → charset; a missing or broken field
// means every field is taken as UTF-8.
func formCharsets(parsed *inbound.ParsedEmail) map[string]string {
	out := map[string]string{}
	if field := parsed.ParsedValues["charsets"]; field != "" {
		_ = json.Unmarshal([]byte(field), &out)
	}
	return out
}

// decodeCharset converts s from the named charset to UTF-8. UTF-8, an unknown charset or
// none leave s as it is; invalid UTF-8 is dropped either way (PostgreSQL takes only UTF-8).
func decodeCharset(s, charset string) string {
	if enc := charsetEncoding(charset); enc != nil {
		if out, err := enc.NewDecoder().String(s); err == nil {
			s = out
		}
	}
	return strings.ToValidUTF8(s, "")
}

// charsetEncoding is the decoder of a charset named in a form or header (WHATWG names and
// aliases, as mail clients write them); nil for UTF-8 and for names it does not know.
func charsetEncoding(charset string) encoding.Encoding {
	charset = strings.ToLower(strings.Trim(strings.TrimSpace(charset), `"`))
	if charset == "" || charset == "utf-8" || charset == "utf8" || charset == "us-ascii" {
		return nil
	}
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil
	}
	return enc
}

// headerDecoder decodes RFC 2047 encoded words in any charset charsetEncoding knows.
var headerDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	enc := charsetEncoding(charset)
	if enc == nil {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	return enc.NewDecoder().Reader(input), nil
}}

// decodeHeader decodes the encoded words of a header value; a value it cannot decode is
// kept as it is.
func decodeHeader(s string) string {
	out, err := headerDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return out
}

// clipText cuts a text at maxStoredText bytes, on a character boundary.
func clipText(s string) string {
	return clip(s, maxStoredText)
}

// clipField cuts a header at maxInboundField bytes, on a character boundary.
func clipField(s string) string {
	return clip(s, maxInboundField)
}

func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// senderAuthenticated reports whether SendGrid's checks vouch for the domain of the From:
// address: a DKIM signature of that very domain that passed, or SPF passing for an
// envelope sender of that domain. SPF is about the envelope sender and DKIM may sign for
// any domain, so neither counts for another domain.
func senderAuthenticated(from, envelopeFrom, dkim, spf string) bool {
	domain := addressDomain(from)
	if domain == "" {
		return false
	}
	for d, result := range dkimResults(dkim) {
		if d == domain && result == "pass" {
			return true
		}
	}
	return spfResult(spf) == "pass" && addressDomain(envelopeFrom) == domain
}

// dkimResults parses SendGrid's dkim field, "{@example.com : pass}" or several
// comma-separated "@domain : result" pairs, into domain → result (lower case, first
// word: "fail (bypass)" is "fail"). Entries that do not have this shape are skipped.
func dkimResults(field string) map[string]string {
	field = strings.TrimSpace(field)
	field = strings.TrimPrefix(field, "{")
	field = strings.TrimSuffix(field, "}")
	out := map[string]string{}
	for _, entry := range strings.Split(field, ",") {
		d, result, ok := strings.Cut(entry, ":")
		d = strings.ToLower(strings.TrimSpace(d))
		if !ok || !strings.HasPrefix(d, "@") || len(d) < 2 || strings.ContainsAny(d[1:], "@ \t{}") {
			continue
		}
		words := strings.Fields(result)
		if len(words) == 0 {
			continue
		}
		d = strings.TrimSuffix(d[1:], ".")
		// A domain signed twice passes when one of its signatures passes.
		if out[d] == "pass" {
			continue
		}
		out[d] = strings.ToLower(words[0])
	}
	return out
}

// spfResult is the SPF verdict of SendGrid's SPF field: its first word, lower case.
func spfResult(field string) string {
	words := strings.Fields(field)
	if len(words) == 0 {
		return ""
	}
	return strings.ToLower(words[0])
}

// addressDomain is the lower-case domain of an address ("" when it has none).
func addressDomain(address string) string {
	if list := addressList(address); len(list) > 0 {
		address = list[0]
	}
	at := strings.LastIndex(address, "@")
	if at < 0 || at == len(address)-1 {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(address[at+1:])), ".")
}
