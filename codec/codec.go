// Package codec encrypts Temporal payloads with AES-256-GCM, so that creators' personal
// data (names, addresses, replies, captions) is never stored in clear in Temporal's
// history, as Temporal Cloud recommends. Each encrypted payload names the key that
// encrypted it: the current key encrypts, and every configured key still decrypts, so keys
// rotate without re-encrypting old histories.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	// Encoding marks a payload this codec encrypted.
	Encoding = "binary/encrypted"
	// KeyIDKey names the key that encrypted it.
	KeyIDKey = "encryption-key-id"
)

// Codec is a converter.PayloadCodec with a set of keys.
type Codec struct {
	current string
	aeads   map[string]cipher.AEAD
	// acceptPlain lets Decode pass payloads that are not encrypted through (AcceptingPlain).
	acceptPlain bool
	// refusals logs refused payloads, at a bounded rate; nil logs nothing.
	refusals *SampledLog
}

// ErrNotEncrypted is Decode's refusal of a payload this codec did not encrypt: with keys
// configured, every payload the API and the workers write is encrypted, so a plain one was
// written around them (the Temporal CLI, a Web UI, any holder of a Temporal credential)
// and may carry any actor.
var ErrNotEncrypted = errors.New("payload is not encrypted; it was not written by collabflow (COLLABFLOW_CODEC_ACCEPT_PLAIN accepts histories written before encryption)")

// AcceptingPlain is a copy of c whose Decode passes payloads that are not encrypted
// through unchanged: the migration switch for histories written before encryption was on,
// and what the codec endpoint uses to show a history as it is.
func (c *Codec) AcceptingPlain() *Codec {
	cp := *c
	cp.acceptPlain = true
	return &cp
}

// AcceptsPlain reports whether Decode passes payloads that are not encrypted through.
func (c *Codec) AcceptsPlain() bool { return c.acceptPlain }

// LoggingRefusals is a copy of c that logs the payloads Decode refuses to logger, at most
// one line a minute with the count of the others: a forged update is rejected by the SDK
// without a word, and this is how the process tells of it.
func (c *Codec) LoggingRefusals(logger *slog.Logger) *Codec {
	cp := *c
	cp.refusals = NewSampledLog(logger, time.Minute)
	return &cp
}

// Encrypted reports whether p is a payload this codec's format encrypted.
func Encrypted(p *commonpb.Payload) bool {
	return string(p.GetMetadata()[converter.MetadataEncoding]) == Encoding
}

// Parse reads keys as "id:base64key[,id:base64key…]": 32-byte keys in standard base64, the
// first one current. Ids are short names (letters, digits, '-', '_').
func Parse(spec string) (*Codec, error) {
	c := &Codec{aeads: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(spec, ",") {
		id, encoded, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || !validID(id) {
			return nil, fmt.Errorf("codec key %d: want id:base64key with a short id", i+1)
		}
		key, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("codec key %q: want 32 bytes in base64 (AES-256)", id)
		}
		if _, dup := c.aeads[id]; dup {
			return nil, fmt.Errorf("codec key %q is given twice", id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("codec key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec key %q: %w", id, err)
		}
		c.aeads[id] = aead
		if i == 0 {
			c.current = id
		}
	}
	return c, nil
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Encode encrypts each payload with the current key: the whole payload (metadata and
// data) is sealed, with a fresh random nonce in front.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.current]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding), KeyIDKey: []byte(c.current)},
			Data:     aead.Seal(nonce, nonce, plain, []byte(c.current)),
		}
	}
	return out, nil
}

// Decode decrypts the payloads this codec encrypted, with the key each names. A payload
// that is not encrypted is refused (ErrNotEncrypted), unless c accepts plain ones
// (AcceptingPlain), which it then leaves as it is.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if p == nil || c.acceptPlain && !Encrypted(p) {
			out[i] = p
			continue
		}
		if !Encrypted(p) {
			// The encoding is the sender's word, not content: it is logged, the data never.
			c.refusals.Log("refused a Temporal payload that is not encrypted", "encoding", truncate(string(p.GetMetadata()[converter.MetadataEncoding]), 64))
			return nil, ErrNotEncrypted
		}
		id := string(p.GetMetadata()[KeyIDKey])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("payload encrypted with key %q, which is not configured", id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, errors.New("encrypted payload is too short")
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("decrypt payload with key %q: %w", id, err)
		}
		var decoded commonpb.Payload
		if err := proto.Unmarshal(plain, &decoded); err != nil {
			return nil, fmt.Errorf("decode payload: %w", err)
		}
		out[i] = &decoded
	}
	return out, nil
}

// DataConverter is Temporal's default converter with this codec after it: what clients,
// workers and replayers use.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}
