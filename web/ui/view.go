package ui

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// view is what every page template needs: the language, who is signed in,
// the time zone and the asset URLs.
type view struct {
	Lang     string
	User     string
	Operator bool
	// TeamAdmin: a customer's admin, who manages its customer's users
	// and API tokens.
	TeamAdmin bool
	Path      string
	loc       *time.Location
	assets    Assets
	// alarms counts the alarms the navigation's badge shows, once a page,
	// when the layout asks.
	alarms *alarmBadge
}

func (u *UI) view(r *http.Request) view {
	v := view{Lang: lang("", r), Path: r.URL.Path, loc: u.loc, assets: u.assets}
	if a, ok := u.account(r); ok {
		v.User, v.Operator = a.User, a.Operator()
		v.TeamAdmin = !a.Operator() && a.Level() == store.AccessAdmin
		v.alarms = &alarmBadge{count: func() int { return u.activeAlarms(r) }}
		v.Lang = lang(a.Language, r)
		if a.TimeZone != "" {
			if loc, err := u.location(a.TimeZone); err == nil {
				v.loc = loc
			}
		}
	}
	return v
}

// location loads a time zone once and keeps it: pages ask on every
// request, and parsing the zone data each time would be waste.
func (u *UI) location(name string) (*time.Location, error) {
	if l, ok := u.zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	u.zones.Store(name, loc)
	return loc, nil
}

// T is the message key in the page's language.
func (v view) T(key string, args ...any) string { return t(v.Lang, key, args...) }

// Asset is the content-hashed URL of an embedded file.
func (v view) Asset(name string) string { return v.assets.URL(name) }

// Time writes t in the page's time zone.
func (v view) Time(ts time.Time) string {
	if ts.IsZero() {
		return "—"
	}
	return ts.In(v.loc).Format("2006-01-02 15:04:05")
}

// ActiveAlarms is how many alarms the reader may see are active and not
// acknowledged, for the navigation's badge; 0 on a page without a reader.
func (v view) ActiveAlarms() int {
	if v.alarms == nil {
		return 0
	}
	v.alarms.once.Do(func() { v.alarms.n = v.alarms.count() })
	return v.alarms.n
}

// Zone is the name of the page's time zone.
func (v view) Zone() string { return v.loc.String() }

// render writes a page; a template that fails is logged and answered 500
// before anything was sent.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		if clientGone(r) {
			u.logger.Debug("page not sent: the client is gone", "path", r.URL.Path, "error", err)
			return
		}
		u.fail(w, r, fmt.Errorf("render %s: %w", r.URL.Path, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorStatus is the HTTP status and message an error is answered with,
// as the gate describes it for every channel; a fault the person did not
// cause gets a generic message and is logged with its detail.
func (u *UI) errorStatus(r *http.Request, err error) (int, string) {
	p := gate.Describe(err)
	switch {
	case p.Internal && clientGone(r):
		u.logger.Debug("request ended: the client is gone", "method", r.Method, "path", r.URL.Path, "error", err)
	case p.Internal:
		u.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	case p.Warn:
		u.logger.Warn("request refused", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	return p.Kind.Status(), p.Message
}

// fail answers an error the way the API would classify it: a record that
// does not exist (or is another customer's) is a 404 page, a server fault
// a 500 page with a generic text, logged.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := u.errorStatus(r, err)
	u.errorPage(w, r, err, status, msg)
}

// refusal reads an error of a change the way the API answers it: ok with
// the status and message when the person can act on it from the form
// they sent (400, 409, 413); anything else it has answered as fail does,
// once, so that the API's mapping logs a fault once.
func (u *UI) refusal(w http.ResponseWriter, r *http.Request, err error) (int, string, bool) {
	status, msg := u.errorStatus(r, err)
	switch status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
		// The store's sentinel ends its messages with ": invalid", which
		// the page's "Not saved: …" already says.
		return status, strings.TrimSuffix(msg, ": "+store.ErrInvalid.Error()), true
	}
	u.errorPage(w, r, err, status, msg)
	return 0, "", false
}

// flashed takes the message a redirect left for the page; a leading "!"
// marks an error.
func (u *UI) flashed(r *http.Request) (msg string, isErr bool) {
	msg = u.sessions.PopString(r.Context(), keyFlash)
	return strings.TrimPrefix(msg, "!"), strings.HasPrefix(msg, "!")
}

// errorPage answers the error page for status; a 404 says only that the
// page is not there.
func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, err error, status int, msg string) {
	v := u.view(r)
	if status == http.StatusNotFound {
		msg = v.T("error.notfound")
	}
	var buf bytes.Buffer
	if rerr := errorPage(v, status, msg).Render(r.Context(), &buf); rerr != nil {
		if clientGone(r) {
			u.logger.Debug("error page not sent: the client is gone", "path", r.URL.Path, "error", errors.Join(err, rerr))
			return
		}
		u.logger.Error("render error page", "error", errors.Join(err, rerr))
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// clientGone: the request ended on the client's side (it went away, or
// the server gave up reading its body), so nothing can be answered and
// nothing went wrong here that an operator should see.
func clientGone(r *http.Request) bool { return r.Context().Err() != nil }

func (u *UI) notFound(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	u.render(w, r, http.StatusNotFound, errorPage(v, http.StatusNotFound, v.T("error.notfound")))
}

// formatValue writes a reading without noise: at most 3 decimals, no
// trailing zeros.
func formatValue(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "—"
	}
	s := strconv.FormatFloat(f, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// current marks the link of the page or range being shown, for assistive
// technology and the stylesheet: aria-current="page" or "true".
func current(on bool, value string) templ.Attributes {
	if !on {
		return templ.Attributes{}
	}
	return templ.Attributes{"aria-current": value}
}

// adminLinks are the operator pages in the navigation.
var adminLinks = []struct{ Path, Key string }{
	{"/admin/devices", "nav.devices"},
	{"/admin/customers", "nav.customers"},
	{"/admin/alarms", "nav.alarms"},
	{"/admin/calendars", "nav.calendars"},
	{"/admin/jobs", "nav.jobs"},
	{"/admin/message-rules", "nav.message_rules"},
	{"/admin/health", "nav.health"},
	{"/admin/history", "nav.history"},
	{"/admin/types", "nav.types"},
	{"/admin/artifacts", "nav.artifacts"},
	{"/admin/users", "nav.users"},
	{"/admin/tokens", "nav.tokens"},
	{"/admin/sso", "nav.sso"},
	{"/admin/audit", "nav.audit"},
}
