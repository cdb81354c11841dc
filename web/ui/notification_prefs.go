package ui

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/hearthiot/hearth/store"
)

// The page of a person's own notification preferences: which severities
// they get by e-mail, and their quiet hours. Every signed-in person has
// it, beside their account's language and time zone.

// prefsPath is the notification preferences page.
const prefsPath = "/account/notifications"

// prefsSeverity is one severity's checkboxes: to get it by e-mail, and
// to get it during quiet hours too.
type prefsSeverity struct {
	Value, Label    string
	Wanted, Allowed bool
}

// prefsData is what the preferences page shows: as stored, or as sent.
type prefsData struct {
	// Stored: the person has a user record to keep preferences in.
	Stored     bool
	Severities []prefsSeverity
	From, To   string
	TimeZone   string
	Zones      []string
	// OwnZone is the zone quiet hours are in when TimeZone is empty.
	OwnZone    string
	Error      string
	ErrorField string
	Flash      string
}

// Invalid says whether the refusal names a field of the form.
func (d prefsData) Invalid(field string) string {
	if d.ErrorField == field {
		return "true"
	}
	return "false"
}

// prefsOf is the form of p: every severity wanted when p lists none.
func prefsOf(v view, p store.NotificationPrefs) prefsData {
	d := prefsData{Stored: true}
	var allow []string
	if q := p.QuietHours; q != nil {
		d.From, d.To, d.TimeZone, allow = q.From, q.To, q.TimeZone, q.Allow
	}
	for _, s := range store.Severities {
		d.Severities = append(d.Severities, prefsSeverity{Value: s, Label: severityLabel(v, s),
			Wanted: len(p.Severities) == 0 || slices.Contains(p.Severities, s), Allowed: slices.Contains(allow, s)})
	}
	return d
}

// answerPrefs shows the preferences page with status.
func (u *UI) answerPrefs(w http.ResponseWriter, r *http.Request, status int, d prefsData) {
	a, _ := u.account(r)
	d.Stored, d.Zones = a.Stored, commonZones
	d.OwnZone = cmp.Or(a.TimeZone, u.loc.String())
	u.render(w, r, status, prefsPage(u.view(r), d))
}

// showPrefs: /account/notifications, what the person gets by e-mail.
// People admitted only by a groups claim have no user record to keep
// preferences in, and are told so.
func (u *UI) showPrefs(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	a, _ := u.account(r)
	d := prefsData{}
	if a.Stored {
		p, err := u.scope(r).NotificationPrefs(a.User)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		d = prefsOf(v, p)
	}
	d.Flash = u.sessions.PopString(r.Context(), keyFlash)
	u.answerPrefs(w, r, http.StatusOK, d)
}

// savePrefs replaces the person's own preferences with the form: the
// severities checked (every one is the same as none listed: all, also
// those Hearth may add), and quiet hours when a time is given. A refusal
// shows the form as sent with why next to it, and nothing is stored.
func (u *UI) savePrefs(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	a, _ := u.account(r)
	if !a.Stored {
		u.answerPrefs(w, r, http.StatusBadRequest, prefsData{})
		return
	}
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, badRequest(err.Error()))
		return
	}
	wanted, allow := r.PostForm["severity"], r.PostForm["allow"]
	q := &store.QuietHours{From: strings.TrimSpace(r.PostFormValue("from")), To: strings.TrimSpace(r.PostFormValue("to")),
		TimeZone: strings.TrimSpace(r.PostFormValue("timezone")), Allow: allow}
	p := store.NotificationPrefs{Severities: wanted, QuietHours: q}
	d := prefsOf(v, p)
	if q.From == "" && q.To == "" {
		p.QuietHours = nil
	}
	for _, s := range slices.Concat(wanted, allow) {
		if !slices.Contains(store.Severities, s) {
			d.Error = v.T("config.not_saved", v.T("alarm.bad_severity", s, strings.Join(store.Severities, ", ")))
			u.answerPrefs(w, r, http.StatusBadRequest, d)
			return
		}
	}
	switch {
	case len(wanted) == 0:
		// None listed is every one; a person who wants none is not on the
		// e-mail channel.
		d.Error = v.T("prefs.none_wanted")
	case len(wanted) == len(store.Severities):
		p.Severities = nil
	}
	if d.Error != "" {
		u.answerPrefs(w, r, http.StatusBadRequest, d)
		return
	}
	if _, err := u.scope(r).SetNotificationPrefs(a.User, p); err != nil {
		status, msg, ok := u.refusal(w, r, err)
		if !ok {
			return
		}
		d.Error, d.ErrorField = v.T("config.not_saved", msg), prefsField(msg)
		u.answerPrefs(w, r, status, d)
		return
	}
	u.sessions.Put(r.Context(), keyFlash, v.T("prefs.saved"))
	http.Redirect(w, r, prefsPath, http.StatusSeeOther)
}

// prefsField is the field of the form a refusal names.
func prefsField(msg string) string {
	for _, f := range []string{"quiet_hours.from", "quiet_hours.to", "quiet_hours.time_zone", "quiet_hours.allow"} {
		if strings.Contains(msg, f) {
			return strings.TrimPrefix(f, "quiet_hours.")
		}
	}
	if strings.Contains(msg, "quiet_hours: ") {
		return "from"
	}
	return ""
}
