package ui

import (
	"cmp"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// reading is one latest value as a page shows it.
type reading struct {
	Metric string
	Label  string
	Value  string
	Unit   string
	Band   string // good, fair, poor or ""
	At     string
}

// siteCard is one site on the overview.
type siteCard struct {
	Customer, Name, Title string
	Devices, Online       int
	Offline               []string // names of offline devices
	Readings              []reading
	// Attention lists the devices needing a look, each with why.
	Attention []attention
	// ActiveAlarms counts the site's active alarms, listed at AlarmsURL.
	ActiveAlarms int
	AlarmsURL    string
}

// attention is a device on a site card that needs a look.
type attention struct {
	Device, Why string
}

// deviceRow is one device of a site page.
type deviceRow struct {
	Name, Type string
	Online     bool
	Known      bool // the device connected at least once
	LastSeen   string
	Readings   []reading
}

// readings are d's latest values as its type presents them, at most max
// (0: all), the ones the reader may not see left out.
func (u *UI) readings(v view, sc gate.Scope, d gate.DeviceView, max int) []reading {
	latest, err := sc.LatestOf(d)
	if err != nil {
		u.logger.Warn("cannot read latest values", "device", d.Name, "error", err)
		return nil
	}
	pr := u.presenter(v, sc, d)
	out := make([]reading, 0, len(latest))
	for _, l := range latest {
		if pr.hidden(l.Metric) {
			continue
		}
		r := pr.reading(l.Metric, l.Value, formatValue)
		r.At = v.Time(unixMilli(l.Timestamp))
		out = append(out, r)
	}
	// Known readings first, in their order, then the others by name.
	slices.SortStableFunc(out, func(a, b reading) int {
		ka, kb := knownMetrics[a.Metric].Key, knownMetrics[b.Metric].Key
		switch {
		case ka != 0 && kb != 0:
			return cmp.Compare(ka, kb)
		case ka != 0:
			return -1
		case kb != 0:
			return 1
		}
		return cmp.Compare(a.Metric, b.Metric)
	})
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// showOverview: every site the person may see, as a card with its devices'
// state, key readings and what needs attention: its active alarms, and
// the devices offline or out of their good range. The cards are live.
func (u *UI) showOverview(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	cards, _, err := u.overviewCards(v, u.scope(r))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, overviewPage(v, cards))
}

// overviewLive is the overview's live part: its cards.
func (u *UI) overviewLive(r *http.Request) (templ.Component, liveWatch, error) {
	v := u.view(r)
	cards, watch, err := u.overviewCards(v, u.scope(r))
	if err != nil {
		return nil, watch, err
	}
	return overviewCardsLive(v, cards), watch, nil
}

// overviewCards are the overview's site cards, and which devices they show.
func (u *UI) overviewCards(v view, sc gate.Scope) ([]siteCard, liveWatch, error) {
	watch := liveWatch{all: v.Operator}
	sites, err := sc.Sites("")
	if err != nil {
		return nil, watch, err
	}
	devices, err := sc.Devices("", "")
	if err != nil {
		return nil, watch, err
	}
	bySite := map[[2]string][]gate.DeviceView{}
	for _, d := range devices {
		k := [2]string{d.Customer, d.Site}
		bySite[k] = append(bySite[k], d)
		if !watch.all {
			watch.devices = append(watch.devices, d.Name)
		}
	}
	alarms := u.siteAlarms(sc)
	cards := make([]siteCard, 0, len(sites))
	var empty []siteCard
	for _, s := range sites {
		c := siteCard{Customer: s.Customer, Name: s.Name, Title: siteTitle(s, v.Operator),
			ActiveAlarms: alarms[[2]string{s.Customer, s.Name}], AlarmsURL: siteAlarmsPath(v.Operator, s.Customer, s.Name)}
		u.summarise(v, sc, &c, bySite[[2]string{s.Customer, s.Name}])
		if c.Devices == 0 {
			empty = append(empty, c)
			continue
		}
		cards = append(cards, c)
	}
	// A site without devices (a customer's default site, say) is noise
	// beside ones with devices; alone, it says where devices will show.
	if len(cards) == 0 {
		cards = empty
	}
	return cards, watch, nil
}

// summarise fills a site card from its devices' state and latest values:
// the highest CO2 of its rooms, the rooms' average temperature and
// humidity, and its chillers' supply water (chilled, or hot when heating);
// and what needs attention: a device offline, a room whose CO2 is in the
// poor band, a fault.
func (u *UI) summarise(v view, sc gate.Scope, c *siteCard, devices []gate.DeviceView) {
	var (
		co2Max, co2Dev = math.Inf(-1), ""
		co2Rooms       int
		temp, hum      []float64
		chw, hw        []float64
		others         []reading
	)
	for _, d := range devices {
		c.Devices++
		if d.Presence.Online {
			c.Online++
		} else {
			c.Offline = append(c.Offline, d.Name)
			c.Attention = append(c.Attention, attention{d.Name, v.T("site.why.offline")})
		}
		latest, err := sc.LatestOf(d)
		if err != nil {
			u.logger.Warn("cannot read latest values", "device", d.Name, "error", err)
			continue
		}
		values := map[string]float64{}
		for _, l := range latest {
			values[l.Metric] = l.Value
		}
		pr := u.presenter(v, sc, d)
		pr.visible(values)
		if co2, ok := values["co2_ppm"]; ok {
			co2Rooms++
			if co2 > co2Max {
				co2Max, co2Dev = co2, d.Name
			}
			if co2Band(co2) == "poor" {
				c.Attention = append(c.Attention, attention{d.Name, v.T("site.why.co2", formatValue(co2))})
			}
		}
		if t, ok := values["temperature_c"]; ok {
			temp = append(temp, t)
		}
		if h, ok := values["humidity_pct"]; ok {
			hum = append(hum, h)
		}
		if f, ok := values["fault"]; ok && f != 0 {
			c.Attention = append(c.Attention, attention{d.Name, v.T("site.why.fault", pr.reading("fault", f, formatValue).Value)})
		}
		if x, ok := values["chw_supply_c"]; ok {
			// Each machine counts with the water of the mode it runs in.
			if h, hot := values["hw_supply_c"]; hot && u.heating(sc, d, values) {
				hw = append(hw, h)
			} else {
				chw = append(chw, x)
			}
		}
		if len(values) > 0 && len(others) < 3 && !slices.ContainsFunc([]string{"co2_ppm", "chw_supply_c"}, func(m string) bool { _, ok := values[m]; return ok }) {
			others = append(others, u.readings(v, sc, d, 3-len(others))...)
		}
	}
	add := func(metric, label string, val float64) {
		c.Readings = append(c.Readings, reading{Metric: metric, Label: label, Value: formatValue(math.Round(val*10) / 10),
			Unit: metricUnit(metric), Band: metricBand(metric, val)})
	}
	if co2Dev != "" {
		label := metricLabel(v.Lang, "co2_ppm")
		if co2Rooms > 1 {
			label = v.T("site.highest", label)
		}
		add("co2_ppm", label, co2Max)
	}
	avg := func(metric string, xs []float64) {
		if len(xs) == 0 {
			return
		}
		label := metricLabel(v.Lang, metric)
		if len(xs) > 1 {
			label = v.T("site.average", label)
		}
		add(metric, label, mean(xs))
	}
	avg("temperature_c", temp)
	avg("humidity_pct", hum)
	avg("chw_supply_c", chw)
	avg("hw_supply_c", hw)
	if len(c.Readings) == 0 {
		c.Readings = others
	}
}

// deviceReadings are a device's readings as its site's table shows them.
// A chiller-heater shows what its operator looks at: the supply and return
// water of the mode it runs in and their difference, the mode, the
// set-point in effect, the load, whether it runs, and a fault when it has
// one. Other devices show all their readings.
func (u *UI) deviceReadings(v view, sc gate.Scope, d gate.DeviceView) []reading {
	latest, err := sc.LatestOf(d)
	if err != nil {
		u.logger.Warn("cannot read latest values", "device", d.Name, "error", err)
		return nil
	}
	values := map[string]float64{}
	for _, l := range latest {
		values[l.Metric] = l.Value
	}
	pr := u.presenter(v, sc, d)
	pr.visible(values)
	if _, ok := values["chw_supply_c"]; !ok {
		return u.readings(v, sc, d, 0)
	}
	mode := reportedMode(sc, d)
	heating := heatingFrom(mode, values)
	var out []reading
	add := func(metric string, val float64) {
		r := pr.reading(metric, val, roundTenth)
		r.Band = ""
		out = append(out, r)
	}
	supply, ret, setpoint := "chw_supply_c", "chw_return_c", "chw_setpoint_c"
	if heating {
		supply, ret, setpoint = "hw_supply_c", "hw_return_c", "hw_setpoint_c"
	}
	for _, m := range []string{supply, ret} {
		if x, ok := values[m]; ok {
			add(m, x)
		}
	}
	if s, ok := values[supply]; ok {
		if r, ok := values[ret]; ok {
			out = append(out, reading{Metric: "delta_t", Label: v.T("site.delta_t"), Value: formatValue(math.Round(math.Abs(r-s)*10) / 10), Unit: "K"})
		}
	}
	if mode != "" {
		label := mode
		if messages.has("mode." + mode) {
			label = v.T("mode." + mode)
		}
		out = append(out, reading{Metric: "mode", Label: v.T("site.mode"), Value: label})
	}
	if x, ok := values[setpoint]; ok {
		add(setpoint, x)
	}
	if x, ok := values["load_pct"]; ok {
		add("load_pct", x)
	}
	if x, ok := values["running"]; ok {
		label, ok := pr.state("running", x)
		if !ok {
			label = v.T("site.stopped")
			if x != 0 {
				label = v.T("site.running")
			}
		}
		out = append(out, reading{Metric: "running", Label: v.T("site.state"), Value: label})
	}
	if x, ok := values["fault"]; ok && x != 0 {
		r := pr.reading("fault", x, formatValue)
		r.Band = "poor"
		out = append(out, r)
	}
	return out
}

// reportedMode is the mode a device reports in its shadow, "" when none.
func reportedMode(sc gate.Scope, d gate.DeviceView) string {
	doc, _, err := sc.Shadow(d.Name, "")
	if err != nil {
		return ""
	}
	mode, _ := doc.State.Reported["mode"].(string)
	return mode
}

// heating tells whether a chiller-heater runs in heating mode: as it
// reports, or, for one that reports no mode, from its hot water being far
// warmer than its chilled water.
func (u *UI) heating(sc gate.Scope, d gate.DeviceView, values map[string]float64) bool {
	return heatingFrom(reportedMode(sc, d), values)
}

func heatingFrom(mode string, values map[string]float64) bool {
	if mode != "" {
		return mode == "heating"
	}
	return values["hw_supply_c"] > values["chw_supply_c"]+15
}

func mean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

func siteTitle(s store.Site, operator bool) string {
	name := s.DisplayName
	if name == "" {
		name = s.Name
	}
	if operator {
		return s.Customer + " / " + name
	}
	return name
}

// showSite: the devices of one site with their state and readings, live.
func (u *UI) showSite(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	customer, site := chi.URLParam(r, "customer"), chi.URLParam(r, "site")
	head, rows, err := u.siteRows(v, u.scope(r), customer, site)
	if err != nil {
		u.failLive(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, sitePage(v, head, livePath(r), rows))
}

// siteLive is a site page's live part: its table of devices.
func (u *UI) siteLive(r *http.Request) (templ.Component, liveWatch, error) {
	v := u.view(r)
	_, rows, err := u.siteRows(v, u.scope(r), chi.URLParam(r, "customer"), chi.URLParam(r, "site"))
	if err != nil {
		return nil, liveWatch{}, err
	}
	watch := liveWatch{}
	for _, d := range rows {
		watch.devices = append(watch.devices, d.Name)
	}
	return siteDevicesLive(v, r.URL.EscapedPath(), rows), watch, nil
}

// livePath is the live route of the page r asks for, escaped as the
// live route's own fragment names it.
func livePath(r *http.Request) string { return strings.TrimSuffix(r.URL.EscapedPath(), "/") + "/live" }

// errNoSite: the site asked for is not one the person may see. It is
// answered as a page that does not exist, without repeating its name.
var errNoSite = errors.New("no such site")

// siteRows are the head of a site's page and its devices' rows, their
// times in the site's zone; a site the person may not see is not found.
func (u *UI) siteRows(v view, sc gate.Scope, customer, site string) (siteHead, []deviceRow, error) {
	devices, err := sc.Devices(customer, site)
	if err != nil {
		return siteHead{}, nil, err
	}
	sites, err := sc.Sites(customer)
	if err != nil {
		return siteHead{}, nil, err
	}
	i := slices.IndexFunc(sites, func(s store.Site) bool { return s.Name == site })
	if i < 0 {
		return siteHead{}, nil, errNoSite
	}
	u.inSiteZone(&v, sites[i])
	rows := make([]deviceRow, 0, len(devices))
	for _, d := range devices {
		rows = append(rows, deviceRow{
			Name: d.Name, Type: d.Type, Online: d.Presence.Online, Known: !d.Presence.ConnectedAt.IsZero(),
			LastSeen: v.Time(d.Presence.LastSeen), Readings: u.deviceReadings(v, sc, d),
		})
	}
	return siteHead{Title: siteTitle(sites[i], v.Operator), Address: sites[i].Address, Zone: sites[i].TimeZone}, rows, nil
}

// siteHead is what a site page shows above its devices.
type siteHead struct {
	Title, Address string
	// Zone is the site's time zone, in which the page shows its times;
	// "" when the site has none and the reader's is used.
	Zone string
}

// inSiteZone makes v show times in the site's time zone, when it has
// one: the people of a building read its times as its clocks show them.
func (u *UI) inSiteZone(v *view, s store.Site) {
	if s.TimeZone == "" {
		return
	}
	if loc, err := u.location(s.TimeZone); err == nil {
		v.loc = loc
	}
}

// inDeviceSiteZone is inSiteZone for the site of device d.
func (u *UI) inDeviceSiteZone(v *view, sc gate.Scope, d gate.DeviceView) {
	if s, err := sc.Site(d.Customer, d.Site); err == nil {
		u.inSiteZone(v, s)
	}
}
