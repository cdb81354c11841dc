package api

import (
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
)

// artifactRoutes registers the artifacts devices download: operators
// upload, list and delete them, and ask for a signed link to try one.
func (a *API) artifactRoutes(r chi.Router) {
	r.Route("/artifacts", func(r chi.Router) {
		r.Get("/", a.listArtifacts)
		r.Route("/{name}", func(r chi.Router) {
			r.Put("/", a.putArtifact)
			r.Get("/", a.showArtifact)
			r.Delete("/", a.deleteArtifact)
			r.Post("/url", a.createArtifactURL)
		})
	})
}

// signatureHeader carries an artifact's code signature (base64) with its
// upload.
const signatureHeader = "X-Hearth-Signature"

// isArtifactUpload reports whether a request is PUT
// /api/v1/artifacts/{name}, whose body is a file as large as the
// artifact limit rather than a JSON record. An artifact's name has no
// '/', so the path has exactly this shape.
func isArtifactUpload(r *http.Request) bool {
	path := strings.TrimSuffix(r.URL.Path, "/")
	return r.Method == http.MethodPut && strings.HasPrefix(path, "/api/v1/artifacts/") && strings.Count(path, "/") == 4
}

// putArtifact: PUT /api/v1/artifacts/{name} with the file as the body
// stores it as the artifact, replacing the content of one of that name.
// Each upload makes a new stored version: 201 with its record.
func (a *API) putArtifact(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	ct := r.Header.Get("Content-Type")
	switch mt, _, _ := mime.ParseMediaType(ct); {
	case strings.HasPrefix(mt, "multipart/"):
		a.writeError(w, r, unsupportedMediaType("Content-Type %q: send the file itself as the body (curl -T FILE), not a form", ct))
		return
	case mt == "application/x-www-form-urlencoded":
		// What curl --data-binary @FILE says of the file it sends as it
		// is: the body is the file, not a form, and is served as bytes.
		ct = ""
	}
	// A large file over a slow link outlasts the server's read and write
	// timeouts, which would cut it.
	deadline := time.Now().Add(a.gate.ArtifactUploadTime(r.ContentLength))
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
	art, err := a.scope(r).PutArtifact(gate.ArtifactUpload{
		Name: name, Size: r.ContentLength, Body: r.Body, Signature: r.Header.Get(signatureHeader), ContentType: ct,
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, art)
}

// listArtifacts: GET /api/v1/artifacts.
func (a *API) listArtifacts(w http.ResponseWriter, r *http.Request) {
	list, err := a.scope(r).Artifacts()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// showArtifact: GET /api/v1/artifacts/{name}, the record; the content is
// downloaded through a signed link.
func (a *API) showArtifact(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	art, err := a.scope(r).Artifact(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, art)
}

// deleteArtifact: DELETE /api/v1/artifacts/{name}; its links stop working.
func (a *API) deleteArtifact(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeleteArtifact(name); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// artifactLinkRequest is the optional body of POST
// /api/v1/artifacts/{name}/url.
type artifactLinkRequest struct {
	// ExpiresInSec is how long the link works, in seconds, as AWS IoT
	// Jobs' presignedUrlConfig.expiresInSec; 0 or absent is an hour.
	ExpiresInSec int64 `json:"expires_in_sec"`
}

// maxLinkSeconds is the longest link: a week.
const maxLinkSeconds = 7 * 24 * 3600

// createArtifactURL: POST /api/v1/artifacts/{name}/url answers a signed
// download link of the artifact, as devices get them, for an operator to
// try: {"url", "expires_at"}.
func (a *API) createArtifactURL(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req artifactLinkRequest
	if err := decodeJSON(r, &req, true); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.ExpiresInSec < 0 || req.ExpiresInSec > maxLinkSeconds {
		a.writeError(w, r, gate.Invalid("field %q: 1 to %d seconds are accepted, got %d", "expires_in_sec", maxLinkSeconds, req.ExpiresInSec))
		return
	}
	l, err := a.scope(r).ArtifactLink(name, time.Duration(req.ExpiresInSec)*time.Second)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}
