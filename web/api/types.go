package api

import (
	"net/http"
	"time"

	"github.com/hearthiot/hearth/store"
)

// deviceTypeJSON is a device type as the API shows it. Settings have the
// store's field names, which are the public contract of both.
type deviceTypeJSON struct {
	Name          string               `json:"name"`
	Description   string               `json:"description,omitempty"`
	Settings      []store.Setting      `json:"settings"`
	Metrics       []store.Metric       `json:"metrics,omitempty"`
	Topics        []string             `json:"topics,omitempty"`
	TelemetryRate *store.TelemetryRate `json:"telemetry_rate,omitempty"`
	CreatedAt     time.Time            `json:"created_at"`
	UpdatedAt     time.Time            `json:"updated_at"`
}

func newDeviceTypeJSON(t store.DeviceType) deviceTypeJSON {
	out := deviceTypeJSON{Name: t.Name, Description: t.Description, Settings: t.Settings, Metrics: t.Metrics, Topics: t.Topics, TelemetryRate: t.TelemetryRate, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if out.Settings == nil {
		out.Settings = []store.Setting{}
	}
	return out
}

// deviceTypeRequest is the body of PUT /api/v1/device-types/{type}.
type deviceTypeRequest struct {
	Description   string               `json:"description"`
	Settings      []store.Setting      `json:"settings"`
	Metrics       []store.Metric       `json:"metrics"`
	Topics        []string             `json:"topics"`
	TelemetryRate *store.TelemetryRate `json:"telemetry_rate"`
}

// listDeviceTypes: GET /api/v1/device-types.
func (a *API) listDeviceTypes(w http.ResponseWriter, r *http.Request) {
	types, err := a.scope(r).DeviceTypes()
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
	t, err := a.scope(r).DeviceType(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newDeviceTypeJSON(t))
}

// putDeviceType: PUT /api/v1/device-types/{type} creates the type (201) or
// replaces its description, settings and metrics (200). Settings take effect for
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
	t, created, err := a.scope(r).PutDeviceType(store.DeviceType{Name: name, Description: req.Description, Settings: req.Settings, Metrics: req.Metrics, Topics: req.Topics, TelemetryRate: req.TelemetryRate})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
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
	if err := a.scope(r).DeleteDeviceType(name); err != nil {
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
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	sch, typ, err := a.scope(r).Settings(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := deviceSettingsJSON{Device: name, Type: typ, Settings: []store.Setting{}}
	if sch != nil {
		out.Defined = true
		out.Settings = sch.Settings()
	}
	writeJSON(w, http.StatusOK, out)
}
