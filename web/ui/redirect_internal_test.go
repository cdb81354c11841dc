package ui

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
)

// FuzzSafeNext: whatever a request carries, the target kept is a path of
// this site that no browser could read as another host.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/devices/x?range=1d#chart", "/\t/evil.example", "//evil.example",
		"/\\evil.example", "https://evil.example", "/%09/evil.example", "/\u0085/x", "/a b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got != "/" && got != next {
			t.Fatalf("safeNext(%q) = %q: neither the target nor /", next, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\") {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
		for _, c := range got {
			if unicode.IsControl(c) {
				t.Fatalf("safeNext(%q) = %q keeps a control character", next, got)
			}
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" {
			t.Fatalf("safeNext(%q) = %q reads as %+v, %v", next, got, u, err)
		}
	})
}
