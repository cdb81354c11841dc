package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/backup"
)

// artifactJSON is what the API answers for an artifact.
type artifactJSON struct {
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	Signature   string    `json:"signature"`
	ContentType string    `json:"content_type"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
}

// upload PUTs a file to the API over HTTPS, as `curl -T` does.
func (h *hearth) upload(token, name string, body io.Reader, length int64, header map[string]string) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest("PUT", h.https+"/api/v1/artifacts/"+name, body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("upload %s: %v", name, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// link asks the API for a download link of an artifact.
func (h *hearth) link(token, name string, seconds int) string {
	h.t.Helper()
	var l struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if st := h.apiCall(token, "POST", "/api/v1/artifacts/"+name+"/url", map[string]int{"expires_in_sec": seconds}, &l); st != http.StatusOK {
		h.t.Fatalf("link of %s: status %d", name, st)
	}
	return l.URL
}

// fetch GETs a link as a device does: no token, only Hearth's CA, and
// the link's host reached at this server's address.
func (h *hearth) fetch(link string, header map[string]string) (*http.Response, []byte) {
	h.t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		h.t.Fatal(err)
	}
	host := u.Hostname()
	u.Host = strings.TrimPrefix(h.https, "https://")
	req, err := http.NewRequest("GET", u.String(), nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.caPool, ServerName: host}}}
	res, err := c.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", link, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return res, b
}

// contentFiles lists the files under DATA/artifacts.
func contentFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(filepath.Join(dir, "artifacts"), func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			out = append(out, strings.TrimPrefix(path, dir+string(filepath.Separator)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestArtifacts: an operator uploads firmware through the HTTPS API and a
// device downloads it through a signed link from the same HTTPS listener,
// without a token, resuming a download with a Range request; a changed or
// expired link is refused, a file past --artifact-max-size leaves nothing.
// A backup taken through the admin socket while the server runs, and one
// of the stopped server's directory, both hold the content; a server
// started on the restored directory serves the link made before the
// backup.
func TestArtifacts(t *testing.T) {
	dir := t.TempDir()
	h := startHearthWith(t, dir, func(c *server.Config) { c.ArtifactMaxSize = 2 << 20 })
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	customer := h.token(store.RoleCustomer, "acme")

	fw := make([]byte, 1<<20+333)
	if _, err := rand.Read(fw); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(fw)
	status, body := h.upload(op, "gw-fw-4.1.0.bin", bytes.NewReader(fw), int64(len(fw)), map[string]string{"X-Hearth-Signature": "MEUCIQD0"})
	var a artifactJSON
	if status != http.StatusCreated || json.Unmarshal(body, &a) != nil {
		t.Fatalf("upload: %d %s", status, body)
	}
	if a.Name != "gw-fw-4.1.0.bin" || a.Size != int64(len(fw)) || a.SHA256 != hex.EncodeToString(sum[:]) || a.Signature != "MEUCIQD0" ||
		!strings.HasPrefix(a.CreatedBy, "token:") || time.Since(a.CreatedAt) > time.Minute {
		t.Errorf("upload answered %+v", a)
	}
	if status, body := h.upload(customer, "gw-fw-4.1.0.bin", strings.NewReader("evil"), 4, nil); status != http.StatusForbidden {
		t.Errorf("a customer's upload: %d %s", status, body)
	}
	before := contentFiles(t, dir)
	big := bytes.NewReader(make([]byte, 3<<20))
	if status, body := h.upload(op, "big.bin", big, 3<<20, nil); status != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "larger than the 2097152 bytes accepted") {
		t.Errorf("a declared 3 MiB: %d %s", status, body)
	}
	if status, body := h.upload(op, "big.bin", io.LimitReader(zeros{}, 3<<20), -1, nil); status != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "too large: more than 2 MiB") {
		t.Errorf("3 MiB of no declared length: %d %s", status, body)
	}
	if after := contentFiles(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("files after the refused uploads: %v, before %v", after, before)
	}

	link := h.link(op, "gw-fw-4.1.0.bin", 3600)
	wantPrefix := h.srv.Endpoints().PublicURL + "/artifacts/" + a.SHA256 + "/gw-fw-4.1.0.bin?expires="
	if !strings.HasPrefix(link, wantPrefix) {
		t.Fatalf("link %s; want it under %s", link, wantPrefix)
	}
	res, got := h.fetch(link, nil)
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, fw) || res.Header.Get("ETag") != `"`+a.SHA256+`"` || res.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("download: %s, %d bytes, ETag %q", res.Status, len(got), res.Header.Get("ETag"))
	}
	res, rest := h.fetch(link, map[string]string{"Range": "bytes=500000-", "If-Range": `"` + a.SHA256 + `"`})
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(append(bytes.Clone(fw[:500000]), rest...), fw) {
		t.Errorf("resumed download: %s, %d bytes", res.Status, len(rest))
	}
	tampered := strings.Replace(link, "gw-fw-4.1.0.bin?", "gw-fw-4.1.1.bin?", 1)
	if res, msg := h.fetch(tampered, nil); res.StatusCode != http.StatusForbidden || !strings.Contains(string(msg), "signature does not match") {
		t.Errorf("a changed link: %s %s", res.Status, brief(msg))
	}
	short := h.link(op, "gw-fw-4.1.0.bin", 1)
	time.Sleep(2 * time.Second) // a link of a second lasts less than two
	if res, msg := h.fetch(short, nil); res.StatusCode != http.StatusForbidden || !strings.Contains(string(msg), "expired") {
		t.Errorf("an expired link: %s %s", res.Status, brief(msg))
	}
	if srvArtifacts := h.srv.Artifacts(); srvArtifacts == nil || srvArtifacts.MaxSize() != 2<<20 {
		t.Errorf("Server.Artifacts: %v", srvArtifacts)
	}

	// A backup of the running server, through the admin socket as
	// `hearth backup` takes it.
	req, _ := http.NewRequest("POST", "http://hearth/api/v1/backup", nil)
	resp, err := h.admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: %d %v", resp.StatusCode, err)
	}
	contentPath := "artifacts/sha256/" + a.SHA256[:2] + "/" + a.SHA256
	checkArchived := func(what string, data []byte) {
		t.Helper()
		m, err := backup.Verify(bytes.NewReader(data), nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		found := false
		for _, f := range m.Files {
			switch {
			case f.Path == contentPath:
				found = f.Size == int64(len(fw)) && f.SHA256 == a.SHA256
			case strings.HasPrefix(f.Path, "artifacts/"):
				t.Errorf("%s holds %s, which is no artifact's content", what, f.Path)
			}
		}
		if !found {
			t.Errorf("%s lacks %s, whole", what, contentPath)
		}
	}
	checkArchived("the running server's backup", archive)
	h.stop()

	// `hearth backup` of the stopped server's directory.
	lb, err := server.PrepareLocalBackup(context.Background(), dir, "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var local bytes.Buffer
	_, err = lb.Write(context.Background(), &local)
	if cerr := lb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	checkArchived("the stopped server's backup", local.Bytes())

	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(bytes.NewReader(archive), restored, nil); err != nil {
		t.Fatal(err)
	}
	h2 := startHearth(t, restored)
	res, got = h2.fetch(link, nil)
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, fw) {
		t.Errorf("the link made before the backup, on the restored server: %s, %d bytes", res.Status, len(got))
	}
	var list []artifactJSON
	if st := h2.apiCall(op, "GET", "/api/v1/artifacts", nil, &list); st != http.StatusOK || len(list) != 1 || list[0].SHA256 != a.SHA256 || list[0].Signature != "MEUCIQD0" {
		t.Errorf("artifacts on the restored server: %d %+v", st, list)
	}
	if st := h2.apiCall(op, "DELETE", "/api/v1/artifacts/gw-fw-4.1.0.bin", nil, nil); st != http.StatusNoContent {
		t.Errorf("delete: %d", st)
	}
	if res, msg := h2.fetch(link, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("the link after the delete: %s %s", res.Status, brief(msg))
	}
	if files := contentFiles(t, restored); len(files) != 0 {
		t.Errorf("files after the delete: %v", files)
	}
}

// brief is an answer's start, for a message.
func brief(b []byte) string {
	if len(b) > 200 {
		return fmt.Sprintf("%q… (%d bytes)", b[:200], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// HTTPS offers HTTP/2: a client that asks for it gets it, for the API, the
// pages and a download, which resumes with a range as over HTTP/1.1.
func TestHTTP2(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	fw := bytes.Repeat([]byte("firmware"), 64<<10)
	h.uploadArtifact(op, "fw-2.bin", fw)
	link := h.link(op, "fw-2.bin", 3600)
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Hostname()
	u.Host = strings.TrimPrefix(h.https, "https://")
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: h.caPool, ServerName: host}, ForceAttemptHTTP2: true,
	}}
	get := func(u string, header map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("read %s: %v", u, err)
		}
		if res.Proto != "HTTP/2.0" {
			t.Errorf("GET %s: protocol %s, want HTTP/2.0", u, res.Proto)
		}
		return res, b
	}
	if res, b := get(h.https+"/healthz", nil); res.StatusCode != http.StatusOK || !strings.Contains(string(b), "ok") {
		t.Errorf("healthz: %s %s", res.Status, brief(b))
	}
	if res, b := get(h.https+"/login", nil); res.StatusCode != http.StatusOK || !strings.Contains(string(b), "htmx") {
		t.Errorf("login page: %s %s", res.Status, brief(b))
	}
	if res, b := get(u.String(), nil); res.StatusCode != http.StatusOK || !bytes.Equal(b, fw) {
		t.Errorf("download: %s, %d bytes, want %d", res.Status, len(b), len(fw))
	}
	if res, b := get(u.String(), map[string]string{"Range": "bytes=1000-"}); res.StatusCode != http.StatusPartialContent || !bytes.Equal(b, fw[1000:]) {
		t.Errorf("resumed download: %s, %d bytes", res.Status, len(b))
	}
}
