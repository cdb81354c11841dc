package ui

import (
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// fleetDeviceRow is one device of a fleet list.
type fleetDeviceRow struct {
	Name, Customer, Site, Type string
	Online, Known              bool
	LastSeen                   time.Time
	Firmware                   string
}

// fleetDeviceForm is what the create form holds.
type fleetDeviceForm struct{ Name, Customer, Site, Type string }

// fleetDevicesData is what the device list shows.
type fleetDevicesData struct {
	Query, Online string
	Rows          []fleetDeviceRow
	Total         int // matching devices; Rows holds at most maxFleetRows
	Customers     []string
	fleetOutcome[fleetDeviceForm]
}

// row is a device as fleet lists show it, with its reported firmware; a
// shadow that cannot be read leaves the firmware blank rather than the
// page.
func (f *fleet) row(sc gate.Scope, d gate.DeviceView) fleetDeviceRow {
	fw, err := sc.ReportedFirmware(d.Name)
	if err != nil {
		f.logger.Warn("cannot read reported firmware", "device", d.Name, "error", err)
	}
	return fleetDeviceRow{
		Name: d.Name, Customer: d.Customer, Site: d.Site, Type: d.Type, Online: d.Presence.Online,
		Known: !d.Presence.ConnectedAt.IsZero(), LastSeen: d.Presence.LastSeen, Firmware: fw,
	}
}

// devicesPage is the device list the search of r asks for, with the form
// that creates one.
func (f *fleet) devicesPage(r *http.Request, o fleetOutcome[fleetDeviceForm]) (templ.Component, error) {
	v := f.view(r)
	sc := f.scope(r)
	q := r.URL.Query()
	d := fleetDevicesData{Query: strings.TrimSpace(q.Get("q")), Online: q.Get("online"), fleetOutcome: o}
	var online *bool
	if d.Online != "" {
		b, err := strconv.ParseBool(d.Online)
		if err != nil {
			return nil, badRequest(v.T("fleet.bad_online", d.Online))
		}
		online = &b
	}
	devices, err := sc.Devices("", "")
	if err != nil {
		return nil, err
	}
	slices.SortFunc(devices, func(a, b gate.DeviceView) int { return cmp.Compare(a.Name, b.Name) })
	for _, dv := range devices {
		if !fleetMatches(d.Query, dv.Name, dv.Customer, dv.Site, dv.Type) || online != nil && dv.Presence.Online != *online {
			continue
		}
		d.Total++
		if len(d.Rows) < maxFleetRows {
			d.Rows = append(d.Rows, f.row(sc, dv))
		}
	}
	customers, err := sc.Customers()
	if err != nil {
		return nil, err
	}
	for _, c := range customers {
		d.Customers = append(d.Customers, c.Name)
	}
	return fleetDevicesPage(v, d), nil
}

// showDevices: /admin/devices[?q=&online=], with the form that creates
// one, in the default site unless changed.
func (f *fleet) showDevices(w http.ResponseWriter, r *http.Request) {
	showFormPage(f, w, r, fleetDeviceForm{Site: store.DefaultSite}, f.devicesPage)
}

// createDevice registers a device from the list's form and sends the
// browser to its new credentials; a refusal shows the form again.
func (f *fleet) createDevice(w http.ResponseWriter, r *http.Request) {
	form := fleetDeviceForm{}
	for _, fv := range []struct {
		dst  *string
		name string
	}{{&form.Name, "name"}, {&form.Customer, "customer"}, {&form.Site, "site"}, {&form.Type, "type"}} {
		*fv.dst = strings.TrimSpace(r.PostFormValue(fv.name))
	}
	is, err := f.scope(r).CreateDevice(device.DeviceSpec{Name: form.Name, Customer: form.Customer, Site: form.Site, Type: form.Type})
	if err != nil {
		refuseForm(f, w, r, err, form, f.devicesPage)
		return
	}
	f.handOver(w, r, is)
}

// fleetCredentialRow is one credential on a device's page.
type fleetCredentialRow struct {
	store.Credential
	Active bool
}

// fleetDeviceData is what an operator's device page shows.
type fleetDeviceData struct {
	Device      gate.DeviceView
	Firmware    string
	Attributes  [][2]string
	Credentials []fleetCredentialRow
	Pending     bool // credentials issued in this session wait for download
	Flash       string
	FlashErr    bool
}

// showFleetDevice: /admin/devices/{name}, its placement, attributes and
// credentials, with the actions on them.
func (f *fleet) showFleetDevice(w http.ResponseWriter, r *http.Request) {
	sc := f.scope(r)
	dv, err := sc.Device(chi.URLParam(r, "name"))
	if err != nil {
		f.fail(w, r, err)
		return
	}
	d := fleetDeviceData{Device: dv, Firmware: f.row(sc, dv).Firmware}
	for _, k := range slices.Sorted(maps.Keys(dv.Attributes)) {
		d.Attributes = append(d.Attributes, [2]string{k, dv.Attributes[k]})
	}
	for _, c := range dv.Credentials {
		d.Credentials = append(d.Credentials, fleetCredentialRow{Credential: c, Active: c.Active()})
	}
	// Newest first: the ones in use are at the top.
	slices.Reverse(d.Credentials)
	_, _, d.Pending = f.issuedFor(r.Context(), dv.Name)
	d.Flash, d.FlashErr = f.flashed(r)
	f.render(w, r, http.StatusOK, fleetDevicePage(f.view(r), d))
}

// device loads the device a credentials or delete route names; false when
// it has answered (404 or a fault).
func (f *fleet) device(w http.ResponseWriter, r *http.Request) (gate.DeviceView, bool) {
	d, err := f.scope(r).Device(chi.URLParam(r, "name"))
	if err != nil {
		f.fail(w, r, err)
		return gate.DeviceView{}, false
	}
	return d, true
}

func (f *fleet) confirmDeleteDevice(w http.ResponseWriter, r *http.Request) {
	d, ok := f.device(w, r)
	if !ok {
		return
	}
	v := f.view(r)
	path := fleetDevicePath(d.Name)
	f.render(w, r, http.StatusOK, fleetConfirmPage(v, fleetConfirmData{
		Title: v.T("fleet.device.delete"), Question: v.T("fleet.device.confirm", d.Name),
		Action: path + "/delete", Button: v.T("fleet.delete"), Cancel: path,
	}))
}

func (f *fleet) deleteDevice(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	name := chi.URLParam(r, "name")
	if err := f.scope(r).DeleteDevice(name); err != nil {
		f.refuseChange(w, r, err, fleetDevicePath(name), "fleet.not_deleted")
		return
	}
	f.redirect(w, r, "/admin/devices", v.T("fleet.device.deleted", name))
}
