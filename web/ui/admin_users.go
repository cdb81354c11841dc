package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

func usersPage(sc gate.Scope, v view, a configAccounts) (templ.Component, error) {
	users, err := sc.Users()
	if err != nil {
		return nil, err
	}
	return configUsersPage(v, a, users), nil
}

// showUsers: /admin/users, every user and the form to add one.
func (c *config) showUsers(w http.ResponseWriter, r *http.Request) {
	var a configAccounts
	a.Notice, a.NoticeErr = c.flashed(r)
	c.accounts(w, r, http.StatusOK, a, usersPage)
}

// createUser adds a user with a generated one-time password, which the
// user must change at first sign-in.
func (c *config) createUser(w http.ResponseWriter, r *http.Request) {
	c.createAccount(w, r, "email", func(f configAccount, customer string) (string, string, error) {
		u, password, err := c.scope(r).CreateUser(gate.UserSpec{Email: f.Name, Role: f.Role, Access: f.Access, Customer: customer})
		return u.Email, password, err
	}, usersPage)
}

// userConfirm is the confirmation of deleting the user of the request;
// deleting oneself is refused up front.
func (c *config) userConfirm(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := c.view(r)
	email := configParam(r, "email")
	users, err := c.scope(r).Users()
	return confirmOne(c, w, r, users, err, func(x store.User) (configConfirmData, bool) {
		if !strings.EqualFold(x.Email, email) {
			return configConfirmData{}, false
		}
		d := configConfirmData{
			Title: v.T("config.users.title"), Question: v.T("config.users.delete", x.Email),
			Action: "/admin/users/" + url.PathEscape(x.Email) + "/delete", Back: "/admin/users",
		}
		if strings.EqualFold(x.Email, v.User) {
			d.Error, d.Blocked = v.T("config.users.self"), true
		}
		return d, true
	})
}
