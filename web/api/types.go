package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/hearthiot/hearth/store"
)

// deviceTypeJSON is a device type as the API shows it. Settings have the
// store's field names, which are the public contract of both.
type deviceTypeJSON struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Settings    []store.Setting `json:"settings"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

func newDeviceTypeJSON(t store.DeviceType) deviceTypeJSON {
	out := deviceTypeJSON{Name: t.Name, Description: t.Description, Settings: t.Settings, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if out.Settings == nil {
		out.Settings = []store.Setting{}
	}
	return out
}

// deviceTypeRequest is the body of PUT /api/v1/device-types/{type}.
type deviceTypeRequest struct {
	Description string          `json:"description"`
	Settings    []store.Setting `json:"settings"`
}

// listDeviceTypes: GET /api/v1/device-types.
func (a *API) listDeviceTypes(w http.ResponseWriter, r *http.Request) {
	types, err := a.types.List()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]deviceTypeJSON, 0, len(types))
	for _, t := range types {
		out = append(out, newDeviceTypeJSON(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"device_types": out})
}

// showDeviceType: GET /api/v1/device-types/{type}.
func (a *API) showDeviceType(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "type")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	t, err := a.types.Get(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newDeviceTypeJSON(t))
}

// putDeviceType: PUT /api/v1/device-types/{type} creates the type (201) or
// replaces its description and settings (200). Settings take effect for
// the next update of every device of the type.
func (a *API) putDeviceType(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "type")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req deviceTypeRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Settings == nil {
		a.writeError(w, r, invalid(`field "settings": required; a list of settings, empty for a type whose devices take none`))
		return
	}
	status := http.StatusOK
	if _, err := a.types.Get(name); errors.Is(err, store.ErrNotFound) {
		status = http.StatusCreated
	} else if err != nil {
		a.writeError(w, r, err)
		return
	}
	t, err := a.types.Put(store.DeviceType{Name: name, Description: req.Description, Settings: req.Settings})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, status, newDeviceTypeJSON(t))
}

// deleteDeviceType: DELETE /api/v1/device-types/{type}. A type that devices
// still name is refused (400).
func (a *API) deleteDeviceType(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "type")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.types.Delete(name); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deviceSettingsJSON is the answer of GET /api/v1/devices/{name}/settings.
type deviceSettingsJSON struct {
	Device string `json:"device"`
	Type   string `json:"type"`
	// Defined is false when the device has no type or its type is not
	// defined: then nothing is checked and customers may change nothing.
	Defined  bool            `json:"defined"`
	Settings []store.Setting `json:"settings"`
}

// showDeviceSettings: GET /api/v1/devices/{name}/settings, the settings of
// the device's type, for anyone who may see the device: what each key
// means, its rules, and whether customers may change it.
func (a *API) showDeviceSettings(w http.ResponseWriter, r *http.Request) {
	d := scopedDevice(r)
	sch, typ, err := a.types.SettingsOf(d.Name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := deviceSettingsJSON{Device: d.Name, Type: typ, Settings: []store.Setting{}}
	if sch != nil {
		out.Defined = true
		out.Settings = sch.Settings()
	}
	writeJSON(w, http.StatusOK, out)
}

// requireTypes answers 503 when the server runs without device types.
func (a *API) requireTypes(next http.Handler) http.Handler {
	return a.unlessMissing(a.types == nil, "device types are", next)
}
