package ui

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hearthiot/hearth/store"
)

// configHistoryRows is the page size of the fleet's history.
const configHistoryRows = 50

// configHistoryRow is one change on the fleet's history page.
type configHistoryRow struct {
	When, Device, Shadow, Actor, Channel string
	Version                              int64
	Changes                              []historyLine
	Flags                                []string
}

// configHistoryData is what the fleet's history page shows: the filter as
// typed, the entries, and the address of the next page.
type configHistoryData struct {
	Device, Actor, From, To string
	Rows                    []configHistoryRow
	Next                    string
	Error                   string
}

// historyTime reads a datetime-local filter in the page's time zone, the
// zone its times are shown in; the zero time when it is empty, and ok
// false when it is not a date and time.
func historyTime(v view, s string) (t time.Time, ok bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", s, v.loc)
	return t, err == nil
}

// showHistory: /admin/history, the shadow history of the whole fleet,
// newest first, filtered by device, actor and time (from inclusive, to
// exclusive), a page at a time.
func (c *config) showHistory(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	q := r.URL.Query()
	d := configHistoryData{
		Device: strings.TrimSpace(q.Get("device")), Actor: strings.TrimSpace(q.Get("actor")),
		From: q.Get("from"), To: q.Get("to"),
	}
	from, okFrom := historyTime(v, d.From)
	to, okTo := historyTime(v, d.To)
	switch {
	case !okFrom:
		d.Error = v.T("config.history.bad_time", v.T("config.history.from"), d.From)
	case !okTo:
		d.Error = v.T("config.history.bad_time", v.T("config.history.to"), d.To)
	}
	if d.Error != "" {
		c.render(w, r, http.StatusBadRequest, configHistoryPage(v, d))
		return
	}
	entries, next, err := c.scope(r).FleetHistory(store.HistoryQuery{
		Device: d.Device, Actor: d.Actor, From: from, To: to, Cursor: q.Get("cursor"), Limit: configHistoryRows,
	})
	if err != nil {
		status, msg, ok := c.refusal(w, r, err)
		if !ok {
			return
		}
		d.Error = msg
		c.render(w, r, status, configHistoryPage(v, d))
		return
	}
	words := newHistoryWords(v, c.scope(r), entries, false)
	for _, e := range entries {
		// An update that changed nothing (a device reporting again what
		// it holds) is left out.
		if !shown(e) {
			continue
		}
		row := configHistoryRow{
			When: v.Time(e.Time), Device: e.Device, Shadow: e.Shadow, Actor: e.Actor, Channel: e.Channel, Version: e.Version,
			Changes: words.lines(e),
		}
		for _, f := range e.Flags {
			row.Flags = append(row.Flags, f.Message)
		}
		d.Rows = append(d.Rows, row)
	}
	if next != "" {
		d.Next = "/admin/history?" + url.Values{
			"device": {d.Device}, "actor": {d.Actor}, "from": {d.From}, "to": {d.To}, "cursor": {next},
		}.Encode()
	}
	c.render(w, r, http.StatusOK, configHistoryPage(v, d))
}

// configHistoryLink is the history page filtered by one field: what a
// click on a device or an actor in the table means.
func configHistoryLink(field, value string) string {
	return "/admin/history?" + url.Values{field: {value}}.Encode()
}
