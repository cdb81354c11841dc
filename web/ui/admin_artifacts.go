package ui

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// artifactsPage serves /admin/artifacts: the files devices download
// (firmware), uploaded and deleted by operators, and a signed link to try
// one as a device would.
type artifactsPage struct {
	*UI
	c *config
}

// artifactsData is what the page shows besides the list: the outcome of
// the last change, why an upload was refused, and a link asked for.
type artifactsData struct {
	Artifacts []gate.Artifact
	Notice    string
	NoticeErr bool
	Error     string
	Name      string // the name of a refused upload, kept in the form
	Link      *artifactLink
	MaxSize   int64 // the largest file accepted
}

// artifactLink is a signed link shown on the page.
type artifactLink struct {
	Name string
	gate.ArtifactLink
}

func (u *UI) artifactRoutes(r chi.Router) {
	p := &artifactsPage{UI: u, c: &config{UI: u}}
	r.Get("/artifacts", p.show)
	r.Post("/artifacts", p.upload)
	r.Post("/artifacts/{name}/link", p.link)
	p.c.deletion(r, "/artifacts/{name}/delete", "name", "artifacts.deleted", "/admin/artifacts", p.confirmDelete, gate.Scope.DeleteArtifact)
}

// render answers the page with d and the list read through the person's
// scope.
func (p *artifactsPage) render(w http.ResponseWriter, r *http.Request, status int, d artifactsData) {
	list, err := p.scope(r).Artifacts()
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d.Artifacts, d.MaxSize = list, p.gate.ArtifactMaxSize()
	p.UI.render(w, r, status, artifactsAdminPage(p.view(r), d))
}

// show: GET /admin/artifacts, the list and the upload form.
func (p *artifactsPage) show(w http.ResponseWriter, r *http.Request) {
	var d artifactsData
	d.Notice, d.NoticeErr = p.flashed(r)
	p.render(w, r, http.StatusOK, d)
}

// Bounds of the upload form's fields besides the file.
const (
	maxArtifactFormParts = 8
	maxArtifactFormField = store.MaxArtifactSignatureLen + 1024
)

// upload: POST /admin/artifacts, a multipart form with the fields name
// (empty takes the file's name), signature and file, in this order. The
// file is streamed to the artifact store as it arrives, never held whole.
func (p *artifactsPage) upload(w http.ResponseWriter, r *http.Request) {
	v := p.view(r)
	var name, sig string
	refuse := func(status int, msg string) {
		p.render(w, r, status, artifactsData{Error: v.T("config.not_saved", msg), Name: name})
	}
	// A large file over a slow link outlasts the server's read and write
	// timeouts, which would cut it.
	deadline := time.Now().Add(p.gate.ArtifactUploadTime(r.ContentLength))
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
	mr, err := r.MultipartReader()
	if err != nil {
		refuse(http.StatusBadRequest, v.T("artifacts.no_file"))
		return
	}
	for range maxArtifactFormParts {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			refuse(http.StatusBadRequest, v.T("artifacts.bad_form"))
			return
		}
		switch part.FormName() {
		case "name", "signature":
			b, err := io.ReadAll(io.LimitReader(part, maxArtifactFormField+1))
			if err != nil || len(b) > maxArtifactFormField {
				refuse(http.StatusBadRequest, v.T("artifacts.bad_form"))
				return
			}
			if part.FormName() == "name" {
				name = strings.TrimSpace(string(b))
			} else {
				// Base64 pasted from a file may be wrapped.
				sig = strings.Join(strings.Fields(string(b)), "")
			}
		case "file":
			if part.FileName() == "" {
				refuse(http.StatusBadRequest, v.T("artifacts.no_file"))
				return
			}
			if name == "" {
				name = path.Base(strings.ReplaceAll(part.FileName(), `\`, "/"))
			}
			a, err := p.scope(r).PutArtifact(gate.ArtifactUpload{
				Name: name, Size: -1, Body: part, Signature: sig, ContentType: part.Header.Get("Content-Type"),
			})
			if err != nil {
				if status, msg, ok := p.refusal(w, r, err); ok {
					refuse(status, msg)
				}
				return
			}
			p.sessions.Put(r.Context(), keyFlash, v.T("artifacts.saved", a.Name, formatBytes(a.Size)))
			http.Redirect(w, r, "/admin/artifacts", http.StatusSeeOther)
			return
		}
	}
	refuse(http.StatusBadRequest, v.T("artifacts.no_file"))
}

// link: POST /admin/artifacts/{name}/link makes a signed download link
// that works for an hour. htmx puts the answer's fragment in place; a
// browser without it gets the page with the link.
func (p *artifactsPage) link(w http.ResponseWriter, r *http.Request) {
	name := configParam(r, "name")
	l, err := p.scope(r).ArtifactLink(name, gate.DefaultArtifactLinkTTL)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	al := &artifactLink{Name: name, ArtifactLink: l}
	if r.Header.Get("HX-Request") == "true" {
		p.UI.render(w, r, http.StatusOK, artifactLinkBox(p.view(r), al))
		return
	}
	p.render(w, r, http.StatusOK, artifactsData{Link: al})
}

// confirmDelete is the question before deleting the artifact of the
// request.
func (p *artifactsPage) confirmDelete(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := p.view(r)
	a, err := p.scope(r).Artifact(configParam(r, "name"))
	if err != nil {
		p.fail(w, r, err)
		return configConfirmData{}, false
	}
	return configConfirmData{
		Title: v.T("artifacts.title"), Question: v.T("artifacts.delete", a.Name),
		Action: "/admin/artifacts/" + url.PathEscape(a.Name) + "/delete", Back: "/admin/artifacts",
	}, true
}

// formatBytes writes a size for people: 900 B, 12.5 KiB, 256 MiB.
func formatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", f), "0"), ".") + " " + units[i]
}
