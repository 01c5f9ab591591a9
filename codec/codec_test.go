package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
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

// TestPlainPayloadsRefused: with keys set, a payload that is not encrypted was written
// around the API (a forged signal or update with any actor) and is refused; only the
// migration switch for histories written before encryption passes it through. Empty and
// absent payloads (a signal with no argument) are not refused.
func TestPlainPayloadsRefused(t *testing.T) {
	c, _ := Parse("k1:" + key(1))
	plain, _ := converter.GetDefaultDataConverter().ToPayloads(secret{Name: "x"})
	var out secret
	if err := c.DataConverter().FromPayloads(plain, &out); !errors.Is(err, ErrNotEncrypted) || out.Name != "" {
		t.Fatalf("plain payload with keys set: %+v, %v; want ErrNotEncrypted", out, err)
	}
	if err := c.AcceptingPlain().DataConverter().FromPayloads(plain, &out); err != nil || out.Name != "x" {
		t.Fatalf("history written before encryption, with the migration switch: %+v, %v", out, err)
	}
	if c.AcceptsPlain() || !c.AcceptingPlain().AcceptsPlain() {
		t.Fatal("AcceptingPlain must change the copy only")
	}
	if err := c.DataConverter().FromPayloads(nil, &out); err != nil {
		t.Fatalf("no payloads: %v", err)
	}
	if err := c.DataConverter().FromPayloads(&commonpb.Payloads{}, &out); err != nil {
		t.Fatalf("empty payloads: %v", err)
	}
	encrypted, _ := c.DataConverter().ToPayloads(secret{Name: "y"})
	if err := c.DataConverter().FromPayloads(encrypted, &out); err != nil || out.Name != "y" {
		t.Fatalf("encrypted payload: %+v, %v", out, err)
	}
}

// TestRefusalsLoggedSampled: a flood of refused payloads writes one line per interval,
// which counts the ones left out.
func TestRefusalsLoggedSampled(t *testing.T) {
	var buf bytes.Buffer
	c, _ := Parse("k1:" + key(1))
	c = c.LoggingRefusals(slog.New(slog.NewTextHandler(&buf, nil)))
	plain, _ := converter.GetDefaultDataConverter().ToPayloads(secret{Name: "Ada Lovelace"})
	for range 500 {
		var out secret
		if err := c.DataConverter().FromPayloads(plain, &out); err == nil {
			t.Fatal("plain payload decoded")
		}
	}
	if n := strings.Count(buf.String(), "refused a Temporal payload"); n != 1 {
		t.Fatalf("%d log lines for 500 refusals, want 1:\n%s", n, buf.String())
	}
	if strings.Contains(buf.String(), "Ada") {
		t.Fatalf("the log holds the payload: %s", buf.String())
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
