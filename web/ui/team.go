package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// The team pages let a customer's admin manage its own customer's users
// and API tokens: /account/users and /account/tokens. The gate decides
// who may and whose; the pages only offer what a customer's admin can do.

// teamAccessLevels are the levels a customer's admin gives.
var teamAccessLevels = []string{store.AccessAdmin, store.AccessEditor, store.AccessViewer}

// teamData is what the users or the tokens page shows besides its list.
type teamData struct {
	Customer  string
	Notice    string
	NoticeErr bool
	Error     string
	// Name and Access are the form just refused, kept.
	Name, Access string
	// Created names the user invited or the token created; Secret is the
	// set-password link or the token, shown in this answer only.
	Created, Secret string
	// Emailed: the link went to the user by e-mail; MailFailed: sending
	// was tried and failed.
	Emailed, MailFailed bool
}

// teamRoutes registers the team pages.
func (u *UI) teamRoutes(r chi.Router) {
	r.Get("/account/users", u.showTeamUsers)
	r.Post("/account/users", u.inviteTeamUser)
	r.Post("/account/users/{email}", u.changeTeamUser)
	r.Get("/account/tokens", u.showTeamTokens)
	r.Post("/account/tokens", u.createTeamToken)
	r.Post("/account/tokens/{id}/delete", u.deleteTeamToken)
}

func (u *UI) teamUsers(w http.ResponseWriter, r *http.Request, status int, d teamData) {
	sc := u.scope(r)
	users, err := sc.Users()
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d.Customer = sc.Principal().Customer
	u.render(w, r, status, teamUsersPage(u.view(r), d, users))
}

// showTeamUsers: /account/users, the customer's users and the form to
// invite one.
func (u *UI) showTeamUsers(w http.ResponseWriter, r *http.Request) {
	var d teamData
	d.Notice, d.NoticeErr = u.flashed(r)
	u.teamUsers(w, r, http.StatusOK, d)
}

// inviteTeamUser invites a user of the admin's own customer: the
// set-password link is e-mailed, or shown in this answer only.
func (u *UI) inviteTeamUser(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	d := teamData{Name: strings.TrimSpace(r.PostFormValue("email")), Access: r.PostFormValue("access")}
	sc := u.scope(r)
	inv, err := sc.InviteUser(r.Context(), gate.UserSpec{Email: d.Name, Role: store.RoleCustomer, Access: d.Access, Customer: sc.Principal().Customer})
	if err != nil {
		status, msg, ok := u.refusal(w, r, err)
		if !ok {
			return
		}
		d.Error = v.T("config.not_saved", msg)
		u.teamUsers(w, r, status, d)
		return
	}
	d = teamData{Created: inv.User.Email, Emailed: inv.Emailed, MailFailed: inv.MailError != ""}
	if !inv.Emailed {
		d.Secret = u.absolute(inv.Link)
	}
	u.teamUsers(w, r, http.StatusCreated, d)
}

// absolute makes a link the gate built without Hearth's address (no
// e-mail on this server) one a person can pass on.
func (u *UI) absolute(link string) string {
	if strings.HasPrefix(link, "/") && u.publicURL != "" {
		return strings.TrimSuffix(u.publicURL, "/") + link
	}
	return link
}

// changeTeamUser changes a user's access level or disables or enables
// them, then returns to the list with what happened.
func (u *UI) changeTeamUser(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	email := chi.URLParam(r, "email")
	var c gate.UserChange
	if a := r.PostFormValue("access"); a != "" {
		c.Access = &a
	}
	switch r.PostFormValue("disabled") {
	case "true":
		t := true
		c.Disabled = &t
	case "false":
		f := false
		c.Disabled = &f
	}
	msg := v.T("team.users.changed", email)
	if _, err := u.scope(r).ChangeUser(email, c); err != nil {
		_, m, ok := u.refusal(w, r, err)
		if !ok {
			return
		}
		msg = "!" + v.T("config.not_saved", m)
	}
	u.sessions.Put(r.Context(), keyFlash, msg)
	http.Redirect(w, r, "/account/users", http.StatusSeeOther)
}

func (u *UI) teamTokens(w http.ResponseWriter, r *http.Request, status int, d teamData) {
	sc := u.scope(r)
	tokens, err := sc.Tokens()
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d.Customer = sc.Principal().Customer
	u.render(w, r, status, teamTokensPage(u.view(r), d, tokens))
}

// showTeamTokens: /account/tokens, the customer's API tokens and the form
// to create one.
func (u *UI) showTeamTokens(w http.ResponseWriter, r *http.Request) {
	var d teamData
	d.Notice, d.NoticeErr = u.flashed(r)
	u.teamTokens(w, r, http.StatusOK, d)
}

// createTeamToken creates an API token of the admin's own customer; the
// secret is in this answer only.
func (u *UI) createTeamToken(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	d := teamData{Name: strings.TrimSpace(r.PostFormValue("name")), Access: r.PostFormValue("access")}
	sc := u.scope(r)
	t, secret, err := sc.CreateToken(gate.TokenSpec{Name: d.Name, Role: store.RoleCustomer, Access: d.Access, Customer: sc.Principal().Customer})
	if err != nil {
		status, msg, ok := u.refusal(w, r, err)
		if !ok {
			return
		}
		d.Error = v.T("config.not_saved", msg)
		u.teamTokens(w, r, status, d)
		return
	}
	u.teamTokens(w, r, http.StatusCreated, teamData{Created: t.Name, Secret: secret})
}

// deleteTeamToken deletes one of the customer's API tokens; it stops
// working at once.
func (u *UI) deleteTeamToken(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	id := chi.URLParam(r, "id")
	if err := u.scope(r).DeleteToken(id); err != nil {
		u.fail(w, r, err)
		return
	}
	u.sessions.Put(r.Context(), keyFlash, v.T("config.tokens.deleted", id))
	http.Redirect(w, r, "/account/tokens", http.StatusSeeOther)
}

// showSetPassword: /set-password/{secret}, the page an invited user
// chooses a password on. It needs no session.
func (u *UI) showSetPassword(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	email, err := u.gate.Invited(chi.URLParam(r, "secret"))
	if err != nil {
		u.setPasswordRefused(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, setPasswordPage(v, email, ""))
}

// setPassword sets an invited user's password and spends the link; they
// then sign in with it.
func (u *UI) setPassword(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	secret := chi.URLParam(r, "secret")
	email, err := u.gate.Invited(secret)
	if err != nil {
		u.setPasswordRefused(w, r, err)
		return
	}
	next := r.PostFormValue("new")
	if next != r.PostFormValue("again") {
		u.render(w, r, http.StatusBadRequest, setPasswordPage(v, email, v.T("password.mismatch")))
		return
	}
	if _, err := u.gate.AcceptInvite(secret, next); err != nil {
		if errors.Is(err, gate.ErrShortPassword) {
			u.render(w, r, http.StatusBadRequest, setPasswordPage(v, email, v.T("password.short", gate.MinPasswordLen)))
			return
		}
		u.setPasswordRefused(w, r, err)
		return
	}
	u.logger.Info("invited user set their password", "user", email)
	u.render(w, r, http.StatusOK, setPasswordDonePage(v, email))
}

// setPasswordRefused answers a set-password link that does not work.
func (u *UI) setPasswordRefused(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, gate.ErrInviteUnknown) {
		v := u.view(r)
		u.render(w, r, http.StatusNotFound, setPasswordGonePage(v))
		return
	}
	u.fail(w, r, err)
}

// teamUserPath is the address a user's change form posts to.
func teamUserPath(email string) string { return "/account/users/" + url.PathEscape(email) }
