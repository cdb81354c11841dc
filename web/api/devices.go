package api

import (
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// deviceJSON is a device as the API shows it. Credentials appear without
// their hashes or fingerprints: what proves a device's identity never leaves
// the store.
type deviceJSON struct {
	Name        string            `json:"name"`
	DisplayName string            `json:"display_name"`
	Customer    string            `json:"customer"`
	Site        string            `json:"site"`
	Type        string            `json:"type"`
	Attributes  map[string]string `json:"attributes"`
	CreatedAt   time.Time         `json:"created_at"`
	Credentials []credentialJSON  `json:"credentials"`
	// The connection state is absent when the API has no presence
	// source; the times are absent while unknown.
	Online         *bool      `json:"online,omitempty"`
	LastSeen       *time.Time `json:"last_seen,omitempty"`
	ConnectedAt    *time.Time `json:"connected_at,omitempty"`
	DisconnectedAt *time.Time `json:"disconnected_at,omitempty"`
	// DisconnectReason says why the last session ended, while offline:
	// clean, keepalive_timeout, error, taken_over, credential_revoked,
	// server_shutdown or server_restart.
	DisconnectReason string `json:"disconnect_reason,omitempty"`
	RemoteAddress    string `json:"remote_address,omitempty"` // of the current or last session
	MQTTVersion      string `json:"mqtt_version,omitempty"`   // "3.1.1" or "5"
	// RateLimits is absent when the server limits neither.
	RateLimits *rateLimitsJSON `json:"rate_limits,omitempty"`
}

// rateLimitsJSON are a device's rate limits and how it has met them since
// Hearth started.
type rateLimitsJSON struct {
	Telemetry     *rateUseJSON `json:"telemetry,omitempty"`
	ShadowUpdates *rateUseJSON `json:"shadow_updates,omitempty"`
}

type rateUseJSON struct {
	PerSecond   float64    `json:"per_second"` // 0: no limit
	Burst       int        `json:"burst"`
	Delayed     uint64     `json:"delayed"`
	LastDelayed *time.Time `json:"last_delayed,omitempty"`
	Refused     uint64     `json:"refused"`
	LastRefused *time.Time `json:"last_refused,omitempty"`
}

func newRateUseJSON(u *device.RateUse) *rateUseJSON {
	if u == nil {
		return nil
	}
	return &rateUseJSON{
		PerSecond: u.PerSecond, Burst: u.Burst,
		Delayed: u.Delayed, LastDelayed: timePtr(u.LastDelayed),
		Refused: u.Refused, LastRefused: timePtr(u.LastRefused),
	}
}

type credentialJSON struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	NotAfter   *time.Time `json:"not_after,omitempty"`
	CertSerial string     `json:"cert_serial,omitempty"`
}

func newDeviceJSON(d store.Device) deviceJSON {
	out := deviceJSON{
		Name:        d.Name,
		DisplayName: d.DisplayName,
		Customer:    d.Customer,
		Site:        d.Site,
		Type:        d.Type,
		Attributes:  d.Attributes,
		CreatedAt:   d.CreatedAt,
		Credentials: make([]credentialJSON, 0, len(d.Credentials)),
	}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	for _, c := range d.Credentials {
		cj := credentialJSON{
			ID:         c.ID,
			Kind:       c.Kind,
			CreatedAt:  c.CreatedAt,
			RevokedAt:  c.RevokedAt,
			CertSerial: c.CertSerial,
		}
		if !c.NotAfter.IsZero() {
			notAfter := c.NotAfter
			cj.NotAfter = &notAfter
		}
		out.Credentials = append(out.Credentials, cj)
	}
	return out
}

// newDeviceViewJSON is a device with its connection state, when the
// server has a presence source, and its rate limits, when it has them. A device not heard from since Hearth
// started is offline with no times.
func newDeviceViewJSON(v gate.DeviceView) deviceJSON {
	out := newDeviceJSON(v.Device)
	if v.TelemetryRate != nil || v.ShadowRate != nil {
		out.RateLimits = &rateLimitsJSON{Telemetry: newRateUseJSON(v.TelemetryRate), ShadowUpdates: newRateUseJSON(v.ShadowRate)}
	}
	if !v.HasPresence {
		return out
	}
	info := v.Presence
	online := info.Online
	out.Online = &online
	out.LastSeen = timePtr(info.LastSeen)
	out.ConnectedAt = timePtr(info.ConnectedAt)
	out.DisconnectedAt = timePtr(info.DisconnectedAt)
	out.DisconnectReason = info.Reason
	out.RemoteAddress = info.Remote
	out.MQTTVersion = mqttVersion(info.Protocol)
	return out
}

// mqttVersion names an MQTT protocol level as people write it.
func mqttVersion(level byte) string {
	switch level {
	case 3:
		return "3.1"
	case 4:
		return "3.1.1"
	case 5:
		return "5"
	}
	return ""
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// onlineFilter reads the online query argument: nil when absent.
func onlineFilter(v string) (*bool, error) {
	if v == "" {
		return nil, nil
	}
	want, err := strconv.ParseBool(v)
	if err != nil {
		return nil, gate.Invalid(`query argument "online": %q is not true or false`, v)
	}
	return &want, nil
}

// issuedJSON is the answer that carries new device credentials. The secret
// and the private key are shown this once and are not stored.
type issuedJSON struct {
	Device         deviceJSON `json:"device"`
	Secret         string     `json:"secret"`
	CertificatePEM string     `json:"certificate_pem"`
	PrivateKeyPEM  string     `json:"private_key_pem"`
	CAPEM          string     `json:"ca_pem"`
}

func newIssuedJSON(is device.Issued) issuedJSON {
	return issuedJSON{
		Device:         newDeviceJSON(is.Device),
		Secret:         is.Secret,
		CertificatePEM: is.CertificatePEM,
		PrivateKeyPEM:  is.PrivateKeyPEM,
		CAPEM:          is.CAPEM,
	}
}

// createDeviceRequest is the body of POST /api/v1/devices.
type createDeviceRequest struct {
	Name        string            `json:"name"`
	DisplayName string            `json:"display_name"`
	Customer    string            `json:"customer"`
	Site        string            `json:"site"`
	Type        string            `json:"type"`
	Attributes  map[string]string `json:"attributes"`
}

// createDevice: POST /api/v1/devices.
func (a *API) createDevice(w http.ResponseWriter, r *http.Request) {
	var req createDeviceRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	issued, err := a.scope(r).CreateDevice(device.DeviceSpec{
		Name:        req.Name,
		DisplayName: req.DisplayName,
		Customer:    req.Customer,
		Site:        req.Site,
		Type:        req.Type,
		Attributes:  req.Attributes,
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, newIssuedJSON(issued))
}

// devicePageJSON is one page of a device listing; Next is absent after
// the last page.
type devicePageJSON struct {
	Devices []deviceJSON `json:"devices"`
	Next    string       `json:"next,omitempty"`
}

// listDevices: GET /api/v1/devices?customer=&site=&type=&online=
// &firmware=&q=&limit=&cursor= answers one page of devices.
func (a *API) listDevices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	online, err := onlineFilter(q.Get("online"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	limit := 0
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > store.MaxDeviceLimit {
			a.writeError(w, r, gate.Invalid(`query argument "limit" %q: a whole number from 1 to %d is accepted`, s, store.MaxDeviceLimit))
			return
		}
	}
	page, err := a.scope(r).DevicePage(gate.DeviceListQuery{
		Customer: q.Get("customer"),
		Site:     q.Get("site"),
		Type:     q.Get("type"),
		Search:   q.Get("q"),
		Online:   online,
		Firmware: q.Get("firmware"),
		Cursor:   q.Get("cursor"),
		Limit:    limit,
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := devicePageJSON{Devices: make([]deviceJSON, 0, len(page.Devices)), Next: page.Next}
	for _, v := range page.Devices {
		out.Devices = append(out.Devices, newDeviceViewJSON(v))
	}
	writeJSON(w, http.StatusOK, out)
}

// createDevicesCSV: POST /api/v1/devices/bulk with a CSV (text/csv) of
// devices creates them all, or, when any line is wrong, none, and lists
// every wrong line in the error's "lines".
func (a *API) createDevicesCSV(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "text/csv" && mt != "text/plain" {
		a.writeError(w, r, unsupportedMediaType("Content-Type %q: send the file as text/csv", r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	issued, err := a.scope(r).CreateDevicesCSV(body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := struct {
		Devices []issuedJSON `json:"devices"`
	}{Devices: make([]issuedJSON, 0, len(issued))}
	for _, is := range issued {
		out.Devices = append(out.Devices, newIssuedJSON(is))
	}
	writeJSON(w, http.StatusCreated, out)
}

// showDevice: GET /api/v1/devices/{name}.
func (a *API) showDevice(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	v, err := a.scope(r).Device(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newDeviceViewJSON(v))
}

// deleteDevice: DELETE /api/v1/devices/{name}.
func (a *API) deleteDevice(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeleteDevice(name); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rotateCredentials: POST /api/v1/devices/{name}/credentials/rotate.
func (a *API) rotateCredentials(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	issued, err := a.scope(r).RotateCredentials(name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newIssuedJSON(issued))
}

// revokeRequest is the optional body of the revoke route; without a
// credential id every credential of the device is revoked.
type revokeRequest struct {
	CredentialID string `json:"credential_id"`
}

// revokeCredentials: POST /api/v1/devices/{name}/credentials/revoke.
func (a *API) revokeCredentials(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req revokeRequest
	if err := decodeJSON(r, &req, true); err != nil {
		a.writeError(w, r, err)
		return
	}
	v, err := a.scope(r).RevokeCredentials(name, req.CredentialID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newDeviceViewJSON(v))
}
