package ui

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hearthiot/hearth/gate"
)

// The stale threshold of the fleet health page: its default and bounds.
const (
	defaultStale = time.Hour
	minStale     = time.Minute
	maxStale     = 366 * 24 * time.Hour
)

type fleetHealthCustomer struct {
	Name                   string
	Total, Online, Offline int
}

// fleetHealthData is what the fleet health page shows.
type fleetHealthData struct {
	Stale                  string // the threshold as asked for
	Total, Online, Offline int
	Customers              []fleetHealthCustomer
	StaleRows              []fleetDeviceRow
	StaleTotal             int
	// RemoteWrite is each remote write receiver's progress; empty when
	// none is configured, and the page then has no such part.
	RemoteWrite []gate.RemoteWriteStatus
}

// parseStale reads the stale threshold: a Go duration (90m, 24h) or whole
// days (7d).
func parseStale(s string) (time.Duration, bool) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, false
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, false
		}
	}
	return d, d >= minStale && d <= maxStale
}

// showHealth: /admin/health[?stale=24h], the connection state of the whole
// fleet and of each customer, and the devices not seen for longer than the
// threshold (default 1 h), longest silent first; devices never seen lead.
func (f *fleet) showHealth(w http.ResponseWriter, r *http.Request) {
	v := f.view(r)
	sc := f.scope(r)
	d := fleetHealthData{Stale: strings.TrimSpace(r.URL.Query().Get("stale"))}
	stale := defaultStale
	if d.Stale == "" {
		d.Stale = "1h"
	} else if s, ok := parseStale(d.Stale); ok {
		stale = s
	} else {
		f.fail(w, r, badRequest(v.T("fleet.health.bad_stale", d.Stale)))
		return
	}
	customers, err := sc.Customers()
	if err != nil {
		f.fail(w, r, err)
		return
	}
	devices, err := sc.Devices("", "")
	if err != nil {
		f.fail(w, r, err)
		return
	}
	d.Customers = make([]fleetHealthCustomer, len(customers))
	by := make(map[string]*fleetHealthCustomer, len(customers))
	for i, c := range customers {
		d.Customers[i].Name = c.Name
		by[c.Name] = &d.Customers[i]
	}
	cutoff := f.now().Add(-stale)
	var silent []gate.DeviceView
	for _, dv := range devices {
		// Every device has a customer (the store refuses deleting one
		// that has devices); a missing one only goes uncounted by customer.
		c := by[dv.Customer]
		if c == nil {
			c = &fleetHealthCustomer{}
		}
		d.Total++
		c.Total++
		if dv.Presence.Online {
			d.Online++
			c.Online++
		} else {
			d.Offline++
			c.Offline++
		}
		if dv.Presence.LastSeen.Before(cutoff) {
			silent = append(silent, dv)
		}
	}
	slices.SortFunc(silent, func(a, b gate.DeviceView) int {
		return cmp.Or(a.Presence.LastSeen.Compare(b.Presence.LastSeen), cmp.Compare(a.Name, b.Name))
	})
	if d.RemoteWrite, err = sc.RemoteWriteStatus(); err != nil {
		f.fail(w, r, err)
		return
	}
	d.StaleTotal = len(silent)
	for _, dv := range silent[:min(len(silent), maxFleetRows)] {
		d.StaleRows = append(d.StaleRows, f.row(sc, dv))
	}
	f.render(w, r, http.StatusOK, fleetHealthPage(v, d))
}

// remoteWriteLag says how far behind a receiver is, for people.
func remoteWriteLag(v view, st gate.RemoteWriteStatus) string {
	switch {
	case st.LagSamples < 0:
		return v.T("fleet.health.rw_counting")
	case st.LagSamples == 0:
		return v.T("fleet.health.rw_no_lag")
	}
	return v.T("fleet.health.rw_lag", strconv.FormatInt(st.LagSamples, 10), (time.Duration(st.LagSeconds) * time.Second).String())
}

// remoteWriteBacklog is the disk a receiver holds of its budget.
func remoteWriteBacklog(st gate.RemoteWriteStatus) string {
	return formatBytes(st.BacklogBytes) + " / " + formatBytes(st.MaxBacklog)
}

// remoteWriteStateKeys are the message keys of a receiver's states.
var remoteWriteStateKeys = map[string]string{
	"caught up": "fleet.health.rw_state_caught_up",
	"sending":   "fleet.health.rw_state_sending",
	"retrying":  "fleet.health.rw_state_retrying",
}

// remoteWriteState is a receiver's state in the reader's language.
func remoteWriteState(v view, state string) string {
	if k, ok := remoteWriteStateKeys[state]; ok {
		return v.T(k)
	}
	return state
}
