package artifact_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hearthiot/hearth/jobs/artifact"
)

// benchSizes are the artifact sizes the benchmarks run: a sensor's
// firmware and a gateway's image.
var benchSizes = []int{1 << 20, 64 << 20}

// BenchmarkPut stores artifacts of each size: streamed to a temporary
// file with its SHA-256, synced, renamed into place, recorded in bbolt.
// Each round stores new content, so none is found already stored.
func BenchmarkPut(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			f := newFixture(b, artifact.Options{})
			body := randomBytes(b, size)
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				body[0], body[1] = byte(i), byte(i>>8) // new content each time
				if _, err := f.a.Put("fw.bin", bytes.NewReader(body), artifact.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDownload fetches artifacts of each size through a signed link
// from a real HTTPS server on loopback, as a device does (TLS included),
// reusing the connection.
func BenchmarkDownload(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			f := newFixture(b, artifact.Options{})
			mux := http.NewServeMux()
			mux.Handle(artifact.PathPrefix, f.a.Handler())
			srv := httptest.NewTLSServer(mux)
			defer srv.Close()
			if err := f.a.SetBaseURL(srv.URL); err != nil {
				b.Fatal(err)
			}
			if _, err := f.a.Put("fw.bin", bytes.NewReader(randomBytes(b, size)), artifact.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			u, err := f.a.SignedURL("fw.bin", time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			c := srv.Client()
			buf := make([]byte, 256<<10)
			b.SetBytes(int64(size))
			for b.Loop() {
				res, err := c.Get(u)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(io.Discard, res.Body, buf)
				res.Body.Close()
				if err != nil || n != int64(size) || res.StatusCode != http.StatusOK {
					b.Fatalf("download: %s, %d bytes, %v", res.Status, n, err)
				}
			}
		})
	}
}
