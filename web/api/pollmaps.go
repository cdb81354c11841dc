package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/hearthiot/hearth/device/poll"
	"github.com/hearthiot/hearth/store"
)

// pollMapStore keeps the register maps of polled devices; *store.Store
// implements it. Deps does not require it: without it these routes answer
// 503.
type pollMapStore interface {
	PutPollMap(device, text string) (store.PollMap, bool, error)
	GetPollMap(device string) (store.PollMap, error)
	DeletePollMap(device string) error
}

// Polling is the server's direct polling, told when a device's register
// map changes so that it polls with the new one at once;
// *poll.Service implements it.
type Polling interface {
	Reload(ctx context.Context, device string) error
}

// pollMapJSON is what a PUT of a register map answers.
type pollMapJSON struct {
	Device    string    `json:"device"`
	Source    string    `json:"source"`
	Points    int       `json:"points"`
	Polled    bool      `json:"polled"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (a *API) pollMaps() (pollMapStore, error) {
	st, ok := a.store.(pollMapStore)
	if !ok {
		return nil, unavailable("register maps are not kept by this server")
	}
	return st, nil
}

// showPollMap: GET /api/v1/devices/{name}/modbus answers the register map
// as it was written.
func (a *API) showPollMap(w http.ResponseWriter, r *http.Request) {
	st, err := a.pollMaps()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	pm, err := st.GetPollMap(scopedDevice(r).Name)
	if errors.Is(err, store.ErrNotFound) {
		err = notFound("register map")
	}
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
	st, err := a.pollMaps()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain":
	default:
		a.writeError(w, r, &apiError{status: http.StatusUnsupportedMediaType, code: codeUnsupportedMediaType,
			message: fmt.Sprintf("Content-Type %q: send the register map as application/yaml", r.Header.Get("Content-Type"))})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	d := scopedDevice(r)
	m, err := poll.Check(d.Name, string(body))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	pm, created, err := st.PutPollMap(d.Name, string(body))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := pollMapJSON{Device: d.Name, Source: "tcp " + m.Source.TCP, Points: len(m.Points), UpdatedAt: pm.UpdatedAt}
	if a.polling != nil {
		if err := a.polling.Reload(r.Context(), d.Name); err != nil {
			a.logger.Error("cannot start polling", "device", d.Name, "error", err)
		} else {
			out.Polled = true
		}
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}

// deletePollMap: DELETE /api/v1/devices/{name}/modbus stops polling the
// device.
func (a *API) deletePollMap(w http.ResponseWriter, r *http.Request) {
	st, err := a.pollMaps()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	name := scopedDevice(r).Name
	err = st.DeletePollMap(name)
	if errors.Is(err, store.ErrNotFound) {
		err = notFound("register map")
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if a.polling != nil {
		if err := a.polling.Reload(r.Context(), name); err != nil {
			a.logger.Error("cannot stop polling", "device", name, "error", err)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
