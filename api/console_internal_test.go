package api

import (
	"strings"
	"testing"
	"time"
)

// TestSessionSeal: a sealed session opens as its key until it expires; a changed name,
// expiry or MAC, a removed key or a rotated secret does not open; the cookie never holds
// the secret.
func TestSessionSeal(t *testing.T) {
	now := time.Now()
	keys := []Key{{Name: "ops-team", Role: RoleOps, Secret: "ops-secret-0123456789"}, {Name: "fin", Role: RoleFinance, Secret: "fin-secret-0123456789"}}
	s := &Server{keys: keys}
	value := seal(&keys[0], now.Add(time.Hour), "nonce")
	if strings.Contains(value, keys[0].Secret) {
		t.Fatalf("cookie %q holds the secret", value)
	}
	sess, ok := s.openSession(value, now)
	if !ok || sess.key.Name != "ops-team" || sess.csrf != csrfToken(&keys[0], "nonce") {
		t.Fatalf("open: %+v %v", sess, ok)
	}
	if _, ok := s.openSession(value, now.Add(time.Hour+time.Second)); ok {
		t.Fatal("an expired session opened")
	}
	payload, mac, _ := strings.Cut(value, ".")
	forged := seal(&Key{Name: "fin", Secret: "guessed-secret-0123"}, now.Add(time.Hour), "nonce")
	for name, v := range map[string]string{
		"other MAC":     payload + "." + strings.Split(forged, ".")[1],
		"other payload": strings.Split(forged, ".")[0] + "." + mac,
		"no MAC":        payload,
		"garbage":       "not a session",
	} {
		if _, ok := s.openSession(v, now); ok {
			t.Errorf("%s opened", name)
		}
	}
	rotated := &Server{keys: []Key{{Name: "ops-team", Role: RoleOps, Secret: "new-ops-secret-0123456789"}}}
	if _, ok := rotated.openSession(value, now); ok {
		t.Fatal("a session of a rotated secret opened")
	}
	if _, ok := (&Server{keys: keys[1:]}).openSession(value, now); ok {
		t.Fatal("a session of a removed key opened")
	}
}
