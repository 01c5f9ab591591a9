package codec

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"go.temporal.io/sdk/converter"
)

func key(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

type secret struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

func TestRoundTripAndRotation(t *testing.T) {
	old, err := Parse("k1:" + key(1))
	if err != nil {
		t.Fatal(err)
	}
	in := secret{Name: "Ada Lovelace", Email: "ada@example.com"}
	payloads, err := old.DataConverter().ToPayloads(in)
	if err != nil {
		t.Fatal(err)
	}
	p := payloads.GetPayloads()[0]
	if bytes.Contains(p.GetData(), []byte("Ada")) || string(p.GetMetadata()[KeyIDKey]) != "k1" {
		t.Fatalf("payload not encrypted with k1: %q", p.GetData())
	}
	// Rotated: k2 encrypts, k1 still decrypts what it wrote.
	rotated, err := Parse("k2:" + key(2) + ",k1:" + key(1))
	if err != nil {
		t.Fatal(err)
	}
	var out secret
	if err := rotated.DataConverter().FromPayloads(payloads, &out); err != nil || out != in {
		t.Fatalf("decode after rotation: %+v, %v", out, err)
	}
	again, _ := rotated.DataConverter().ToPayloads(in)
	if id := string(again.GetPayloads()[0].GetMetadata()[KeyIDKey]); id != "k2" {
		t.Fatalf("encrypted with %q, want the current key k2", id)
	}
	// Without the key, and with a tampered payload, decoding fails.
	only2, _ := Parse("k2:" + key(2))
	if err := only2.DataConverter().FromPayloads(payloads, &out); err == nil {
		t.Fatal("decrypted without its key")
	}
	p.Data[len(p.Data)-1] ^= 1
	if err := old.DataConverter().FromPayloads(payloads, &out); err == nil {
		t.Fatal("a tampered payload decoded")
	}
}

func TestPlainPayloadsPassThrough(t *testing.T) {
	c, _ := Parse("k1:" + key(1))
	plain, _ := converter.GetDefaultDataConverter().ToPayloads(secret{Name: "x"})
	var out secret
	if err := c.DataConverter().FromPayloads(plain, &out); err != nil || out.Name != "x" {
		t.Fatalf("history written before encryption: %+v, %v", out, err)
	}
}

func TestParseRefusesBadKeys(t *testing.T) {
	for _, spec := range []string{"", "k1", "k1:notbase64!", "k1:" + base64.StdEncoding.EncodeToString([]byte("short")),
		"k 1:" + key(1), "k1:" + key(1) + ",k1:" + key(2)} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("accepted %q", spec)
		} else if strings.Contains(err.Error(), key(1)) {
			t.Errorf("error leaks the key: %v", err)
		}
	}
}
