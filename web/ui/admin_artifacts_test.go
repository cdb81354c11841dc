package ui_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// uploadForm posts the artifact form as a browser does: multipart, the
// fields in the page's order, then the file (none when fileName is "").
func (e *env) uploadForm(c *http.Client, name, signature, fileName string, content []byte, header map[string]string) response {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("name", name)
	_ = mw.WriteField("signature", signature)
	if fileName != "" {
		fw, err := mw.CreateFormFile("file", fileName)
		if err != nil {
			e.t.Fatal(err)
		}
		_, _ = fw.Write(content)
	}
	if err := mw.Close(); err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest("POST", e.srv.URL+"/admin/artifacts", &body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", e.srv.URL)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: string(b), location: res.Header.Get("Location"), header: res.Header}
}

// linkIn finds a download link on a page.
var linkIn = regexp.MustCompile(`https://127\.0\.0\.1:[0-9]+/artifacts/[0-9a-f]{64}/[A-Za-z0-9._-]+\?expires=[0-9]+&amp;signature=[0-9a-f]{64}`)

// download fetches a link from the artifacts' HTTPS server, without any
// credential.
func (e *env) download(link string) (int, []byte) {
	e.t.Helper()
	res, err := e.files.Client().Get(strings.ReplaceAll(link, "&amp;", "&"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, b
}

func TestArtifactsPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	if r := e.get(op, "/admin/artifacts"); r.status != http.StatusOK || !strings.Contains(r.body, "No artifacts uploaded.") ||
		!strings.Contains(r.body, "At most 1 MiB.") || !strings.Contains(r.body, `href="/admin/artifacts" aria-current="page"`) {
		t.Fatalf("empty page: %d\n%s", r.status, r.body)
	}
	fw := bytes.Repeat([]byte("firmware "), 20000) // 180,000 bytes
	r := e.uploadForm(op, "fw-1.0.bin", "MEUC\nIQD0", "ignored.bin", fw, nil)
	if r.status != http.StatusSeeOther || r.location != "/admin/artifacts" {
		t.Fatalf("upload: %d %q\n%s", r.status, r.location, r.body)
	}
	sum := sha256.Sum256(fw)
	r = e.get(op, "/admin/artifacts")
	for _, want := range []string{"Artifact fw-1.0.bin uploaded (175.8 KiB).", `data-artifact="fw-1.0.bin"`, hex.EncodeToString(sum[:]),
		"user:" + opUser, "application/octet-stream", ">yes<"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page after the upload lacks %q", want)
		}
	}
	if a, err := e.arts.Get("fw-1.0.bin"); err != nil || a.Signature != "MEUCIQD0" || a.Size != int64(len(fw)) {
		t.Errorf("stored: %+v %v; want the signature unwrapped", a, err)
	}
	// Without a name the file's own is taken.
	if r := e.uploadForm(op, "", "", "sensor-fw_2.1.img", []byte("sensor firmware"), nil); r.status != http.StatusSeeOther {
		t.Fatalf("upload by the file's name: %d\n%s", r.status, r.body)
	}
	if _, err := e.arts.Get("sensor-fw_2.1.img"); err != nil {
		t.Errorf("the upload without a name: %v", err)
	}
	// Refusals keep the name and say why; nothing is stored.
	for _, tc := range []struct {
		what, name, file string
		content          []byte
		status           int
		says             string
	}{
		{"a bad name", "fw 2.bin", "x.bin", []byte("x"), http.StatusBadRequest, `Not saved: artifact name &#34;fw 2.bin&#34; contains &#39; &#39;`},
		{"a bad file name", "", "fw (1).bin", []byte("x"), http.StatusBadRequest, "Not saved: artifact name"},
		{"too large", "big.bin", "big.bin", make([]byte, 1<<20+1), http.StatusRequestEntityTooLarge, "Not saved: artifact &#34;big.bin&#34; is too large: more than 1 MiB"},
		{"no file", "fw-3.bin", "", nil, http.StatusBadRequest, "Not saved: choose a file to upload."},
		{"an empty file", "fw-3.bin", "fw-3.bin", nil, http.StatusBadRequest, "is empty"},
	} {
		r := e.uploadForm(op, tc.name, "", tc.file, tc.content, nil)
		if r.status != tc.status || !strings.Contains(r.body, tc.says) || (tc.name != "" && !strings.Contains(r.body, `value="`+tc.name+`"`)) {
			t.Errorf("%s: %d, want %d saying %q:\n%s", tc.what, r.status, tc.status, tc.says, r.body)
		}
	}
	if list, _ := e.arts.List(); len(list) != 2 {
		t.Errorf("artifacts after the refusals: %+v", list)
	}

	// A link, as htmx asks for it (the fragment) and as a plain form
	// does (the page); both download the file without signing in.
	r = e.do(op, "POST", "/admin/artifacts/fw-1.0.bin/link", url.Values{}, map[string]string{"Origin": e.srv.URL, "HX-Request": "true"})
	link := linkIn.FindString(r.body)
	if r.status != http.StatusOK || strings.Contains(r.body, "<html") || link == "" || !strings.Contains(r.body, "that works until") {
		t.Fatalf("the link fragment: %d\n%s", r.status, r.body)
	}
	if status, got := e.download(link); status != http.StatusOK || !bytes.Equal(got, fw) {
		t.Errorf("downloading the link: %d, %d bytes", status, len(got))
	}
	r = e.post(op, "/admin/artifacts/fw-1.0.bin/link", url.Values{})
	if r.status != http.StatusOK || !strings.Contains(r.body, "<html") || linkIn.FindString(r.body) == "" {
		t.Errorf("the link without htmx: %d", r.status)
	}
	if r := e.post(op, "/admin/artifacts/nothing.bin/link", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("a link to nothing: %d", r.status)
	}

	// Delete, behind a confirmation; the link stops working.
	if r := e.get(op, "/admin/artifacts/fw-1.0.bin/delete"); r.status != http.StatusOK || !strings.Contains(r.body, "Delete artifact fw-1.0.bin?") {
		t.Errorf("confirmation: %d", r.status)
	}
	if r := e.post(op, "/admin/artifacts/fw-1.0.bin/delete", url.Values{}); r.status != http.StatusSeeOther {
		t.Errorf("delete: %d", r.status)
	}
	if r := e.get(op, "/admin/artifacts"); !strings.Contains(r.body, "Artifact fw-1.0.bin deleted.") || strings.Contains(r.body, `data-artifact="fw-1.0.bin"`) {
		t.Errorf("the page after the delete:\n%s", r.body)
	}
	if status, _ := e.download(link); status != http.StatusNotFound {
		t.Errorf("the link after the delete: %d", status)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.dir, "artifacts", "tmp")); len(entries) != 0 {
		t.Errorf("uploads left behind: %v", entries)
	}
}

// Plain operators manage artifacts as admins do; customers do not see the
// page at all, and a cross-site upload is refused.
func TestArtifactsPageAccess(t *testing.T) {
	e := newEnv(t, envOptions{})
	plain := e.signInPlainOperator()
	if r := e.uploadForm(plain, "fw.bin", "", "fw.bin", []byte("firmware"), nil); r.status != http.StatusSeeOther {
		t.Errorf("a plain operator uploads: %d", r.status)
	}
	cu := e.signIn(acmeUser)
	if r := e.get(cu, "/admin/artifacts"); r.status != http.StatusNotFound || strings.Contains(r.body, "fw.bin") {
		t.Errorf("a customer: %d", r.status)
	}
	if r := e.uploadForm(cu, "fw.bin", "", "fw.bin", []byte("evil"), nil); r.status != http.StatusNotFound {
		t.Errorf("a customer uploads: %d", r.status)
	}
	op := e.signIn(opUser)
	if r := e.uploadForm(op, "fw.bin", "", "fw.bin", []byte("evil"), map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); r.status != http.StatusForbidden {
		t.Errorf("a cross-site upload: %d", r.status)
	}
	if a, err := e.arts.Get("fw.bin"); err != nil || a.Size != int64(len("firmware")) {
		t.Errorf("the artifact: %+v %v", a, err)
	}
}

// TestArtifactUploadInBrowser: in a real browser an operator goes to the
// artifacts from the navigation, uploads a file through the form, and
// asks for a link, which htmx puts on the page; the link downloads the
// file without signing in.
func TestArtifactUploadInBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	fw := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 50000)
	file := filepath.Join(t.TempDir(), "gateway-fw-3.2.1.bin")
	if err := os.WriteFile(file, fw, 0o600); err != nil {
		t.Fatal(err)
	}
	step, js := signedInBrowser(t, e, opUser)
	type css = chromedp.CSS
	step("open the artifacts from the navigation",
		chromedp.Click(css(`nav a[href="/admin/artifacts"]`)),
		chromedp.WaitVisible(css(`#artifact-upload`)),
	)
	step("upload a file under its own name",
		chromedp.SetUploadFiles(css(`#artifact-file`), []string{file}),
		chromedp.Click(css(`#artifact-upload button[type=submit]`)),
		chromedp.WaitVisible(css(`tr[data-artifact="gateway-fw-3.2.1.bin"]`)),
	)
	notice := js("the notice", `document.querySelector('p.notice').innerText`)
	if !strings.Contains(notice, "Artifact gateway-fw-3.2.1.bin uploaded (195.3 KiB).") {
		t.Errorf("the notice reads %q", notice)
	}
	step("ask for a link",
		chromedp.Click(css(`tr[data-artifact="gateway-fw-3.2.1.bin"] button[data-action="link"]`)),
		chromedp.WaitVisible(css(`#artifact-link-url`)),
	)
	link := js("the link", `document.querySelector('#artifact-link-url').innerText`)
	page := js("the page's address", `location.pathname`)
	if page != "/admin/artifacts" {
		t.Errorf("after asking for a link the browser is at %s; htmx should have put the link on the page", page)
	}
	if status, got := e.download(link); status != http.StatusOK || !bytes.Equal(got, fw) {
		t.Errorf("the link %q downloads %d, %d bytes; want the %d uploaded", link, status, len(got), len(fw))
	}
	if a, err := e.arts.Get("gateway-fw-3.2.1.bin"); err != nil || a.CreatedBy != "user:"+opUser || time.Since(a.CreatedAt) > time.Minute {
		t.Errorf("stored: %+v %v", a, err)
	}
}
