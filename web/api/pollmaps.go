package api

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"
)

// pollMapJSON is what a PUT of a register map answers.
type pollMapJSON struct {
	Device    string    `json:"device"`
	Source    string    `json:"source"`
	Points    int       `json:"points"`
	Polled    bool      `json:"polled"`
	UpdatedAt time.Time `json:"updated_at"`
}

// showPollMap: GET /api/v1/devices/{name}/modbus answers the register map
// as it was written.
func (a *API) showPollMap(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	pm, err := a.scope(r).PollMap(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, pm.Map)
}

// putPollMap: PUT /api/v1/devices/{name}/modbus with a register map in
// YAML makes Hearth poll the device's Modbus TCP equipment itself. The map
// is checked whole first: a refusal names each problem with its line, and
// nothing is stored.
func (a *API) putPollMap(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain":
	default:
		a.writeError(w, r, unsupportedMediaType("Content-Type %q: send the register map as application/yaml", r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		a.writeError(w, r, fmt.Errorf("read request body: %w", err))
		return
	}
	res, created, err := a.scope(r).PutPollMap(r.Context(), name, string(body))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, pollMapJSON(res))
}

// deletePollMap: DELETE /api/v1/devices/{name}/modbus stops polling the
// device.
func (a *API) deletePollMap(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeletePollMap(r.Context(), name); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
