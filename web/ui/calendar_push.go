package ui

import (
	"net/http"
	"net/url"
	"time"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// Pushes of the day: a calendar's, a device's, and doing them again.

// calPushRow is one device's push of the day.
type calPushRow struct {
	Device, Status, Band, Reason, Pushed, Verified string
	Pushes, Checks                                 int
}

func pushRows(v view, recs []store.PushRecord) []calPushRow {
	out := make([]calPushRow, 0, len(recs))
	for _, rec := range recs {
		out = append(out, calPushRow{Device: rec.Device, Status: pushStatusText(v, rec.Status), Band: pushStatusBand(rec.Status),
			Reason: rec.Reason, Pushed: v.Time(rec.PushedAt), Verified: v.Time(rec.VerifiedAt), Pushes: rec.Pushes, Checks: rec.Checks})
	}
	return out
}

// pushToday pushes today's program of the calendar to every device it
// applies to, now.
func (c *calendars) pushToday(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	id := configParam(r, "id")
	sum, err := c.scope(r).PushCalendar(r.Context(), id)
	if err != nil {
		if _, msg, ok := c.refusal(w, r, err); ok {
			c.sessions.Put(r.Context(), keyFlash, "!"+v.T("cal.push.refused", msg))
			http.Redirect(w, r, calendarPath(id)+"#pushes", http.StatusSeeOther)
		}
		return
	}
	c.sessions.Put(r.Context(), keyFlash, v.T("cal.push.done", len(sum.Devices), sum.Counts[store.PushVerified],
		sum.Counts[store.PushPending], sum.Counts[store.PushOffline], sum.Counts[store.PushRejected]+sum.Counts[store.PushFailed]))
	http.Redirect(w, r, calendarPath(id)+"#pushes", http.StatusSeeOther)
}

// retryPush pushes a device's program of today again now, and goes back
// to the page the button was on.
func (c *calendars) retryPush(w http.ResponseWriter, r *http.Request) {
	v := c.view(r)
	name := configParam(r, "name")
	// Without a page to go back to, the button was the device page's.
	back, key := safeNext(r.PostFormValue("back")), keyFlash
	if back == "/" {
		back, key = "/devices/"+url.PathEscape(name)+"#schedule", keyScheduleFlash
	}
	rec, err := c.scope(r).RetryPush(r.Context(), name)
	if err != nil {
		if _, msg, ok := c.refusal(w, r, err); ok {
			c.sessions.Put(r.Context(), key, "!"+v.T("cal.push.refused", msg))
			http.Redirect(w, r, back, http.StatusSeeOther)
		}
		return
	}
	c.sessions.Put(r.Context(), key, v.T("cal.push.retried", name, pushStatusText(v, rec.Status)))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// deviceSchedule is what a device page shows of the device's operating
// calendar: what runs today and tomorrow and why, and its last push.
type deviceSchedule struct {
	Flash    string
	FlashErr bool
	Calendar string
	None     bool // the device has no calendar
	Days     []calDay
	Last     *calPushRow
	LastDate string
	Verified bool // the device reported the last program it was sent
	CanRetry bool
}

// deviceSchedule reads a device's schedule; ok is false when the server
// runs no calendars.
func (u *UI) deviceSchedule(v view, sc gate.Scope, name string) (d deviceSchedule, ok bool, err error) {
	sch, err := sc.DeviceSchedule(name, time.Time{}, time.Time{})
	if err != nil {
		switch gate.Describe(err).Kind {
		case gate.KindUnavailable:
			return deviceSchedule{}, false, nil
		case gate.KindNotFound:
			// The device was read; what is missing is its calendar.
			return deviceSchedule{None: true}, true, nil
		}
		return deviceSchedule{}, false, err
	}
	d = deviceSchedule{Calendar: sch.Calendar, CanRetry: sc.Principal().MayChangeSettings()}
	cal, err := sc.Calendar(sch.Calendar)
	if err != nil {
		return deviceSchedule{}, false, err
	}
	look := lookOf(cal)
	for i, day := range sch.Days {
		if i == 2 {
			break
		}
		d.Days = append(d.Days, resolvedDay(v, look, day))
	}
	recs, err := sc.DevicePushes(name, 1)
	if err != nil {
		return deviceSchedule{}, false, err
	}
	if len(recs) > 0 {
		row := pushRows(v, recs)[0]
		d.Last, d.LastDate, d.Verified = &row, recs[0].Date, recs[0].Status == store.PushVerified
	}
	return d, true, nil
}
