package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Prefix is the URL path under which Handler serves the assets; a router
// mounts Handler for every path below it (chi: Prefix+"*").
const Prefix = "/static/"

// files holds every asset: the stylesheet and script of the pages, and the
// vendored libraries with their licences, which ship with the binary.
//
//go:embed app.css app.js live.js rows.js favicon.svg favicon.ico vendor/*.js vendor/*.css vendor/*.txt
var files embed.FS

// hashLen is how many hex digits of the SHA-256 go into a URL: 40 bits
// tell apart every version an asset will ever have, and keep URLs short.
const hashLen = 10

// cacheControl lets browsers and proxies keep an asset for a year without
// asking again: its URL changes whenever its bytes do.
const cacheControl = "public, max-age=31536000, immutable"

// Assets are the embedded files, each with its content-hashed URL and its
// checksums, computed once by New, and, where it saves bytes, a
// gzip-compressed copy, made once when first served.
type Assets struct {
	byName map[string]*asset
	byURL  map[string]*asset
}

type asset struct {
	name        string
	url         string
	contentType string
	// page is true for the stylesheets and scripts the pages load, which
	// make up a first visit; the licences are served but not loaded.
	page      bool
	raw       []byte
	rawETag   string
	gzETag    string
	integrity string

	// gz is the gzip-compressed copy, nil when compressing does not make
	// it smaller; made by compressed when first asked for, not by New:
	// compressing every asset at the best level was a tenth of Hearth's
	// start, for files many starts never serve.
	gzOnce sync.Once
	gz     []byte
}

// New reads the embedded assets and prepares them for serving. It fails
// only if a file of an unknown type was embedded.
func New() (*Assets, error) {
	return newFromFS(files)
}

// newFromFS prepares every file in fsys; New passes the embedded files,
// tests pass their own.
func newFromFS(fsys fs.FS) (*Assets, error) {
	a := &Assets{byName: map[string]*asset{}, byURL: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("read asset %q: %w", name, err)
		}
		as, err := prepare(name, raw)
		if err != nil {
			return err
		}
		if other, ok := a.byURL[as.url]; ok {
			return fmt.Errorf("assets %q and %q: same URL %q", other.name, name, as.url)
		}
		a.byName[name] = as
		a.byURL[as.url] = as
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prepare static assets: %w", err)
	}
	return a, nil
}

func prepare(name string, raw []byte) (*asset, error) {
	ext := path.Ext(name)
	ctype, page, ok := contentType(ext)
	if !ok {
		return nil, fmt.Errorf("asset %q: type %q is not one of .css, .js, .txt, .svg, .ico", name, ext)
	}
	sum := sha256.Sum256(raw)
	sri := sha512.Sum384(raw)
	as := &asset{
		name:        name,
		url:         hashedURL(name, sum),
		contentType: ctype,
		page:        page,
		raw:         raw,
		rawETag:     etag(sum, ""),
		gzETag:      etag(sum, "-gzip"),
		integrity:   "sha384-" + base64.StdEncoding.EncodeToString(sri[:]),
	}
	return as, nil
}

// compressed returns the gzip-compressed copy of the asset, nil when
// compressing does not make it smaller, making it on the first call.
func (as *asset) compressed() []byte {
	as.gzOnce.Do(func() {
		// Compressing into memory fails only if the compressor is
		// misused; the asset is then served as it is.
		if gz, err := compress(as.raw); err == nil && len(gz) < len(as.raw) {
			as.gz = gz
		}
	})
	return as.gz
}

// contentType names the media type of an asset, and whether pages load
// it. Only known types are embedded, so that nothing is ever served with
// a guessed type.
func contentType(ext string) (ctype string, page bool, ok bool) {
	switch ext {
	case ".css":
		return "text/css; charset=utf-8", true, true
	case ".js":
		return "text/javascript; charset=utf-8", true, true
	case ".txt":
		return "text/plain; charset=utf-8", false, true
	case ".svg":
		return "image/svg+xml", false, true
	case ".ico":
		return "image/x-icon", false, true
	}
	return "", false, false
}

// hashedURL puts the first hex digits of the content's SHA-256 before the
// extension: "vendor/htmx.min.js" becomes "/static/vendor/htmx.min.<hash>.js".
// The extension stays last so that tools that go by it still see the type.
func hashedURL(name string, sum [sha256.Size]byte) string {
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	return Prefix + stem + "." + hex.EncodeToString(sum[:])[:hashLen] + ext
}

// etag is a strong validator made from the content hash; the gzip copy has
// its own, since it is a different sequence of bytes.
func etag(sum [sha256.Size]byte, suffix string) string {
	return `"` + hex.EncodeToString(sum[:16]) + suffix + `"`
}

func compress(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (a *Assets) lookup(name string) *asset {
	as, ok := a.byName[name]
	if !ok {
		panic(fmt.Sprintf("static: no embedded asset %q (known: %s)", name, strings.Join(a.names(), ", ")))
	}
	return as
}

func (a *Assets) names() []string {
	names := make([]string, 0, len(a.byName))
	for name := range a.byName {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// URL is the content-hashed path of the named asset ("app.css",
// "vendor/htmx.min.js"), for href and src attributes. An unknown name is a
// mistake in a page, not a run-time condition, so URL panics on it and the
// page's tests catch it.
func (a *Assets) URL(name string) string {
	return a.lookup(name).url
}

// Integrity is the Subresource Integrity value ("sha384-…") of the named
// asset, for the integrity attribute of <script> and <link>: a browser
// refuses the file if anything between the binary and it changed a byte.
// It panics on an unknown name, as URL does.
func (a *Assets) Integrity(name string) string {
	return a.lookup(name).integrity
}

// TotalBytes is how many bytes of assets a browser downloads on its first
// visit: every stylesheet and script, gzip-compressed or not. The licences
// are served but no page loads them, so they do not count.
func (a *Assets) TotalBytes(gzip bool) int64 {
	var n int64
	for _, as := range a.byName {
		if !as.page {
			continue
		}
		if gz := as.compressed(); gzip && gz != nil {
			n += int64(len(gz))
		} else {
			n += int64(len(as.raw))
		}
	}
	return n
}

// Handler serves the assets at the paths URL returns; it expects the full
// request path, Prefix included. A path without the current hash is not
// found: an old page asking for an old version gets a clear 404 rather
// than new bytes under an old name that caches would then keep for a year.
func (a *Assets) Handler() http.Handler {
	return http.HandlerFunc(a.serve)
}

func (a *Assets) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method "+r.Method+" not allowed: static assets answer GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	as, ok := a.byURL[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}

	body, tag, encoding := as.raw, as.rawETag, ""
	if gz := as.compressed(); gz != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			body, tag, encoding = gz, as.gzETag, "gzip"
		}
	}
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", tag)
	if noneMatch(r.Header.Values("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", as.contentType)
	if encoding != "" {
		h.Set("Content-Encoding", encoding)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		// A failed write means the client went away; there is no one
		// left to tell.
		_, _ = w.Write(body)
	}
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip
// (RFC 9110, section 12.5.3): named as gzip or x-gzip with a q-value above
// zero, or covered by "*" when gzip is not named. A malformed q-value counts
// as zero, so a confusing header gets the uncompressed bytes, which every
// client can read.
func acceptsGzip(header []string) bool {
	gzipQ, anyQ := -1.0, -1.0
	for _, line := range header {
		for _, item := range strings.Split(line, ",") {
			coding, params, _ := strings.Cut(item, ";")
			q := qValue(params)
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = max(gzipQ, q)
			case "*":
				anyQ = max(anyQ, q)
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
}

// qValue reads the weight from the parameters after a coding ("q=0.5");
// without one the weight is 1.
func qValue(params string) float64 {
	q := 1.0
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return 0
		}
		q = f
	}
	return q
}

// noneMatch reports whether If-None-Match names tag, using the weak
// comparison RFC 9110 prescribes for it. Splitting at commas is safe: the
// tags Hearth makes contain none, so a tag that does never equals one.
func noneMatch(header []string, tag string) bool {
	for _, line := range header {
		for _, item := range strings.Split(line, ",") {
			item = strings.TrimSpace(item)
			if item == "*" || strings.TrimPrefix(item, "W/") == tag {
				return true
			}
		}
	}
	return false
}
