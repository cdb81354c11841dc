package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// A site's energy-saving strategies: which it runs, which of its devices
// decide for themselves, and what the strategies changed and when.
// Everyone who sees the site reads the page; operators who may change
// settings switch strategies from it.

// strategyChangesShown is how many changes the page lists.
const strategyChangesShown = 100

func (u *UI) strategyRoutes(r chi.Router) {
	r.Get("/sites/{customer}/{site}/strategies", u.showStrategies)
	r.Post("/sites/{customer}/{site}/strategies/{strategy}", u.switchStrategy)
}

// strategiesPath is a site's strategies page, of one device when dev is
// set.
func strategiesPath(customer, site, dev string) string {
	p := "/sites/" + url.PathEscape(customer) + "/" + url.PathEscape(site) + "/strategies"
	if dev != "" {
		p += "?device=" + url.QueryEscape(dev)
	}
	return p
}

// strategyRow is one strategy of the page.
type strategyRow struct {
	Name, Label, About string
	On                 bool
	Devices            []gate.DeviceStrategy
}

// strategyChangeRow is one change of the page.
type strategyChangeRow struct {
	At, Device, DevicePath, Strategy string
	Action, ActionLabel              string
	Key, From, To, Reason, By        string
}

type strategiesData struct {
	Title, Customer, Site, Device string
	Path                          string
	Rows                          []strategyRow
	Changes                       []strategyChangeRow
	CanSwitch                     bool
	Devices                       []string
	Flash                         string
	FlashErr                      bool
}

func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// showStrategies: /sites/{customer}/{site}/strategies[?device=NAME].
func (u *UI) showStrategies(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	sc := u.scope(r)
	customer, site := chi.URLParam(r, "customer"), chi.URLParam(r, "site")
	st, err := sc.Site(customer, site)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.inSiteZone(&v, st)
	list, err := sc.SiteStrategies(customer, site)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	devices, err := sc.Devices(customer, site)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := strategiesData{Title: st.Name, Customer: customer, Site: site, Device: r.URL.Query().Get("device")}
	if st.DisplayName != "" {
		d.Title = st.DisplayName
	}
	for _, dv := range devices {
		d.Devices = append(d.Devices, dv.Name)
	}
	if d.Device != "" && !slices.Contains(d.Devices, d.Device) {
		u.fail(w, r, badRequest(v.T("strategy.bad_device", d.Device)))
		return
	}
	d.Path = strategiesPath(customer, site, d.Device)
	for _, s := range list {
		d.Rows = append(d.Rows, strategyRow{Name: s.Name, Label: v.T("strategy.name." + s.Name), About: v.T("strategy.about." + s.Name), On: s.Enabled, Devices: s.Devices})
	}
	changes, err := sc.SiteStrategyChanges(customer, site, d.Device, time.Time{}, strategyChangesShown)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d.Changes = strategyChangeRows(v, changes)
	d.CanSwitch = sc.Principal().Operator() && sc.Principal().MayChangeSettings()
	d.Flash, d.FlashErr = u.flashed(r)
	u.render(w, r, http.StatusOK, strategiesPage(v, d))
}

func strategyChangeRows(v view, cs []store.StrategyChange) []strategyChangeRow {
	out := make([]strategyChangeRow, 0, len(cs))
	for _, c := range cs {
		out = append(out, strategyChangeRow{
			At: v.Time(c.At), Device: c.Device, DevicePath: "/devices/" + url.PathEscape(c.Device),
			Strategy: v.T("strategy.name." + c.Strategy), Action: c.Action, ActionLabel: v.T("strategy.action." + c.Action),
			Key: c.Key, From: jsonText(c.From), To: jsonText(c.To), Reason: c.Reason, By: c.By,
		})
	}
	return out
}

// switchStrategy switches a strategy on ("enabled" on) or off for the
// site, or for its "device"; "device" with "enabled" inherit removes the
// device's own setting. It returns to the page with what was done.
func (u *UI) switchStrategy(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	sc := u.scope(r)
	customer, site, name := chi.URLParam(r, "customer"), chi.URLParam(r, "site"), chi.URLParam(r, "strategy")
	dev := r.PostFormValue("device")
	back := strategiesPath(customer, site, "")
	if _, err := sc.Site(customer, site); err != nil {
		u.fail(w, r, err)
		return
	}
	var err error
	switch on := r.PostFormValue("enabled"); on {
	case "on", "off":
		_, err = sc.SetStrategy(customer, site, name, dev, on == "on")
	case "inherit":
		err = sc.DeleteDeviceStrategy(customer, site, name, dev)
	default:
		u.fail(w, r, badRequest(v.T("strategy.bad_enabled", on)))
		return
	}
	if err != nil {
		if _, msg, ok := u.refusal(w, r, err); ok {
			u.sessions.Put(r.Context(), keyFlash, "!"+v.T("strategy.not_switched", msg))
			http.Redirect(w, r, back, http.StatusSeeOther)
		}
		return
	}
	target := site
	if dev != "" {
		target = dev
	}
	key := map[string]string{"on": "strategy.switched_on", "off": "strategy.switched_off", "inherit": "strategy.switched_inherit"}[r.PostFormValue("enabled")]
	u.sessions.Put(r.Context(), keyFlash, v.T(key, v.T("strategy.name."+name), target))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// urlPath escapes one path segment.
func urlPath(s string) string { return url.PathEscape(s) }

// onOff is a switch's state as a data attribute.
func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
