package membudget_test

import (
	"testing"

	"github.com/hearthiot/hearth/internal/membudget"
)

// FuzzParseSpec: whatever is given, a Spec that parses is one size or one
// share in range, and reads back the same from its String.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"2GiB", "50%", "1", "12.5%", "1e2%", "0x10", "-5%", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := membudget.ParseSpec(in)
		if err != nil {
			return
		}
		if (s.Bytes > 0) == (s.Percent > 0) || s.Bytes < 0 || s.Percent > 100 {
			t.Fatalf("ParseSpec(%q) = %+v", in, s)
		}
		if back, err := membudget.ParseSpec(s.String()); err != nil || back != s {
			t.Fatalf("ParseSpec(%q) = %+v; its String %q reads back as %+v, %v", in, s, s.String(), back, err)
		}
	})
}
