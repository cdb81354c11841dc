package artifact

import (
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"time"
)

// minDownloadRate is the slowest download a link's answer waits for:
// the server's write timeout (two minutes) would cut a large file to a
// device on a slow link, so each download gets two minutes plus its size
// at this rate (256 MiB: about 4.5 hours). A download cut anyway resumes
// with a Range request.
const minDownloadRate = 16 << 10

// Handler serves download links, GET and HEAD, without any credential but
// the link's signature: 403 for a link that is malformed, tampered with or
// expired, 404 for content the link no longer names, and the content
// otherwise, with Range requests, conditional requests on the ETag (the
// SHA-256) and Last-Modified. Errors are a sentence of plain text.
func (s *Store) Handler() http.Handler { return http.HandlerFunc(s.serveLink) }

func (s *Store) serveLink(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		plainError(w, http.StatusMethodNotAllowed, "a download link is read with GET or HEAD")
		return
	}
	l, expired, err := s.check(r.URL.Path, r.URL.RawPath, r.URL.RawQuery)
	if err != nil {
		s.logger.Debug("artifact download refused", "path", r.URL.Path, "expired", expired, "reason", err)
		plainError(w, http.StatusForbidden, "forbidden: "+err.Error())
		return
	}
	a, err := s.Get(l.name)
	if errors.Is(err, ErrNotFound) {
		plainError(w, http.StatusNotFound, "artifact "+l.name+" does not exist (any more)")
		return
	}
	if err != nil {
		s.logger.Error("artifact download failed", "name", l.name, "error", err)
		plainError(w, http.StatusInternalServerError, "internal error")
		return
	}
	if a.SHA256 != l.sum {
		plainError(w, http.StatusNotFound, "artifact "+l.name+" has other content now; the link names content that is gone")
		return
	}
	f, err := os.Open(s.contentPath(a.SHA256))
	if errors.Is(err, fs.ErrNotExist) {
		s.logger.Error("artifact content is missing; upload the artifact again", "name", a.Name, "sha256", a.SHA256)
		plainError(w, http.StatusNotFound, "the content of artifact "+l.name+" is missing")
		return
	}
	if err != nil {
		s.logger.Error("artifact download failed", "name", a.Name, "error", err)
		plainError(w, http.StatusInternalServerError, "internal error")
		return
	}
	defer f.Close()
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(2*time.Minute + time.Duration(a.Size/minDownloadRate)*time.Second)
	_ = rc.SetWriteDeadline(deadline)
	_ = rc.SetReadDeadline(deadline)
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("ETag", `"`+a.SHA256+`"`)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
	// The link is a secret: no shared cache keeps the answer.
	h.Set("Cache-Control", "private, no-transform")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, a.Name, a.CreatedAt, f)
}

// plainError answers status with a sentence of plain text.
func plainError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}
