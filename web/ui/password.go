package ui

import (
	"net/http"
	"unicode/utf8"

	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/auth"
)

// minPasswordLen is the shortest password a person may choose; length
// matters more than character classes (NIST SP 800-63B).
const minPasswordLen = 12

func (u *UI) showPassword(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	u.render(w, r, http.StatusOK, passwordPage(v, ""))
}

// changePassword sets a new password for a local account, after checking
// the current one; it clears a one-time password's must-change mark and
// renews the session token.
func (u *UI) changePassword(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	p, _ := u.principal(r)
	current, next, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("again")
	usr, err := u.users.GetUser(p.User)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	ok := false
	if usr.PasswordHash != "" && len(current) <= maxPasswordLen {
		if ok, err = auth.VerifyPassword(usr.PasswordHash, current); err != nil {
			u.fail(w, r, err)
			return
		}
	}
	msg := ""
	switch {
	case !ok:
		msg = v.T("password.wrong")
	case utf8.RuneCountInString(next) < minPasswordLen || len(next) > maxPasswordLen:
		msg = v.T("password.short", minPasswordLen)
	case next != again:
		msg = v.T("password.mismatch")
	case next == current:
		msg = v.T("password.same")
	}
	if msg != "" {
		u.render(w, r, http.StatusBadRequest, passwordPage(v, msg))
		return
	}
	hash, err := auth.HashPassword(next)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if _, err := u.users.UpdateUser(p.User, func(x *store.User) error {
		x.PasswordHash = hash
		x.MustChangePassword = false
		return nil
	}); err != nil {
		u.fail(w, r, err)
		return
	}
	if err := u.sessions.RenewToken(r.Context()); err != nil {
		u.fail(w, r, err)
		return
	}
	u.logger.Info("password changed", "user", p.User)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
