package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// testArtifactMax is the artifact limit of the test server.
const testArtifactMax = 1 << 20

func hexSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// octets is the header of a file upload.
var octets = map[string]string{"Content-Type": "application/octet-stream"}

func withHeader(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for hk, hv := range h {
		out[hk] = hv
	}
	return out
}

func TestArtifacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addToken(t, asPlainOp, store.RoleOperator, "", store.AccessOperator)
	fw1, fw2 := "firmware version 1", "firmware version 2, longer"
	e.run(t, []scenario{
		{name: "upload", method: "PUT", path: "/api/v1/artifacts/fw-1.0.bin", as: asOperator, body: fw1, header: octets, status: 201,
			contains: []string{`"name":"fw-1.0.bin"`, fmt.Sprintf(`"size":%d`, len(fw1)), `"sha256":"` + hexSum(fw1) + `"`, `"signature":""`,
				`"content_type":"application/octet-stream"`, `"created_at":"2026-11-05T08:00:00Z"`, `"created_by":"token:operator-token"`}},
		{name: "upload with a signature and a type", method: "PUT", path: "/api/v1/artifacts/fw-2.0.bin", as: asPlainOp, body: fw2,
			header: map[string]string{"Content-Type": "application/x-firmware", "X-Hearth-Signature": "MEUCIQD0c2lnbmF0dXJl"}, status: 201,
			contains: []string{`"signature":"MEUCIQD0c2lnbmF0dXJl"`, `"content_type":"application/x-firmware"`, `"created_by":"token:plain-operator"`}},
		{name: "without a content type", method: "PUT", path: "/api/v1/artifacts/fw-3.0.bin", as: asOperator, body: fw1,
			header: map[string]string{"Content-Type": ""}, status: 201, contains: []string{`"content_type":"application/octet-stream"`}},
		{name: "a signature not in base64", method: "PUT", path: "/api/v1/artifacts/fw-x.bin", as: asOperator, body: fw1,
			header: withHeader(octets, "X-Hearth-Signature", "not base64!"), status: 400, contains: []string{`"code":"invalid"`, "not standard base64"}},
		{name: "a bad name", method: "PUT", path: "/api/v1/artifacts/fw%201.bin", as: asOperator, body: fw1, header: octets,
			status: 400, contains: []string{`artifact name \"fw 1.bin\" contains ' '`}},
		{name: "a name too long", method: "PUT", path: "/api/v1/artifacts/" + strings.Repeat("x", 129), as: asOperator, body: fw1, header: octets,
			status: 400, contains: []string{"at most 128"}},
		{name: "an empty file", method: "PUT", path: "/api/v1/artifacts/empty.bin", as: asOperator, header: octets,
			status: 400, contains: []string{"is empty: send the file as the request body"}},
		{name: "a form", method: "PUT", path: "/api/v1/artifacts/fw-x.bin", as: asOperator, body: "--b\r\n\r\nx\r\n--b--\r\n",
			header: map[string]string{"Content-Type": "multipart/form-data; boundary=b"}, status: 415, contains: []string{"not a form"}},
		// curl --data-binary @FILE labels the file it sends as it is with
		// the form type: the body is taken as the file (fw1's bytes, so
		// stored once with it), served as bytes.
		{name: "the file as curl --data-binary sends it", method: "PUT", path: "/api/v1/artifacts/fw-curl.bin", as: asOperator, body: fw1,
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 201,
			contains: []string{`"name":"fw-curl.bin"`, fmt.Sprintf(`"size":%d`, len(fw1)), `"content_type":"application/octet-stream"`}},
		{name: "a declared size over the limit", method: "PUT", path: "/api/v1/artifacts/big.bin", as: asOperator,
			body: strings.Repeat("x", testArtifactMax+1), header: octets, status: 413,
			contains: []string{`"code":"too_large"`, fmt.Sprintf("is %d bytes, larger than the %d bytes accepted", testArtifactMax+1, testArtifactMax)}},
		{name: "exactly the limit", method: "PUT", path: "/api/v1/artifacts/max.bin", as: asOperator,
			body: strings.Repeat("x", testArtifactMax), header: octets, status: 201},
		{name: "a customer uploads", method: "PUT", path: "/api/v1/artifacts/fw-1.0.bin", as: asAcme, body: "evil", header: octets,
			status: 403, contains: []string{"artifacts is for operators"}},
		{name: "list", method: "GET", path: "/api/v1/artifacts", as: asOperator, status: 200,
			contains: []string{`"name":"fw-1.0.bin"`, `"name":"fw-2.0.bin"`, `"name":"fw-3.0.bin"`, `"name":"max.bin"`}, notContains: []string{"fw-x.bin", "big.bin", "empty.bin"}},
		{name: "a customer lists", method: "GET", path: "/api/v1/artifacts", as: asAcme, status: 403, notContains: []string{"fw-1.0.bin"}},
		{name: "show", method: "GET", path: "/api/v1/artifacts/fw-2.0.bin", as: asOperator, status: 200, contains: []string{`"sha256":"` + hexSum(fw2) + `"`}},
		{name: "show missing", method: "GET", path: "/api/v1/artifacts/nothing.bin", as: asOperator, status: 404, contains: []string{"artifact not found"}},
		{name: "a link", method: "POST", path: "/api/v1/artifacts/fw-1.0.bin/url", as: asOperator, status: 200,
			contains: []string{`"url":"https://localhost:8443/artifacts/` + hexSum(fw1) + `/fw-1.0.bin?expires=1793869200\u0026signature=`, `"expires_at":"2026-11-05T09:00:00Z"`}},
		{name: "a link for a minute", method: "POST", path: "/api/v1/artifacts/fw-1.0.bin/url", as: asOperator, body: `{"expires_in_sec":60}`, status: 200,
			contains: []string{`"expires_at":"2026-11-05T08:01:00Z"`}},
		{name: "a link for a year", method: "POST", path: "/api/v1/artifacts/fw-1.0.bin/url", as: asOperator, body: `{"expires_in_sec":31536000}`, status: 400,
			contains: []string{`field \"expires_in_sec\": 1 to 604800 seconds are accepted`}},
		{name: "a link to nothing", method: "POST", path: "/api/v1/artifacts/nothing.bin/url", as: asOperator, status: 404},
		{name: "a customer asks for a link", method: "POST", path: "/api/v1/artifacts/fw-1.0.bin/url", as: asAcme, status: 403, notContains: []string{"signature="}},
		{name: "replace", method: "PUT", path: "/api/v1/artifacts/fw-1.0.bin", as: asOperator, body: fw2, header: octets, status: 201,
			contains: []string{`"sha256":"` + hexSum(fw2) + `"`}},
		{name: "a customer deletes", method: "DELETE", path: "/api/v1/artifacts/fw-1.0.bin", as: asAcme, status: 403},
		{name: "delete", method: "DELETE", path: "/api/v1/artifacts/fw-1.0.bin", as: asOperator, status: 204},
		{name: "delete again", method: "DELETE", path: "/api/v1/artifacts/fw-1.0.bin", as: asOperator, status: 404},
		{name: "shown no more", method: "GET", path: "/api/v1/artifacts/fw-1.0.bin", as: asOperator, status: 404},
	})
	// fw1's content went when fw-1.0.bin was replaced... but fw-3.0.bin
	// holds it; fw2's is named twice once, then once.
	if got := contentFiles(t, e.dir); len(got) != 3 {
		t.Errorf("content files %v; want fw1's, fw2's and the 1 MiB one", got)
	}
}

// contentFiles lists the files under the artifacts' directory: content
// and anything an upload left behind.
func contentFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(dir, "artifacts"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, strings.TrimPrefix(path, dir))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// A body that declares no length and grows past the limit is refused as
// it arrives, with nothing kept.
func TestArtifactUploadPastTheLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, n := range []int{testArtifactMax + 1, 3 * testArtifactMax} {
		req := httptest.NewRequest("PUT", "/api/v1/artifacts/big.bin", io.MultiReader(bytes.NewReader(make([]byte, n))))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Authorization", "Bearer "+e.tokens[asOperator])
		rec := serveChecked(t, e.api.Handler(), req, false)
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), `artifact \"big.bin\" is too large: more than 1 MiB, the most accepted`) {
			t.Errorf("%d bytes of unknown length: %d %s", n, rec.Code, rec.Body)
		}
	}
	if files := contentFiles(t, e.dir); len(files) != 0 {
		t.Errorf("left behind: %v", files)
	}
	if list, _ := e.artifacts.List(); len(list) != 0 {
		t.Errorf("records: %+v", list)
	}
}

// Uploads of one name at once through the router: each is stored, and
// the name ends with one of them, whole.
func TestArtifactConcurrentUploads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const n = 6
	var wg sync.WaitGroup
	codes := make([]int, n)
	bodies := make([]string, n)
	for i := range n {
		bodies[i] = strings.Repeat(fmt.Sprintf("firmware %d;", i), 20000+i)
		wg.Go(func() {
			req := httptest.NewRequest("PUT", "/api/v1/artifacts/fw.bin", strings.NewReader(bodies[i]))
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("Authorization", "Bearer "+e.tokens[asOperator])
			rec := httptest.NewRecorder()
			e.api.Handler().ServeHTTP(rec, req)
			codes[i] = rec.Code
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusCreated {
			t.Errorf("upload %d: %d", i, c)
		}
	}
	rec := e.do(t, e.api.Handler(), scenario{method: "GET", path: "/api/v1/artifacts/fw.bin", as: asOperator})
	var a struct {
		SHA256 string `json:"sha256"`
		Size   int    `json:"size"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range bodies {
		found = found || (hexSum(b) == a.SHA256 && len(b) == a.Size)
	}
	if !found {
		t.Errorf("the record %+v names none of the uploads", a)
	}
	if files := contentFiles(t, e.dir); len(files) != 1 || !strings.HasSuffix(files[0], a.SHA256) {
		t.Errorf("content files %v; want only %s", files, a.SHA256)
	}
}

// BenchmarkArtifactUpload uploads an 8 MiB file through the real router
// behind a real HTTPS server on loopback, as `curl -T` does: TLS, the
// token check, the gate, the file streamed to disk with its SHA-256,
// synced and recorded.
func BenchmarkArtifactUpload(b *testing.B) {
	e := newEnv(b, envOptions{artifactMax: 64 << 20})
	srv := httptest.NewTLSServer(e.api.Handler())
	defer srv.Close()
	const size = 8 << 20
	body := make([]byte, size)
	c := srv.Client()
	b.SetBytes(size)
	for i := 0; b.Loop(); i++ {
		body[0], body[1] = byte(i), byte(i>>8)
		req, err := http.NewRequest("PUT", srv.URL+"/api/v1/artifacts/fw.bin", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Authorization", "Bearer "+e.tokens[asOperator])
		res, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			b.Fatalf("upload: %s", res.Status)
		}
	}
}
