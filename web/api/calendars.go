package api

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// calendarRoutes registers the operating calendar routes under /api/v1.
func (a *API) calendarRoutes(r chi.Router) {
	r.Route("/calendars", func(r chi.Router) {
		r.Get("/", a.listCalendars)
		r.Post("/", a.copyCalendar)
		r.Route("/{id}", func(r chi.Router) {
			r.Get("/", a.showCalendar)
			r.Put("/", a.putCalendar)
			r.Delete("/", a.deleteCalendar)
			r.Get("/days", a.listCalendarDays)
			r.Get("/assignments", a.listAssignments)
			r.Post("/assignments", a.assignCalendar)
			r.Delete("/assignments/{kind}/{target}", a.unassignCalendar)
			r.Post("/push", a.pushCalendar)
			r.Get("/pushes", a.listCalendarPushes)
			r.Get("/closures.csv", a.exportCalendarCSV)
			r.Put("/closures.csv", a.importCalendarCSV)
			r.Get("/calendar.ics", a.exportCalendarICal)
			r.Post("/feed", a.calendarFeedLink)
		})
	})
	r.Get("/schedule/status", a.showPushStatus)
}

// calendarJSON is a calendar as the API shows it: the store's fields,
// without the secret of its feed address.
func calendarJSON(c store.Calendar) store.Calendar {
	c.FeedSecret = ""
	if c.DayTypes == nil {
		c.DayTypes = []store.CalendarDayType{}
	}
	return c
}

// listCalendars: GET /api/v1/calendars, a customer's own and the
// operators' templates it may copy.
func (a *API) listCalendars(w http.ResponseWriter, r *http.Request) {
	cs, err := a.scope(r).Calendars()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]store.Calendar, 0, len(cs))
	for _, c := range cs {
		out = append(out, calendarJSON(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"calendars": out})
}

// copyRequest is the body of POST /api/v1/calendars.
type copyRequest struct {
	CopyOf   string `json:"copy_of"`
	ID       string `json:"id"`
	Name     string `json:"name"`
	Customer string `json:"customer"`
}

// copyCalendar: POST /api/v1/calendars {"copy_of", "id", "name"?,
// "customer"?} copies a calendar (a template) to a customer's own.
func (a *API) copyCalendar(w http.ResponseWriter, r *http.Request) {
	var req copyRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.CopyOf == "" || req.ID == "" {
		a.writeError(w, r, gate.Invalid(`fields "copy_of" and "id" are required: the calendar to copy and the new one's id; create a calendar from scratch with PUT /api/v1/calendars/{id}`))
		return
	}
	c, err := a.scope(r).CopyCalendar(r.Context(), req.CopyOf, req.ID, req.Name, req.Customer)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, calendarJSON(c))
}

// showCalendar: GET /api/v1/calendars/{id}.
func (a *API) showCalendar(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	c, err := a.scope(r).Calendar(id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, calendarJSON(c))
}

// putCalendar: PUT /api/v1/calendars/{id} creates (201) or replaces (200)
// a calendar, checked whole first.
func (a *API) putCalendar(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var c store.Calendar
	if err := decodeJSON(r, &c, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	if c.ID != "" && c.ID != id {
		a.writeError(w, r, gate.Invalid(`field "id" %q differs from the path's %q; leave it out`, c.ID, id))
		return
	}
	if c.FeedSecret != "" || !c.CreatedAt.IsZero() || !c.UpdatedAt.IsZero() {
		a.writeError(w, r, gate.Invalid(`fields "feed_secret", "created_at" and "updated_at" are Hearth's to set; leave them out`))
		return
	}
	c.ID = id
	out, created, err := a.scope(r).PutCalendar(r.Context(), c)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, calendarJSON(out))
}

// deleteCalendar: DELETE /api/v1/calendars/{id}; 400 while it is assigned.
func (a *API) deleteCalendar(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.scope(r).DeleteCalendar(id); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseDateParam reads a YYYY-MM-DD query parameter; zero when absent.
func parseDateParam(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, gate.Invalid("parameter %q %q: a date such as 2026-12-07 is accepted", name, s)
	}
	return d, nil
}

// dateRange reads from and to; from defaults to today in the calendar's
// zone (the gate's choice), to to a week later.
func dateRange(r *http.Request) (from, to time.Time, err error) {
	if from, err = parseDateParam(r, "from"); err != nil {
		return
	}
	to, err = parseDateParam(r, "to")
	return
}

// listCalendarDays: GET /api/v1/calendars/{id}/days?from=&to=, each day's
// day type, source, reason and steps.
func (a *API) listCalendarDays(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	from, to, err := dateRange(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if from.IsZero() || to.IsZero() {
		a.writeError(w, r, gate.Invalid(`parameters "from" and "to" are required, e.g. ?from=2026-01-01&to=2026-12-31`))
		return
	}
	days, err := a.scope(r).CalendarDays(id, from, to)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"calendar": id, "days": days})
}

// listAssignments: GET /api/v1/calendars/{id}/assignments.
func (a *API) listAssignments(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	t, err := a.scope(r).CalendarAssignments(id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// assignCalendar: POST /api/v1/calendars/{id}/assignments {"devices",
// "sites", "device_types"} assigns in bulk, all or none.
func (a *API) assignCalendar(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var t gate.AssignmentTargets
	if err := decodeJSON(r, &t, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	sc := a.scope(r)
	if err := sc.Assign(r.Context(), id, t); err != nil {
		a.writeError(w, r, err)
		return
	}
	out, err := sc.CalendarAssignments(id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// unassignCalendar: DELETE /api/v1/calendars/{id}/assignments/{kind}/{target},
// kind device, site or type.
func (a *API) unassignCalendar(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err == nil {
		var kind, target string
		if kind, err = pathParam(r, "kind"); err == nil {
			if target, err = pathParam(r, "target"); err == nil {
				err = a.scope(r).Unassign(r.Context(), id, kind, target)
			}
		}
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// pushCalendar: POST /api/v1/calendars/{id}/push pushes today's program to
// every device of the calendar now, and answers each one's result.
func (a *API) pushCalendar(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	sum, err := a.scope(r).PushCalendar(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sum)
}

// listCalendarPushes: GET /api/v1/calendars/{id}/pushes?date=, what
// happened to each device's push of the day, with counts.
func (a *API) listCalendarPushes(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	date, err := parseDateParam(r, "date")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	sum, err := a.scope(r).CalendarPushes(id, date)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sum)
}

// exportCalendarCSV: GET /api/v1/calendars/{id}/closures.csv.
func (a *API) exportCalendarCSV(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	b, err := a.scope(r).CalendarCSV(id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", id+"-closures.csv"))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// importCalendarCSV: PUT /api/v1/calendars/{id}/closures.csv with a CSV
// (text/csv) replaces the closures and day-type exceptions; every bad row
// is listed with its line in "problems", and nothing changes then.
func (a *API) importCalendarCSV(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "text/csv" && mt != "text/plain" {
		a.writeError(w, r, unsupportedMediaType("Content-Type %q: send the file as text/csv", r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	c, err := a.scope(r).ImportCalendarCSV(r.Context(), id, body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, calendarJSON(c))
}

// exportCalendarICal: GET /api/v1/calendars/{id}/calendar.ics.
func (a *API) exportCalendarICal(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	feed, err := a.scope(r).CalendarICal(id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeICal(w, id, feed)
}

func writeICal(w http.ResponseWriter, id, feed string) {
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", id+".ics"))
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, feed)
}

// calendarFeedLink: POST /api/v1/calendars/{id}/feed[?rotate=true]
// answers the address of the calendar's iCalendar feed, which calendar
// programs (Outlook, Google Calendar) subscribe to without signing in;
// rotate makes a new one and the old stops working.
func (a *API) calendarFeedLink(w http.ResponseWriter, r *http.Request) {
	id, err := pathParam(r, "id")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	rotate, _ := strconv.ParseBool(r.URL.Query().Get("rotate"))
	secret, err := a.scope(r).CalendarFeedSecret(id, rotate)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"path": FeedPath(id, secret)})
}

// FeedPath is the path of a calendar's iCalendar feed.
func FeedPath(id, secret string) string { return "/ical/" + id + "/" + secret + ".ics" }

// FeedHandler serves calendars' iCalendar feeds at /ical/{id}/{secret}.ics
// to calendar programs, which do not sign in: the secret is the
// credential, and a wrong one reads as no such calendar.
func (a *API) FeedHandler() http.Handler {
	r := chi.NewRouter()
	r.Get("/ical/{id}/{file}", func(w http.ResponseWriter, r *http.Request) {
		id, secret := chi.URLParam(r, "id"), strings.TrimSuffix(chi.URLParam(r, "file"), ".ics")
		feed, err := a.gate.CalendarFeed(id, secret)
		if err != nil {
			p := gate.Describe(err)
			http.Error(w, p.Message, p.Kind.Status())
			return
		}
		writeICal(w, id, feed)
	})
	return r
}

// showPushStatus: GET /api/v1/schedule/status?date=, the pushes of a day
// counted by customer and status.
func (a *API) showPushStatus(w http.ResponseWriter, r *http.Request) {
	date, err := parseDateParam(r, "date")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	counts, err := a.scope(r).FleetPushStatus(date)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if date.IsZero() {
		date = a.gate.Now().UTC()
	}
	writeJSON(w, http.StatusOK, map[string]any{"date": date.Format(time.DateOnly), "customers": counts})
}

// showDeviceSchedule: GET /api/v1/devices/{name}/schedule?from=&to=, what
// the device runs on each day and why.
func (a *API) showDeviceSchedule(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	from, to, err := dateRange(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	sch, err := a.scope(r).DeviceSchedule(name, from, to)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sch)
}

// listDevicePushes: GET /api/v1/devices/{name}/schedule/pushes[?limit=],
// the device's pushes, newest day first.
func (a *API) listDevicePushes(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	limit := 30
	if s := r.URL.Query().Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 400 {
			a.writeError(w, r, gate.Invalid(`parameter "limit" %q: a whole number from 1 to 400 is accepted`, s))
			return
		}
	}
	recs, err := a.scope(r).DevicePushes(name, limit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"device": name, "pushes": recs})
}

// retryDevicePush: POST /api/v1/devices/{name}/schedule/push pushes the
// device's program of today again now.
func (a *API) retryDevicePush(w http.ResponseWriter, r *http.Request) {
	name, err := pathParam(r, "name")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	rec, err := a.scope(r).RetryPush(r.Context(), name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}
