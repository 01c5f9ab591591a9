package worker

import (
	"bytes"
	"encoding/base64"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/collabflow/collabflow/codec"
)

// TestRefuses: only a payload that is not encrypted, under a converter that refuses it,
// is refused; no payload, an encrypted one, the migration switch and a process without
// keys refuse nothing.
func TestRefuses(t *testing.T) {
	c, err := codec.Parse("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := converter.GetDefaultDataConverter().ToPayloads(map[string]string{"kind": "reply"})
	encrypted, _ := c.DataConverter().ToPayloads(map[string]string{"kind": "reply"})
	for _, tc := range []struct {
		name     string
		dc       converter.DataConverter
		payloads *commonpb.Payloads
		want     bool
	}{
		{"plain with keys", c.DataConverter(), plain, true},
		{"encrypted", c.DataConverter(), encrypted, false},
		{"no payloads", c.DataConverter(), nil, false},
		{"empty payloads", c.DataConverter(), &commonpb.Payloads{}, false},
		{"migration switch", c.AcceptingPlain().DataConverter(), plain, false},
		{"no keys", converter.GetDefaultDataConverter(), plain, false},
		{"no converter", nil, plain, false},
	} {
		if got := Refuses(tc.dc, tc.payloads); got != tc.want {
			t.Errorf("%s: Refuses = %v, want %v", tc.name, got, tc.want)
		}
	}
}
