package links

import (
	"testing"
	"time"
)

// FuzzVerify: any token either verifies to a payload signed for that purpose or is
// refused, never panics; a signed payload always comes back unchanged.
func FuzzVerify(f *testing.F) {
	s, err := NewSigner([]byte("fuzz-link-secret-0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("collab-1|contract-1", s.Sign("contract", "collab-1|contract-1", time.Time{}))
	f.Add("a|b|c", "not.a.token")
	f.Fuzz(func(t *testing.T, payload, token string) {
		if _, err := s.Verify("contract", token, time.Now()); err == nil {
			if _, err := s.Verify("content", token, time.Now()); err == nil {
				t.Fatalf("token %q verifies for two purposes", token)
			}
		}
		signed := s.Sign("content", payload, time.Time{})
		if got, err := s.Verify("content", signed, time.Now()); err != nil || got != payload {
			t.Fatalf("payload %q came back as %q (%v)", payload, got, err)
		}
		if _, err := s.Verify("contract", signed, time.Now()); err == nil {
			t.Fatal("a content token verified as a contract token")
		}
	})
}
