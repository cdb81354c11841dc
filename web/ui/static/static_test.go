package static_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/web/ui/static"
)

// serve starts the asset handler on a real socket and returns a client that
// leaves Accept-Encoding and decompression to the test.
func serve(t *testing.T, a *static.Assets) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)
	return srv, client
}

func newAssets(t *testing.T) *static.Assets {
	t.Helper()
	a, err := static.New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, client *http.Client, method, url string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, url, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandlerServesHashedURL(t *testing.T) {
	t.Parallel()
	a := newAssets(t)
	srv, client := serve(t, a)

	tests := []struct {
		name           string
		acceptEncoding string
		method         string
		wantType       string
		wantGzip       bool
	}{
		{"app.css", "", http.MethodGet, "text/css; charset=utf-8", false},
		{"app.css", "gzip, deflate, br", http.MethodGet, "text/css; charset=utf-8", true},
		{"app.js", "br;q=1.0, gzip;q=0.8, *;q=0.1", http.MethodGet, "text/javascript; charset=utf-8", true},
		{"app.js", "gzip;q=0, identity", http.MethodGet, "text/javascript; charset=utf-8", false},
		{"vendor/htmx.min.js", "gzip", http.MethodGet, "text/javascript; charset=utf-8", true},
		{"vendor/uPlot.iife.min.js", "identity", http.MethodGet, "text/javascript; charset=utf-8", false},
		{"vendor/uPlot.min.css", "*", http.MethodGet, "text/css; charset=utf-8", true},
		{"vendor/uPlot.LICENSE.txt", "gzip", http.MethodGet, "text/plain; charset=utf-8", true},
		{"vendor/htmx.min.js", "gzip", http.MethodHead, "text/javascript; charset=utf-8", true},
		{"app.css", "", http.MethodHead, "text/css; charset=utf-8", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.name+" "+tt.acceptEncoding, func(t *testing.T) {
			t.Parallel()
			want := readFile(t, tt.name)
			res := do(t, client, tt.method, srv.URL+a.URL(tt.name), map[string]string{"Accept-Encoding": tt.acceptEncoding})
			if res.status != http.StatusOK {
				t.Fatalf("status %d, want 200", res.status)
			}
			wantEncoding := ""
			if tt.wantGzip {
				wantEncoding = "gzip"
			}
			gotHeader := map[string]string{
				"Content-Type":           res.header.Get("Content-Type"),
				"Cache-Control":          res.header.Get("Cache-Control"),
				"Content-Encoding":       res.header.Get("Content-Encoding"),
				"Vary":                   res.header.Get("Vary"),
				"X-Content-Type-Options": res.header.Get("X-Content-Type-Options"),
			}
			wantHeader := map[string]string{
				"Content-Type":           tt.wantType,
				"Cache-Control":          "public, max-age=31536000, immutable",
				"Content-Encoding":       wantEncoding,
				"Vary":                   "Accept-Encoding",
				"X-Content-Type-Options": "nosniff",
			}
			if diff := cmp.Diff(wantHeader, gotHeader); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if tag := res.header.Get("ETag"); !regexp.MustCompile(`^"[0-9a-f]{32}(-gzip)?"$`).MatchString(tag) {
				t.Errorf("ETag %q is not a strong hash tag", tag)
			}
			if tt.method == http.MethodHead {
				if len(res.body) != 0 {
					t.Errorf("HEAD sent a body of %d bytes", len(res.body))
				}
				if res.header.Get("Content-Length") == "" {
					t.Error("HEAD without Content-Length")
				}
				return
			}
			if res.header.Get("Content-Length") == "" {
				t.Error("no Content-Length")
			}
			got := res.body
			if tt.wantGzip {
				if len(got) >= len(want) {
					t.Errorf("gzip body %d bytes, not smaller than the %d raw bytes", len(got), len(want))
				}
				got = gunzip(t, got)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("body differs from %s (%d bytes, want %d)", tt.name, len(got), len(want))
			}
		})
	}
}

func TestHandlerNotModified(t *testing.T) {
	t.Parallel()
	a := newAssets(t)
	srv, client := serve(t, a)
	url := srv.URL + a.URL("app.js")

	plain := do(t, client, http.MethodGet, url, nil).header.Get("ETag")
	zipped := do(t, client, http.MethodGet, url, map[string]string{"Accept-Encoding": "gzip"}).header.Get("ETag")
	if plain == "" || zipped == "" || plain == zipped {
		t.Fatalf("ETags %q (identity) and %q (gzip) must be set and differ", plain, zipped)
	}

	tests := []struct {
		name           string
		ifNoneMatch    string
		acceptEncoding string
		want           int
	}{
		{"same tag", plain, "", http.StatusNotModified},
		{"weak form of the tag", "W/" + plain, "", http.StatusNotModified},
		{"tag in a list", `"0000", ` + plain, "", http.StatusNotModified},
		{"star", "*", "", http.StatusNotModified},
		{"gzip tag for gzip", zipped, "gzip", http.StatusNotModified},
		{"gzip tag for identity", zipped, "", http.StatusOK},
		{"identity tag for gzip", plain, "gzip", http.StatusOK},
		{"other tag", `"0123456789abcdef0123456789abcdef"`, "", http.StatusOK},
		{"tag without quotes", strings.Trim(plain, `"`), "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := do(t, client, http.MethodGet, url, map[string]string{
				"If-None-Match":   tt.ifNoneMatch,
				"Accept-Encoding": tt.acceptEncoding,
			})
			if res.status != tt.want {
				t.Fatalf("status %d, want %d", res.status, tt.want)
			}
			if tt.want != http.StatusNotModified {
				return
			}
			if len(res.body) != 0 {
				t.Errorf("304 with a body of %d bytes", len(res.body))
			}
			for _, h := range []string{"ETag", "Cache-Control", "Vary"} {
				if res.header.Get(h) == "" {
					t.Errorf("304 without %s", h)
				}
			}
			for _, h := range []string{"Content-Type", "Content-Encoding"} {
				if v := res.header.Get(h); v != "" {
					t.Errorf("304 with %s %q", h, v)
				}
			}
		})
	}
}

func TestHandlerRefuses(t *testing.T) {
	t.Parallel()
	a := newAssets(t)
	srv, client := serve(t, a)
	hashed := a.URL("app.css")

	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{"unhashed name", http.MethodGet, "/static/app.css", http.StatusNotFound},
		{"wrong hash", http.MethodGet, "/static/app.0123456789.css", http.StatusNotFound},
		{"unknown file", http.MethodGet, "/static/nothing.0123456789.js", http.StatusNotFound},
		{"directory", http.MethodGet, "/static/vendor/", http.StatusNotFound},
		{"prefix only", http.MethodGet, "/static/", http.StatusNotFound},
		{"without prefix", http.MethodGet, strings.TrimPrefix(hashed, "/static"), http.StatusNotFound},
		{"versions file", http.MethodGet, "/static/vendor/VERSIONS", http.StatusNotFound},
		{"source file", http.MethodGet, "/static/static.go", http.StatusNotFound},
		{"POST", http.MethodPost, hashed, http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, hashed, http.StatusMethodNotAllowed},
		{"DELETE", http.MethodDelete, hashed, http.StatusMethodNotAllowed},
		{"OPTIONS", http.MethodOptions, hashed, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := do(t, client, tt.method, srv.URL+tt.path, nil)
			if res.status != tt.want {
				t.Fatalf("%s %s: status %d, want %d", tt.method, tt.path, res.status, tt.want)
			}
			if got := res.header.Get("Cache-Control"); got != "" {
				t.Errorf("refusal is cacheable: Cache-Control %q", got)
			}
			if tt.want == http.StatusMethodNotAllowed {
				if got := res.header.Get("Allow"); got != "GET, HEAD" {
					t.Errorf("Allow %q, want %q", got, "GET, HEAD")
				}
			}
		})
	}
}

// TestEveryEmbeddedFileIsServed walks the embedded files: each has a
// hashed URL of the documented form, is served byte for byte there, and
// has the SRI value of its bytes.
func TestEveryEmbeddedFileIsServed(t *testing.T) {
	t.Parallel()
	a := newAssets(t)
	srv, client := serve(t, a)

	var names []string
	err := fs.WalkDir(static.Files, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"app.css", "app.js", "favicon.ico", "favicon.svg", "live.js", "rows.js",
		"vendor/htmx.LICENSE.txt", "vendor/htmx.min.js",
		"vendor/uPlot.LICENSE.txt", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("embedded files (-want +got):\n%s", diff)
	}

	seen := map[string]string{}
	for _, name := range names {
		raw, err := fs.ReadFile(static.Files, name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		ext := path.Ext(name)
		wantURL := "/static/" + strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:])[:10] + ext
		url := a.URL(name)
		if url != wantURL {
			t.Errorf("URL(%q) = %q, want %q", name, url, wantURL)
		}
		if other, ok := seen[url]; ok {
			t.Errorf("%q and %q share URL %q", other, name, url)
		}
		seen[url] = name

		sri := sha512.Sum384(raw)
		if got, want := a.Integrity(name), "sha384-"+base64.StdEncoding.EncodeToString(sri[:]); got != want {
			t.Errorf("Integrity(%q) = %q, want %q", name, got, want)
		}

		res := do(t, client, http.MethodGet, srv.URL+url, nil)
		if res.status != http.StatusOK || !bytes.Equal(res.body, raw) {
			t.Errorf("GET %s: status %d, %d bytes; want 200 and the %d bytes of %s", url, res.status, len(res.body), len(raw), name)
		}
	}
}

// TestEmbedMissesNoFile fails when a file that belongs with the assets is
// added to the directory but not to the embed pattern.
func TestEmbedMissesNoFile(t *testing.T) {
	t.Parallel()
	a := newAssets(t)
	for _, dir := range []string{".", "vendor"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := path.Join(dir, e.Name())
			if e.IsDir() || strings.HasSuffix(name, ".go") || name == "vendor/VERSIONS" {
				continue
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s is in the directory but not embedded: %v", name, r)
					}
				}()
				a.URL(name)
			}()
		}
	}
}

func TestURLPanicsOnUnknownName(t *testing.T) {
	t.Parallel()
	a := newAssets(t)
	for _, name := range []string{"nothing.js", "app", "/static/app.css", "htmx.min.js", ""} {
		t.Run(name, func(t *testing.T) {
			for _, f := range []func(string) string{a.URL, a.Integrity} {
				func() {
					defer func() {
						r := recover()
						if r == nil {
							t.Fatalf("no panic for %q", name)
						}
						if msg, _ := r.(string); !strings.Contains(msg, "app.css") {
							t.Errorf("panic %v does not list the known names", r)
						}
					}()
					f(name)
				}()
			}
		})
	}
}

func TestHashedURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    string
	}{
		// sha256("a") = ca978112ca…, sha256("b") = 3e23e81600…
		{"app.css", "a", "/static/app.ca978112ca.css"},
		{"app.css", "b", "/static/app.3e23e81600.css"},
		{"vendor/htmx.min.js", "a", "/static/vendor/htmx.min.ca978112ca.js"},
		{"vendor/uPlot.LICENSE.txt", "b", "/static/vendor/uPlot.LICENSE.3e23e81600.txt"},
	}
	for _, tt := range tests {
		if got := static.HashedURL(tt.name, []byte(tt.content)); got != tt.want {
			t.Errorf("HashedURL(%q, %q) = %q, want %q", tt.name, tt.content, got, tt.want)
		}
	}
}

// TestChangedContentChangesURL builds assets from two versions of a file:
// the URL changes with the bytes, and the old URL is no longer served.
func TestChangedContentChangesURL(t *testing.T) {
	t.Parallel()
	v1, err := static.NewFromFS(fstest.MapFS{"app.css": {Data: []byte("body { color: black }\n")}})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := static.NewFromFS(fstest.MapFS{"app.css": {Data: []byte("body { color: navy }\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if v1.URL("app.css") == v2.URL("app.css") {
		t.Fatalf("both versions have URL %q", v1.URL("app.css"))
	}
	srv, client := serve(t, v2)
	if res := do(t, client, http.MethodGet, srv.URL+v1.URL("app.css"), nil); res.status != http.StatusNotFound {
		t.Errorf("old URL: status %d, want 404", res.status)
	}
	if res := do(t, client, http.MethodGet, srv.URL+v2.URL("app.css"), nil); string(res.body) != "body { color: navy }\n" {
		t.Errorf("new URL: body %q", res.body)
	}
}

func TestNewFromFSRefusesUnknownTypes(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"logo.png", "vendor/README", "page.html"} {
		_, err := static.NewFromFS(fstest.MapFS{name: {Data: []byte("x")}})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
}

func TestTotalBytes(t *testing.T) {
	t.Parallel()
	a := newAssets(t)
	var raw, zipped int64
	for _, name := range []string{"app.css", "app.js", "live.js", "rows.js", "vendor/htmx.min.js", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"} {
		b := readFile(t, name)
		raw += int64(len(b))
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		zipped += int64(min(buf.Len(), len(b)))
	}
	if got := a.TotalBytes(false); got != raw {
		t.Errorf("TotalBytes(false) = %d, want %d", got, raw)
	}
	if got := a.TotalBytes(true); got != zipped {
		t.Errorf("TotalBytes(true) = %d, want %d", got, zipped)
	}
	t.Logf("first visit: %d bytes raw, %d gzipped", raw, zipped)
}

// TestVendoredFilesMatchVersions checks the vendored files against the
// checksums the vendoring script recorded, so that an edit by hand or a
// partial upgrade shows up.
func TestVendoredFilesMatchVersions(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("vendor", "VERSIONS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^([0-9a-f]{64})  (\S+)$`)
	recorded := map[string]string{}
	packages := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := sc.Text()
		if m := line.FindStringSubmatch(text); m != nil {
			recorded[m[2]] = m[1]
		} else if fields := strings.Fields(text); len(fields) == 3 && strings.HasPrefix(fields[2], "sha512-") {
			packages++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if packages != 2 {
		t.Errorf("VERSIONS names %d packages with version and integrity, want 2", packages)
	}

	entries, err := os.ReadDir("vendor")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, e := range entries {
		if e.Name() == "VERSIONS" {
			continue
		}
		onDisk = append(onDisk, e.Name())
		sum := sha256.Sum256(readFile(t, "vendor/"+e.Name()))
		if got := hex.EncodeToString(sum[:]); got != recorded[e.Name()] {
			t.Errorf("vendor/%s: sha256 %s, VERSIONS records %q", e.Name(), got, recorded[e.Name()])
		}
	}
	var listed []string
	for name := range recorded {
		listed = append(listed, name)
	}
	sort.Strings(listed)
	sort.Strings(onDisk)
	if diff := cmp.Diff(listed, onDisk); diff != "" {
		t.Errorf("files in VERSIONS (-) and in vendor/ (+):\n%s", diff)
	}
}

// TestAppJSParses runs app.js through Node's parser: a syntax error would
// otherwise only show in a browser.
func TestAppJSParses(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("HEARTH_REQUIRE_TOOLS") == "1" {
			t.Fatalf("node not found and HEARTH_REQUIRE_TOOLS=1: %v", err)
		}
		t.Skip("node not on PATH: app.js is not syntax-checked (install Node.js, or set HEARTH_REQUIRE_TOOLS=1 to make this a failure)")
	}
	out, err := exec.Command(node, "--check", "app.js").CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("node --check app.js: %v\n%s", err, out)
		}
		t.Fatalf("run node: %v", err)
	}
}

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"deflate, gzip;q=1.0, *;q=0.5"}, true},
		{[]string{"br", "gzip"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"gzip;q=0.001"}, true},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"*, gzip;q=0"}, false},
		{[]string{"identity"}, false},
		{[]string{"br, deflate"}, false},
		{[]string{"gzip;q=NaN"}, false},
		{[]string{"gzip;q=2"}, false},
		{[]string{"gzip;q=-1"}, false},
		{[]string{"gzip;level=9"}, true},
		{[]string{"gzipped"}, false},
	}
	for _, tt := range tests {
		if got := static.AcceptsGzip(tt.header); got != tt.want {
			t.Errorf("AcceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// FuzzAcceptsGzip: any header is read without panicking; gzip is only
// chosen when the header names it or "*"; and refusing gzip explicitly
// always wins over "*".
func FuzzAcceptsGzip(f *testing.F) {
	for _, seed := range []string{"", "gzip", "gzip, deflate, br, zstd", "br;q=1.0, gzip;q=0.8, *;q=0.1", "*;q=0", "gzip;q=", ";;,,;=", "x-gzip;Q=0.5", "gzip;q=1e0"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := static.AcceptsGzip([]string{header})
		lower := strings.ToLower(header)
		if got && !strings.Contains(lower, "gzip") && !strings.Contains(header, "*") {
			t.Errorf("AcceptsGzip(%q) = true, yet it names neither gzip nor *", header)
		}
		if !strings.Contains(lower, "gzip") && static.AcceptsGzip([]string{header + ",gzip;q=0"}) {
			t.Errorf("AcceptsGzip(%q + \",gzip;q=0\") = true", header)
		}
	})
}

// FuzzNoneMatch: any If-None-Match is read without panicking, and it only
// matches when it contains the tag or "*".
func FuzzNoneMatch(f *testing.F) {
	const tag = `"0123456789abcdef0123456789abcdef"`
	for _, seed := range []string{"", "*", tag, "W/" + tag, `"a", ` + tag, `"a,b"`, `W/"x"`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		if static.NoneMatch([]string{header}, tag) && !strings.Contains(header, tag) && !strings.Contains(header, "*") {
			t.Errorf("NoneMatch(%q) = true", header)
		}
	})
}
