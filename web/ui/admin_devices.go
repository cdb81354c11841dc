package ui

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
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
	Name, DisplayName, Customer, Site, Type string
	Online, Known                           bool
	LastSeen                                time.Time
	Firmware                                string
}

// fleetDeviceForm is what the create form holds.
type fleetDeviceForm struct{ Name, DisplayName, Customer, Site, Type string }

// fleetDeviceFilter is what the device list is narrowed by, as its query
// string carries it.
type fleetDeviceFilter struct {
	Query, Customer, Site, Type, Online, Firmware string
}

// values is the filter as query arguments, the empty ones left out.
func (f fleetDeviceFilter) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"q", f.Query}, {"customer", f.Customer}, {"site", f.Site}, {"type", f.Type}, {"online", f.Online}, {"firmware", f.Firmware}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

// maxTrail bounds the cursors of earlier pages a device list's links
// carry back; past it, the first page is a click away.
const maxTrail = 20

// fleetDevicesData is what the device list shows.
type fleetDevicesData struct {
	Filter    fleetDeviceFilter
	Rows      []fleetDeviceRow
	Page      int
	NextURL   string // "" on the last page
	PrevURL   string // "" on the first, or when the trail was cut
	FirstURL  string // when not on the first page
	Customers []store.Customer
	Sites     []store.Site // of Filter.Customer
	Types     []store.DeviceType
	Flash     string
	FlashErr  bool
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
		Name: d.Name, DisplayName: d.DisplayName, Customer: d.Customer, Site: d.Site, Type: d.Type, Online: d.Presence.Online,
		Known: !d.Presence.ConnectedAt.IsZero(), LastSeen: d.Presence.LastSeen, Firmware: fw,
	}
}

// showDevices: /admin/devices[?q=&customer=&site=&type=&online=
// &firmware=&cursor=&trail=&page=], one page of the devices that match.
// trail holds the cursors of up to maxTrail pages before, so Previous
// needs no backwards reading.
func (f *fleet) showDevices(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	sc := f.scope(r)
	q := r.URL.Query()
	d := fleetDevicesData{Filter: fleetDeviceFilter{
		Query: strings.TrimSpace(q.Get("q")), Customer: q.Get("customer"), Site: q.Get("site"),
		Type: q.Get("type"), Online: q.Get("online"), Firmware: strings.TrimSpace(q.Get("firmware")),
	}}
	d.Flash, d.FlashErr = f.flashed(r)
	var online *bool
	if d.Filter.Online != "" {
		b, err := strconv.ParseBool(d.Filter.Online)
		if err != nil {
			f.fail(w, r, badRequest(v.T("fleet.bad_online", d.Filter.Online)))
			return
		}
		online = &b
	}
	if d.Filter.Site != "" && d.Filter.Customer == "" {
		d.Filter.Site = "" // a site is chosen among a customer's
	}
	cursor := q.Get("cursor")
	var trail []string
	if t := q.Get("trail"); t != "" {
		trail = strings.Split(t, ".")
	}
	d.Page, _ = strconv.Atoi(q.Get("page"))
	if cursor == "" || d.Page < 2 {
		d.Page, cursor, trail = 1, "", nil
	}
	page, err := sc.DevicePage(gate.DeviceListQuery{
		Customer: d.Filter.Customer, Site: d.Filter.Site, Type: d.Filter.Type, Search: d.Filter.Query,
		Online: online, Firmware: d.Filter.Firmware, Cursor: cursor,
	})
	if err != nil {
		f.fail(w, r, err)
		return
	}
	for _, dv := range page.Devices {
		d.Rows = append(d.Rows, f.row(sc, dv))
	}
	link := func(cursor string, trail []string, page int) string {
		vals := d.Filter.values()
		if cursor != "" {
			vals.Set("cursor", cursor)
			vals.Set("page", strconv.Itoa(page))
			if len(trail) > 0 {
				vals.Set("trail", strings.Join(trail, "."))
			}
		}
		if len(vals) == 0 {
			return "/admin/devices"
		}
		return "/admin/devices?" + vals.Encode()
	}
	if page.Next != "" {
		next := append(slices.Clone(trail), cursor)
		if cursor == "" {
			next = nil
		}
		d.NextURL = link(page.Next, next[max(0, len(next)-maxTrail):], d.Page+1)
	}
	if d.Page > 1 {
		d.FirstURL = link("", nil, 1)
		switch {
		case d.Page == 2:
			d.PrevURL = d.FirstURL
		case len(trail) > 0:
			d.PrevURL = link(trail[len(trail)-1], trail[:len(trail)-1], d.Page-1)
		}
	}
	if d.Customers, err = sc.Customers(); err != nil {
		f.fail(w, r, err)
		return
	}
	if d.Filter.Customer != "" {
		if d.Sites, err = sc.Sites(d.Filter.Customer); err != nil {
			f.fail(w, r, err)
			return
		}
	}
	d.Types, _ = sc.DeviceTypes() // without types the filter offers none
	f.render(w, r, http.StatusOK, fleetDevicesPage(v, d))
}

// fleetNewDeviceData is what the page that creates a device shows: the
// customers, the chosen customer's sites and the device types to pick.
type fleetNewDeviceData struct {
	Customers []store.Customer
	Sites     []store.Site
	Types     []store.DeviceType
	fleetOutcome[fleetDeviceForm]
}

// newDevicePage draws the create form with o; the sites are those of the
// customer the form holds.
func (f *fleet) newDevicePage(r *http.Request, o fleetOutcome[fleetDeviceForm]) (templ.Component, error) {
	sc := f.scope(r)
	d := fleetNewDeviceData{fleetOutcome: o}
	var err error
	if d.Customers, err = sc.Customers(); err != nil {
		return nil, err
	}
	if d.Form.Customer == "" && len(d.Customers) > 0 {
		d.Form.Customer = d.Customers[0].Name
	}
	if d.Form.Customer != "" {
		d.Sites, err = sc.Sites(d.Form.Customer)
		var ge *gate.Error
		if errors.As(err, &ge) && ge.Kind == gate.KindNotFound || errors.Is(err, store.ErrNotFound) {
			d.Sites, err = nil, nil // the form names a customer that is not there
		}
		if err != nil {
			return nil, err
		}
	}
	d.Types, _ = sc.DeviceTypes()
	return fleetNewDevicePage(f.view(r), d), nil
}

// showNewDevice: /admin/devices/new[?customer=], the form that creates a
// device with pickers; choosing a customer reloads its sites.
func (f *fleet) showNewDevice(w http.ResponseWriter, r *http.Request) {
	form := fleetDeviceForm{Customer: r.URL.Query().Get("customer"), Site: store.DefaultSite}
	showFormPage(f, w, r, form, f.newDevicePage)
}

// createDevice registers a device from the create form and sends the
// browser to its new credentials; a refusal shows the form again.
func (f *fleet) createDevice(w http.ResponseWriter, r *http.Request) {
	form := fleetDeviceForm{}
	for _, fv := range []struct {
		dst  *string
		name string
	}{{&form.Name, "name"}, {&form.DisplayName, "display_name"}, {&form.Customer, "customer"}, {&form.Site, "site"}, {&form.Type, "type"}} {
		*fv.dst = strings.TrimSpace(r.PostFormValue(fv.name))
	}
	is, err := f.scope(r).CreateDevice(device.DeviceSpec{Name: form.Name, DisplayName: form.DisplayName, Customer: form.Customer, Site: form.Site, Type: form.Type})
	if err != nil {
		refuseForm(f, w, r, err, form, f.newDevicePage)
		return
	}
	f.handOver(w, r, is)
}

// fleetImportData is what the bulk provisioning page shows: the problems
// of the file last sent, by line.
type fleetImportData struct {
	Error    string
	Problems []gate.BulkProblem
	Max      int
}

// showImportDevices: /admin/devices/import, the form that uploads a CSV
// file of devices.
func (f *fleet) showImportDevices(w http.ResponseWriter, r *http.Request) {
	f.render(w, r, http.StatusOK, fleetImportPage(f.view(r), fleetImportData{Max: gate.MaxBulkDevices}))
}

// importDevices creates the devices of an uploaded CSV file and answers
// the credentials of them all as one zip download; a file with any wrong
// line creates nothing and shows the form again with every such line.
func (f *fleet) importDevices(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	d := fleetImportData{Max: gate.MaxBulkDevices}
	data, err := readUpload(w, r, "file", gate.MaxBulkBytes)
	if err == nil {
		var issued []device.Issued
		issued, err = f.scope(r).CreateDevicesCSV(data)
		if err == nil {
			now := f.now()
			body, err := bulkCredentialsZip(issued, f.mqttAddr, now)
			if err != nil {
				f.fail(w, r, err)
				return
			}
			w.Header().Set("Content-Type", "application/zip")
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "devices-"+now.UTC().Format("20060102-150405")+"-credentials.zip"))
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
			return
		}
	}
	var refusal *gate.BulkRefusal
	status := http.StatusBadRequest
	switch {
	case errors.As(err, &refusal):
		d.Problems = refusal.Problems
		d.Error = v.T("fleet.devices.import_problems", len(d.Problems))
	default:
		var msg string
		var ok bool
		status, msg, ok = f.refusal(w, r, err)
		if !ok {
			return
		}
		d.Error = msg
	}
	f.render(w, r, status, fleetImportPage(v, d))
}

// readUpload reads the file of a multipart form's field, at most max
// bytes; a larger one is a 413 with the limit.
func readUpload(w http.ResponseWriter, r *http.Request, field string, max int64) ([]byte, error) {
	r.Body = http.MaxBytesReader(w, r.Body, max+64<<10) // room for the form's other parts
	file, _, err := r.FormFile(field)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, gate.Refuse(gate.KindTooLarge, "the file is larger than the %d bytes (2 MiB) accepted; split it", max)
	}
	if err != nil {
		return nil, gate.Invalid("choose a CSV file to upload")
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, max+1))
	if err != nil {
		return nil, gate.Invalid("the file could not be read: %v", err)
	}
	if int64(len(data)) > max {
		return nil, gate.Refuse(gate.KindTooLarge, "the file is larger than the %d bytes (2 MiB) accepted; split it", max)
	}
	return data, nil
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

// deviceLabel is what people call a device: its display name, else its
// name.
func deviceLabel(name, display string) string {
	if display != "" {
		return display
	}
	return name
}

// customerLabel names a customer in a picker: display name and name.
func customerLabel(c store.Customer) string {
	if c.DisplayName != "" && c.DisplayName != c.Name {
		return c.DisplayName + " (" + c.Name + ")"
	}
	return c.Name
}

// siteLabel names a site in a picker: display name and name.
func siteLabel(s store.Site) string {
	if s.DisplayName != "" && s.DisplayName != s.Name {
		return s.DisplayName + " (" + s.Name + ")"
	}
	return s.Name
}
