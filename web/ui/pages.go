package ui

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/api"
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
}

// deviceRow is one device of a site page.
type deviceRow struct {
	Name, Type string
	Online     bool
	Known      bool // the device connected at least once
	LastSeen   string
	Readings   []reading
}

func (u *UI) readings(v view, sc api.Scope, name string, max int) []reading {
	latest, err := sc.Latest(name)
	if err != nil {
		u.logger.Warn("cannot read latest values", "device", name, "error", err)
		return nil
	}
	out := make([]reading, 0, len(latest))
	for _, l := range latest {
		out = append(out, reading{
			Metric: l.Metric, Label: metricLabel(v.Lang, l.Metric), Value: formatValue(l.Value),
			Unit: metricUnit(l.Metric), Band: metricBand(l.Metric, l.Value), At: v.Time(unixMilli(l.Timestamp)),
		})
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
// state, key readings and what needs attention.
func (u *UI) showOverview(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	sc := u.scope(r)
	sites, err := sc.Sites("")
	if err != nil {
		u.fail(w, r, err)
		return
	}
	devices, err := sc.Devices("", "")
	if err != nil {
		u.fail(w, r, err)
		return
	}
	bySite := map[[2]string][]api.DeviceView{}
	for _, d := range devices {
		k := [2]string{d.Customer, d.Site}
		bySite[k] = append(bySite[k], d)
	}
	cards := make([]siteCard, 0, len(sites))
	for _, s := range sites {
		c := siteCard{Customer: s.Customer, Name: s.Name, Title: siteTitle(s, v.Operator)}
		for _, d := range bySite[[2]string{s.Customer, s.Name}] {
			c.Devices++
			if d.Presence.Online {
				c.Online++
			} else {
				c.Offline = append(c.Offline, d.Name)
			}
			if len(c.Readings) < 3 {
				c.Readings = append(c.Readings, u.readings(v, sc, d.Name, 3-len(c.Readings))...)
			}
		}
		cards = append(cards, c)
	}
	u.render(w, r, http.StatusOK, overviewPage(v, cards))
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

// showSite: the devices of one site with their state and readings.
func (u *UI) showSite(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	sc := u.scope(r)
	customer, site := chi.URLParam(r, "customer"), chi.URLParam(r, "site")
	devices, err := sc.Devices(customer, site)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	sites, err := sc.Sites(customer)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	i := slices.IndexFunc(sites, func(s store.Site) bool { return s.Name == site })
	if i < 0 {
		u.notFound(w, r)
		return
	}
	rows := make([]deviceRow, 0, len(devices))
	for _, d := range devices {
		rows = append(rows, deviceRow{
			Name: d.Name, Type: d.Type, Online: d.Presence.Online, Known: !d.Presence.ConnectedAt.IsZero(),
			LastSeen: v.Time(d.Presence.LastSeen), Readings: u.readings(v, sc, d.Name, 0),
		})
	}
	u.render(w, r, http.StatusOK, sitePage(v, siteTitle(sites[i], v.Operator), rows))
}
