package ui

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/hearthiot/hearth/gate"
)

func (u *UI) showPassword(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	u.render(w, r, http.StatusOK, passwordPage(v, ""))
}

// changePassword sets a new password for a local account, after checking
// the current one; it clears a one-time password's must-change mark and
// renews the session token. After repeated wrong current passwords the
// account's password checks wait, as its sign-ins do: 429 with
// Retry-After.
func (u *UI) changePassword(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	current, next, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("again")
	msg := ""
	if next != again {
		msg = v.T("password.mismatch")
	} else {
		var delay *gate.SignInDelay
		switch err := u.scope(r).ChangePassword(current, next); {
		case errors.As(err, &delay):
			secs := int(math.Ceil(delay.Wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			u.logLimit.Log(r.Context(), slog.LevelInfo, "password change refused: the account's attempts wait", "user", v.User, "remote", clientIP(r))
			u.render(w, r, http.StatusTooManyRequests, passwordPage(v, v.T("password.delayed", (secs+59)/60)))
			return
		case errors.Is(err, gate.ErrWrongPassword):
			u.logLimit.Log(r.Context(), slog.LevelInfo, "password change refused: wrong current password", "user", v.User, "remote", clientIP(r))
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
