package contract

import (
	"strings"
	"testing"
)

// FuzzHasDisclosure: the matcher never panics, always finds a disclosure standing on its
// own between spaces, and never finds "#ad" inside a longer word.
func FuzzHasDisclosure(f *testing.F) {
	f.Add("New shoes #ad", "#ad")
	f.Add("#adventure time", "")
	f.Add("Paid partnership with Acme", "Ad:")
	f.Fuzz(func(t *testing.T, caption, required string) {
		_ = HasDisclosure(caption, required)
		if r := strings.TrimSpace(required); r != "" && !HasDisclosure(caption+" "+r+" ", required) {
			t.Fatalf("%q not found in %q", r, caption+" "+r+" ")
		}
		if HasDisclosure("#adx", "") {
			t.Fatal("#ad matched inside #adx")
		}
	})
}
