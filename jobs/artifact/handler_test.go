package artifact_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/jobs/artifact"
)

// served is a fixture whose links are served by a real HTTPS server on
// loopback, mounted as the server mounts it.
type served struct {
	*fixture
	srv *httptest.Server
}

func newServed(t *testing.T) *served {
	t.Helper()
	f := newFixture(t, artifact.Options{})
	mux := http.NewServeMux()
	mux.Handle(artifact.PathPrefix, f.a.Handler())
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	if err := f.a.SetBaseURL(srv.URL); err != nil {
		t.Fatal(err)
	}
	return &served{fixture: f, srv: srv}
}

// get asks for u with the given method and headers, without credentials.
func (s *served) get(t *testing.T, method, u string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func (s *served) link(t *testing.T, name string, ttl time.Duration) string {
	t.Helper()
	u, err := s.a.SignedURL(name, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestDownload(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	body := randomBytes(t, 1<<20+17)
	a, err := s.a.Put("fw-2.0.bin", bytes.NewReader(body), artifact.PutOptions{ContentType: "application/x-firmware"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.a.SignedLink("fw-2.0.bin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := s.srv.URL + "/artifacts/" + a.SHA256 + "/fw-2.0.bin?expires=" + strconv.FormatInt(s.clock.now().Add(time.Hour).Unix(), 10) + "&signature="
	if !strings.HasPrefix(l.URL, want) || len(l.URL) != len(want)+64 || !l.ExpiresAt.Equal(s.clock.now().Add(time.Hour)) {
		t.Fatalf("link %+v; want %s<64 hex digits>, expiring in an hour", l, want)
	}
	res, got := s.get(t, "GET", l.URL, nil)
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		t.Fatalf("download: %s, %d bytes; want the %d bytes uploaded", res.Status, len(got), len(body))
	}
	for k, v := range map[string]string{
		"ETag": `"` + a.SHA256 + `"`, "Content-Type": "application/x-firmware", "Accept-Ranges": "bytes",
		"Content-Length": strconv.Itoa(len(body)), "Content-Disposition": "attachment; filename=fw-2.0.bin",
		"Last-Modified": s.clock.now().Format(http.TimeFormat), "Cache-Control": "private, no-transform",
	} {
		if h := res.Header.Get(k); h != v {
			t.Errorf("header %s: %q, want %q", k, h, v)
		}
	}
	res, got = s.get(t, "HEAD", l.URL, nil)
	if res.StatusCode != http.StatusOK || len(got) != 0 || res.ContentLength != int64(len(body)) || res.Header.Get("ETag") != `"`+a.SHA256+`"` {
		t.Errorf("HEAD: %s, %d bytes of body, length %d", res.Status, len(got), res.ContentLength)
	}
	res, got = s.get(t, "GET", l.URL, map[string]string{"If-None-Match": `"` + a.SHA256 + `"`})
	if res.StatusCode != http.StatusNotModified || len(got) != 0 {
		t.Errorf("If-None-Match with the SHA-256: %s, %d bytes", res.Status, len(got))
	}
	// A link works until its expiry, and from then on no longer.
	s.clock.add(time.Hour - time.Millisecond)
	if res, _ := s.get(t, "HEAD", l.URL, nil); res.StatusCode != http.StatusOK {
		t.Errorf("just before the expiry: %s", res.Status)
	}
	s.clock.add(time.Millisecond)
	res, got = s.get(t, "GET", l.URL, nil)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(got), "the link expired at 2026-11-05T09:00:00Z; ask for a new one") ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("at the expiry: %s %q", res.Status, got)
	}
	// A lifetime that ends within a second is rounded up to it.
	s.clock.add(300 * time.Millisecond)
	if l, err := s.a.SignedLink("fw-2.0.bin", time.Second); err != nil || !l.ExpiresAt.Equal(time.Date(2026, 11, 5, 9, 0, 2, 0, time.UTC)) {
		t.Errorf("a link of a second at 09:00:00.3: %+v %v; want it to expire at 09:00:02", l, err)
	}
}

// A download cut off in the middle resumes with a Range request: the two
// parts are exactly the file.
func TestDownloadResumes(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	body := randomBytes(t, 4<<20+3)
	a, err := s.a.Put("fw.bin", bytes.NewReader(body), artifact.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := s.link(t, "fw.bin", time.Hour)
	res, err := s.srv.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	cut := 1<<20 + 12345
	first := make([]byte, cut)
	if _, err := io.ReadFull(res.Body, first); err != nil {
		t.Fatal(err)
	}
	// The device loses its link: the connection goes, the answer unread.
	res.Body.Close()
	s.srv.CloseClientConnections()

	res, rest := s.get(t, "GET", u, map[string]string{"Range": fmt.Sprintf("bytes=%d-", cut), "If-Range": `"` + a.SHA256 + `"`})
	if res.StatusCode != http.StatusPartialContent || res.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", cut, len(body)-1, len(body)) {
		t.Fatalf("resume: %s, Content-Range %q", res.Status, res.Header.Get("Content-Range"))
	}
	if whole := append(first, rest...); !bytes.Equal(whole, body) {
		t.Errorf("the resumed download is %d bytes and differs from the %d uploaded", len(whole), len(body))
	}
	// A range in the middle, and a suffix.
	if res, part := s.get(t, "GET", u, map[string]string{"Range": "bytes=100-199"}); res.StatusCode != http.StatusPartialContent || !bytes.Equal(part, body[100:200]) {
		t.Errorf("bytes=100-199: %s, %d bytes", res.Status, len(part))
	}
	if res, part := s.get(t, "GET", u, map[string]string{"Range": "bytes=-10"}); res.StatusCode != http.StatusPartialContent || !bytes.Equal(part, body[len(body)-10:]) {
		t.Errorf("bytes=-10: %s, %d bytes", res.Status, len(part))
	}
	if res, _ := s.get(t, "GET", u, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(body))}); res.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("a range past the end: %s", res.Status)
	}
	// If-Range naming other content sends the whole file.
	if res, whole := s.get(t, "GET", u, map[string]string{"Range": "bytes=10-", "If-Range": `"` + strings.Repeat("0", 64) + `"`}); res.StatusCode != http.StatusOK || len(whole) != len(body) {
		t.Errorf("If-Range of other content: %s, %d bytes", res.Status, len(whole))
	}
}

// Links changed in any part, or naming content that is gone, are refused
// with a sentence saying why.
func TestDownloadRefused(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	body := randomBytes(t, 1000)
	a, err := s.a.Put("fw.bin", bytes.NewReader(body), artifact.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.a.Put("other.bin", strings.NewReader("other"), artifact.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	good := s.link(t, "fw.bin", time.Hour)
	u, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sig, exp := q.Get("signature"), q.Get("expires")
	flipped := "0"
	if sig[10] == '0' {
		flipped = "1"
	}
	base := s.srv.URL + "/artifacts/"
	path := base + a.SHA256 + "/fw.bin"
	otherSum := strings.Repeat("ab", 32)
	later, _ := strconv.ParseInt(exp, 10, 64)
	for _, tc := range []struct {
		what, method, url string
		status            int
		says              string
	}{
		{"no query", "GET", path, 403, "lacks expires or signature"},
		{"no signature", "GET", path + "?expires=" + exp, 403, "lacks expires or signature"},
		{"a changed signature", "GET", path + "?expires=" + exp + "&signature=" + sig[:10] + flipped + sig[11:], 403, "the signature does not match"},
		{"an upper-case signature", "GET", path + "?expires=" + exp + "&signature=" + strings.ToUpper(sig), 403, "lower-case"},
		{"a short signature", "GET", path + "?expires=" + exp + "&signature=" + sig[:62], 403, "64 lower-case"},
		{"a later expiry", "GET", path + "?expires=" + strconv.FormatInt(later+3600, 10) + "&signature=" + sig, 403, "the signature does not match"},
		{"a negative expiry", "GET", path + "?expires=-1&signature=" + sig, 403, "not a Unix time"},
		{"the signature twice", "GET", good + "&signature=" + sig, 403, "signature 2 times"},
		{"another parameter", "GET", good + "&x-id=1", 403, `the query has "x-id"`},
		{"another name", "GET", base + a.SHA256 + "/other.bin?" + u.RawQuery, 403, "the signature does not match"},
		{"other content", "GET", base + otherSum + "/fw.bin?" + u.RawQuery, 403, "the signature does not match"},
		{"an escaped name", "GET", base + a.SHA256 + "/fw%2Ebin?" + u.RawQuery, 403, "escaped characters"},
		{"a path too deep", "GET", base + a.SHA256 + "/x/fw.bin?" + u.RawQuery, 403, "does not end with an artifact's name"},
		{"a path too short", "GET", base + a.SHA256 + "?" + u.RawQuery, 403, "/artifacts/SHA256/NAME"},
		{"an upper-case SHA-256", "GET", base + strings.ToUpper(a.SHA256) + "/fw.bin?" + u.RawQuery, 403, "lower-case hexadecimal"},
		{"a bad query", "GET", path + "?expires=%zz", 403, "cannot be read"},
		{"a PUT", "PUT", good, 405, "GET or HEAD"},
		{"a POST", "POST", good, 405, "GET or HEAD"},
	} {
		res, got := s.get(t, tc.method, tc.url, nil)
		if res.StatusCode != tc.status || !strings.Contains(string(got), tc.says) || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %s %q; want %d saying %q", tc.what, res.Status, got, tc.status, tc.says)
		}
	}
	if res, _ := s.get(t, "POST", good, nil); res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("405 without Allow: %q", res.Header.Get("Allow"))
	}

	// Replaced: the link names content that is gone.
	if _, err := s.a.Put("fw.bin", strings.NewReader("new firmware"), artifact.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, got := s.get(t, "GET", good, nil); res.StatusCode != http.StatusNotFound || !strings.Contains(string(got), "has other content now") {
		t.Errorf("after a replacement: %s %q", res.Status, got)
	}
	fresh := s.link(t, "fw.bin", time.Minute)
	if res, got := s.get(t, "GET", fresh, nil); res.StatusCode != http.StatusOK || string(got) != "new firmware" {
		t.Errorf("a new link: %s %q", res.Status, got)
	}
	if err := s.a.Delete("fw.bin"); err != nil {
		t.Fatal(err)
	}
	if res, got := s.get(t, "GET", fresh, nil); res.StatusCode != http.StatusNotFound || !strings.Contains(string(got), "does not exist") {
		t.Errorf("after a delete: %s %q", res.Status, got)
	}
}

// Links survive a restart: the key is kept in the store.
func TestLinksSurviveReopen(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	if _, err := s.a.Put("fw.bin", strings.NewReader("firmware"), artifact.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	u := s.link(t, "fw.bin", time.Hour)
	s.reopen(t, artifact.Options{BaseURL: s.srv.URL})
	mux := http.NewServeMux()
	mux.Handle(artifact.PathPrefix, s.a.Handler())
	s.srv.Config.Handler = mux
	if res, got := s.get(t, "GET", u, nil); res.StatusCode != http.StatusOK || string(got) != "firmware" {
		t.Errorf("a link made before the restart: %s %q", res.Status, got)
	}
	if u2 := s.link(t, "fw.bin", time.Hour); u2 != u {
		t.Errorf("the same link after the restart differs:\n%s\n%s", u, u2)
	}
}

func TestSignedLinkRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, artifact.Options{})
	if _, err := f.a.SignedURL("nothing.bin", time.Hour); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("a link to nothing: %v", err)
	}
	if _, err := f.a.Put("fw.bin", strings.NewReader("x"), artifact.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{0, -time.Second, time.Millisecond, 8 * 24 * time.Hour} {
		if _, err := f.a.SignedURL("fw.bin", ttl); err == nil || !strings.Contains(err.Error(), "1s to 168h0m0s are accepted") {
			t.Errorf("lifetime %s: %v", ttl, err)
		}
	}
	st := f.st
	noBase, err := artifact.Open(t.TempDir(), st, artifact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noBase.SignedURL("fw.bin", time.Hour); err == nil || !strings.Contains(err.Error(), "base URL") {
		t.Errorf("without a base URL: %v", err)
	}
}
