// Package links signs the tokens in links collabflow emails to people (unsubscribe, and
// later contract signing and content portals), so a link cannot be forged or altered.
package links

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Errors a token can fail with; pages show them in words.
var (
	ErrMalformed = errors.New("link is malformed")
	ErrForged    = errors.New("link signature does not match")
	ErrExpired   = errors.New("link has expired")
)

// MinKeyLength keeps the HMAC key out of guessing range.
const MinKeyLength = 32

// Signer makes and checks tokens with one secret key.
type Signer struct {
	key []byte
}

// NewSigner returns a signer for a key of at least MinKeyLength bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < MinKeyLength {
		return nil, errors.New("link signing key shorter than 32 bytes")
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Sign returns a URL-safe token carrying payload for the given purpose. A zero expiry
// never expires. The purpose is signed too, so a token for one use fails for another.
func (s *Signer) Sign(purpose, payload string, expires time.Time) string {
	var exp int64
	if !expires.IsZero() {
		exp = expires.Unix()
	}
	body := payload + "|" + strconv.FormatInt(exp, 10)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(body)) + "." + enc.EncodeToString(s.mac(purpose, body))
}

// Verify checks a token for a purpose at time now and returns its payload.
func (s *Signer) Verify(purpose, token string, now time.Time) (string, error) {
	bodyPart, sigPart, ok := strings.Cut(token, ".")
	if !ok {
		return "", ErrMalformed
	}
	enc := base64.RawURLEncoding
	body, err1 := enc.DecodeString(bodyPart)
	sig, err2 := enc.DecodeString(sigPart)
	if err1 != nil || err2 != nil {
		return "", ErrMalformed
	}
	if !hmac.Equal(sig, s.mac(purpose, string(body))) {
		return "", ErrForged
	}
	i := strings.LastIndexByte(string(body), '|')
	if i < 0 {
		return "", ErrMalformed
	}
	exp, err := strconv.ParseInt(string(body[i+1:]), 10, 64)
	if err != nil {
		return "", ErrMalformed
	}
	if exp != 0 && now.Unix() >= exp {
		return "", ErrExpired
	}
	return string(body[:i]), nil
}

func (s *Signer) mac(purpose, body string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(body))
	return m.Sum(nil)
}
