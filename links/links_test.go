package links

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignAndVerify(t *testing.T) {
	s, err := NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSigner([]byte(strings.Repeat("x", 32)))
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	forever := s.Sign("unsubscribe", "creator|collab", time.Time{})
	soon := s.Sign("contract", "c-1", now.Add(time.Hour))

	tests := []struct {
		name    string
		purpose string
		token   string
		at      time.Time
		want    string
		err     error
	}{
		{"valid", "unsubscribe", forever, now.AddDate(5, 0, 0), "creator|collab", nil},
		{"before expiry", "contract", soon, now, "c-1", nil},
		{"at expiry", "contract", soon, now.Add(time.Hour), "", ErrExpired},
		{"other purpose", "contract", forever, now, "", ErrForged},
		{"other key", "unsubscribe", other.Sign("unsubscribe", "creator|collab", time.Time{}), now, "", ErrForged},
		{"altered payload", "unsubscribe", "Y3JlYXRvcjJ8Y29sbGFifDA" + forever[strings.Index(forever, "."):], now, "", ErrForged},
		{"no dot", "unsubscribe", "abc", now, "", ErrMalformed},
		{"bad base64", "unsubscribe", "!!.??", now, "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Verify(tt.purpose, tt.token, tt.at)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("Verify = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}
