package ui

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCatalogueComplete: every message has both languages, and a
// formatted message has the same verbs in both.
func TestCatalogueComplete(t *testing.T) {
	for key, m := range catalogue {
		if m.en == "" || m.ja == "" {
			t.Errorf("%s: a language is missing: %+v", key, m)
		}
		if strings.Count(m.en, "%") != strings.Count(m.ja, "%") {
			t.Errorf("%s: the languages format different arguments: %q / %q", key, m.en, m.ja)
		}
	}
}

func TestLanguageChoice(t *testing.T) {
	for _, tc := range []struct{ setting, accept, want string }{
		{"", "", "en"},
		{"", "ja-JP,ja;q=0.9,en;q=0.5", "ja"},
		{"", "fr-FR,fr;q=0.9", "en"},
		{"en", "ja", "en"},
		{"ja", "en-US", "ja"},
		{"", "garbage;;;q=", "en"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", tc.accept)
		if got := lang(tc.setting, r); got != tc.want {
			t.Errorf("lang(%q, %q) = %q, want %q", tc.setting, tc.accept, got, tc.want)
		}
	}
}
