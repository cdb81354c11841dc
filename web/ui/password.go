package ui

import (
	"errors"
	"net/http"

	"github.com/hearthiot/hearth/gate"
)

func (u *UI) showPassword(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	u.render(w, r, http.StatusOK, passwordPage(v, ""))
}

// changePassword sets a new password for a local account, after checking
// the current one; it clears a one-time password's must-change mark and
// renews the session token.
func (u *UI) changePassword(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	current, next, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("again")
	msg := ""
	if next != again {
		msg = v.T("password.mismatch")
	} else {
		switch err := u.scope(r).ChangePassword(current, next); {
		case errors.Is(err, gate.ErrWrongPassword):
			msg = v.T("password.wrong")
		case errors.Is(err, gate.ErrShortPassword):
			msg = v.T("password.short", gate.MinPasswordLen)
		case errors.Is(err, gate.ErrSamePassword):
			msg = v.T("password.same")
		case err != nil:
			u.fail(w, r, err)
			return
		}
	}
	if msg != "" {
		u.render(w, r, http.StatusBadRequest, passwordPage(v, msg))
		return
	}
	if err := u.sessions.RenewToken(r.Context()); err != nil {
		u.fail(w, r, err)
		return
	}
	u.logger.Info("password changed", "user", v.User)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
