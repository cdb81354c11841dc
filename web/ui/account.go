package ui

import (
	"errors"
	"net/http"

	"github.com/hearthiot/hearth/gate"
)

// commonZones are offered in the time zone field's suggestions; any IANA
// zone is accepted.
var commonZones = []string{"Asia/Tokyo", "Asia/Seoul", "Asia/Shanghai", "Asia/Singapore", "Asia/Bangkok",
	"Australia/Sydney", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "UTC"}

// accountData is what the account page shows.
type accountData struct {
	Language, TimeZone string
	Stored             bool
	Message            string
	Error              bool
	Zones              []string
	DefaultZone        string
}

func (u *UI) accountData(r *http.Request) accountData {
	a, _ := u.account(r)
	return accountData{Language: a.Language, TimeZone: a.TimeZone, Stored: a.Stored, Zones: commonZones, DefaultZone: u.loc.String()}
}

func (u *UI) showAccount(w http.ResponseWriter, r *http.Request) {
	d := u.accountData(r)
	d.Message = u.sessions.PopString(r.Context(), keyFlash)
	u.render(w, r, http.StatusOK, accountPage(u.view(r), d))
}

// saveAccount stores the person's language and time zone; people admitted
// only by a groups claim have no user record to keep them in.
func (u *UI) saveAccount(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	d := u.accountData(r)
	language, zone := r.PostFormValue("language"), r.PostFormValue("timezone")
	d.Language, d.TimeZone = language, zone
	switch err := u.scope(r).SetPreferences(language, zone); {
	case errors.Is(err, gate.ErrBadLanguage):
		d.Message, d.Error = v.T("account.bad_language"), true
	case errors.Is(err, gate.ErrBadTimeZone):
		d.Message, d.Error = v.T("account.bad_zone", zone), true
	case errors.Is(err, gate.ErrNoUserRecord):
		d.Message, d.Error = v.T("account.no_record"), true
	case err != nil:
		u.fail(w, r, err)
		return
	}
	if d.Error {
		u.render(w, r, http.StatusBadRequest, accountPage(v, d))
		return
	}
	// The message is in the language just chosen.
	l := language
	if l == "" {
		l = lang("", r)
	}
	u.sessions.Put(r.Context(), keyFlash, t(l, "account.saved"))
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}
