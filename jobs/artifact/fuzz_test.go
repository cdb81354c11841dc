package artifact

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// FuzzCheckLink feeds download requests, seeded with real signed links,
// to the verification devices' downloads go through. Whatever the input,
// it does not panic; whatever it accepts names exactly what one of the
// links was signed for (the same content, name and expiry), so that no
// change to a link opens anything else; and what parseLink accepts has the
// shape of a link.
func FuzzCheckLink(f *testing.F) {
	dir := f.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC)
	s, err := Open(dir, st, Options{BaseURL: "https://hearth.example", Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	type signed struct {
		sum, name string
		expires   int64
	}
	var links []signed
	for i, name := range []string{"fw.bin", "A-b_c.9", strings.Repeat("x", 128)} {
		a, err := s.Put(name, strings.NewReader(strings.Repeat("y", i+1)), PutOptions{})
		if err != nil {
			f.Fatal(err)
		}
		l, err := s.SignedLink(name, time.Duration(i+1)*time.Hour)
		if err != nil {
			f.Fatal(err)
		}
		u, err := url.Parse(l.URL)
		if err != nil {
			f.Fatal(err)
		}
		links = append(links, signed{a.SHA256, name, l.ExpiresAt.Unix()})
		f.Add(u.Path, u.RawPath, u.RawQuery)
		f.Add(u.Path, "", u.RawQuery+"&signature=00")
		f.Add(u.Path+"/", "", strings.ToUpper(u.RawQuery))
		f.Add(strings.Replace(u.Path, "/artifacts/", "/artifacts//", 1), "", u.RawQuery)
	}
	f.Add("/artifacts/", "", "")
	f.Add("/artifacts/"+strings.Repeat("0", 64)+"/..", "", "expires=1&signature="+strings.Repeat("0", 64))
	f.Add("/artifacts/x/y", "/artifacts/x%2Fy", "expires=99999999999999999999&signature=%00")
	f.Add("", "", ";;&&==")

	f.Fuzz(func(t *testing.T, path, rawPath, rawQuery string) {
		l, perr := parseLink(path, rawPath, rawQuery)
		if perr == nil {
			if l.path() != path || !validSum(l.sum) || store.CheckArtifactName(l.name) != nil || l.expires < 0 || len(l.signature) != 32 {
				t.Fatalf("parseLink(%q, %q, %q) accepted %+v", path, rawPath, rawQuery, l)
			}
		}
		l, expired, err := s.check(path, rawPath, rawQuery)
		if perr != nil && err == nil {
			t.Fatalf("check accepted what parseLink refused: %q %q %q", path, rawPath, rawQuery)
		}
		if err != nil && !expired {
			return
		}
		for _, sl := range links {
			if l.sum == sl.sum && l.name == sl.name && l.expires == sl.expires {
				return
			}
		}
		t.Fatalf("check accepted %q %q %q as %+v, which no link was signed for (expired %v)", path, rawPath, rawQuery, l, expired)
	})
}
