package api

import (
	"net/http"
	"time"
)

// createBackup: POST /api/v1/backup. The answer is the archive itself,
// streamed as it is written; an archive cut short by an error lacks its
// manifest, and every reader refuses it.
func (a *API) createBackup(w http.ResponseWriter, r *http.Request) {
	b, err := a.scope(r).PrepareBackup(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	defer b.Close()
	// An archive of a large installation takes longer than the server's
	// read and write timeouts, which would cut it and cancel the request.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/zstd")
	w.Header().Set("Content-Disposition", `attachment; filename="`+b.FileName()+`"`)
	w.WriteHeader(http.StatusOK)
	if err := b.Write(r.Context(), w); err != nil {
		a.logger.Warn("backup not written whole; the archive sent is incomplete", "error", err)
	}
}
