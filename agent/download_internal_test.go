package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fileServer serves one file over HTTPS on loopback, behind a token in
// the query, and records the Range header of every request.
type fileServer struct {
	srv  *httptest.Server
	data []byte

	mu     sync.Mutex
	token  string
	ranges []string
	// cutAfter, when positive, cuts the next answer after that many bytes.
	cutAfter int
	// noRanges answers every request with the whole file.
	noRanges bool
}

func newFileServer(t *testing.T, data []byte) *fileServer {
	t.Helper()
	f := &fileServer{data: data, token: "t1"}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fileServer) url() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.srv.URL + "/file?sig=" + f.token
}

func (f *fileServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	cut, noRanges, token := f.cutAfter, f.noRanges, f.token
	f.cutAfter = 0
	f.mu.Unlock()
	if r.URL.Query().Get("sig") != token {
		http.Error(w, "link expired", http.StatusForbidden)
		return
	}
	if noRanges {
		r.Header.Del("Range")
	}
	if cut > 0 {
		w.Header().Set("Content-Length", fmt.Sprint(len(f.data)))
		w.WriteHeader(http.StatusOK)
		w.Write(f.data[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, "file", time.Time{}, bytes.NewReader(f.data))
}

func (f *fileServer) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ranges...)
}

func testDownloader(f *fileServer, max int64) *downloader {
	pool := f.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	d := newDownloader(&tls.Config{RootCAs: pool}, max, time.Minute, slog.New(slog.DiscardHandler))
	d.retryWait = 10 * time.Millisecond
	return d
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestDownloadResumes(t *testing.T) {
	data := randomBytes(3<<20 + 17)
	sum := sha256.Sum256(data)
	f := newFileServer(t, data)
	d := testDownloader(f, 64<<20)
	dst := filepath.Join(t.TempDir(), "file.download")

	// Cut after 1 MiB: the next request asks for the rest.
	f.cutAfter = 1 << 20
	var last [2]int64
	err := d.get(context.Background(), fetch{url: f.url(), sha256: sum[:], size: int64(len(data)), dst: dst,
		progress: func(got, total int64) { last = [2]int64{got, total} }})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("the file downloaded differs")
	}
	if r := f.requests(); len(r) != 2 || r[0] != "" || !strings.HasPrefix(r[1], "bytes=") || r[1] == "bytes=0-" {
		t.Errorf("requests with Range %q; want the second to resume where the first was cut", r)
	}
	if last != [2]int64{int64(len(data)), int64(len(data))} {
		t.Errorf("last progress %v; want the whole file", last)
	}

	// A part left by an earlier run is resumed from its end.
	os.WriteFile(dst, data[:12345], 0o600)
	f.ranges = nil
	if err := d.get(context.Background(), fetch{url: f.url(), sha256: sum[:], dst: dst}); err != nil {
		t.Fatal(err)
	}
	if r := f.requests(); len(r) != 1 || r[0] != "bytes=12345-" {
		t.Errorf("requests %q; want one from byte 12345", r)
	}

	// A whole file already there is checked, not fetched again.
	f.ranges = nil
	if err := d.get(context.Background(), fetch{url: f.url(), sha256: sum[:], size: int64(len(data)), dst: dst}); err != nil || len(f.requests()) != 0 {
		t.Errorf("a whole part: %v, requests %q; want it taken as it is", err, f.requests())
	}

	// A server that ignores Range sends the whole file; it is taken from
	// the start.
	os.WriteFile(dst, data[:100], 0o600)
	f.noRanges = true
	if err := d.get(context.Background(), fetch{url: f.url(), sha256: sum[:], dst: dst}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("the file downloaded without ranges differs")
	}
}

// TestDownloadRefusals: a link that expired is asked for again; what
// cannot be the file is refused with why, and removed.
func TestDownloadRefusals(t *testing.T) {
	data := randomBytes(200 << 10)
	sum := sha256.Sum256(data)
	f := newFileServer(t, data)
	d := testDownloader(f, 1<<20)
	dir := t.TempDir()

	// The link expired: a fresh one comes from the job.
	stale := f.url()
	f.token = "t2"
	refreshed := 0
	err := d.get(context.Background(), fetch{url: stale, sha256: sum[:], dst: filepath.Join(dir, "a"),
		refresh: func(context.Context) (string, error) { refreshed++; return f.url(), nil }})
	if err != nil || refreshed != 1 {
		t.Errorf("expired link: %v after %d refreshes; want one fresh link", err, refreshed)
	}
	// Without a way to a fresh link, the refusal is the error.
	err = d.get(context.Background(), fetch{url: stale, sha256: sum[:], dst: filepath.Join(dir, "b")})
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden: link expired") || strings.Contains(err.Error(), "sig=") {
		t.Errorf("expired link without refresh: %v; want the status, without the link's signature", err)
	}

	for _, tt := range []struct {
		name string
		f    fetch
		want string
	}{
		{"digest", fetch{sha256: make([]byte, 32)}, "SHA-256 is not the one the job names"},
		{"size said", fetch{sha256: sum[:], size: 2 << 20}, "the file is 2097152 bytes; this agent downloads at most 1048576"},
		{"size sent", fetch{sha256: sum[:], max: 100 << 10}, "the file is 204800 bytes; this agent downloads at most 102400"},
		{"size differs", fetch{sha256: sum[:], size: 1000}, "the server sends 204800 bytes; the job says the file is 1000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.url, tt.f.dst = f.url(), filepath.Join(dir, tt.name)
			err := d.get(context.Background(), tt.f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want %q", err, tt.want)
			}
			if _, err := os.Stat(tt.f.dst); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused download is left: %v", err)
			}
		})
	}

	// A part of another file under the same name: after the resumed file
	// fails its digest, it is fetched again from the start.
	dst := filepath.Join(dir, "stale")
	os.WriteFile(dst, bytes.Repeat([]byte{0xff}, 1000), 0o600)
	f.ranges = nil
	if err := d.get(context.Background(), fetch{url: f.url(), sha256: sum[:], dst: dst}); err != nil {
		t.Fatal(err)
	}
	if r := f.requests(); len(r) != 2 || r[0] != "bytes=1000-" || r[1] != "" {
		t.Errorf("requests %q; want a resumption, then the whole file", r)
	}

	// A server that is gone: the download ends after its tries.
	f.srv.Close()
	err = d.get(context.Background(), fetch{url: f.url(), sha256: sum[:], dst: filepath.Join(dir, "gone")})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d tries in a row", downloadRetries)) {
		t.Errorf("server gone: %v", err)
	}
}

func TestContentRange(t *testing.T) {
	for in, want := range map[string][3]int64{
		"bytes 100-199/1000": {100, 1000, 1},
		"bytes 100-199/*":    {100, 0, 1},
		"bytes */1000":       {0, 1000, 1},
		"bytes 1-2":          {0, 0, 0},
		"items 1-2/3":        {0, 0, 0},
		"bytes x-2/3":        {0, 0, 0},
	} {
		start, size, ok := contentRange(in)
		if ok != (want[2] == 1) || ok && (start != want[0] || size != want[1]) {
			t.Errorf("contentRange(%q) = %d, %d, %v; want %v", in, start, size, ok, want)
		}
	}
}
