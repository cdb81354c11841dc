package ui

import (
	"net/http"
	"strings"

	"github.com/a-h/templ"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// configAccount is the new-user or new-token form, kept when it is
// refused: Name is the user's e-mail or the token's name.
type configAccount struct {
	Name, Role, Access, Customer string
}

// readAccount reads the new-user or new-token form. The form offers the
// customer field to every role; an operator belongs to none, whatever was
// left selected.
func readAccount(r *http.Request, nameField string) (configAccount, string) {
	f := configAccount{
		Name: strings.TrimSpace(r.PostFormValue(nameField)), Role: r.PostFormValue("role"),
		Access: r.PostFormValue("access"), Customer: r.PostFormValue("customer"),
	}
	customer := f.Customer
	if f.Role == store.RoleOperator {
		customer = ""
	}
	return f, customer
}

// configAccounts is what the users and the API tokens pages show besides
// their list: the form, and the outcome of the last one sent.
type configAccounts struct {
	Customers []store.Customer
	Form      configAccount
	Error     string
	Notice    string
	NoticeErr bool
	// Created and Secret are the user or token just created and its
	// one-time password or token, shown in the answer to the form and
	// never again.
	Created string
	Secret  string
}

// accountsPage is the users or the API tokens page, with its list read
// through sc.
type accountsPage func(sc gate.Scope, v view, a configAccounts) (templ.Component, error)

// accounts answers the users or the API tokens page with a, after
// checking that the person may see it.
func (c *config) accounts(w http.ResponseWriter, r *http.Request, status int, a configAccounts, page accountsPage) {
	sc := c.scope(r)
	customers, err := sc.Customers()
	if err != nil {
		c.fail(w, r, err)
		return
	}
	a.Customers = customers
	if a.Form.Role == "" {
		a.Form.Role = store.RoleCustomer
	}
	comp, err := page(sc, c.view(r), a)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, status, comp)
}

// createAccount runs the new-user or new-token form: create makes the
// record and returns its name and secret. The secret is in this answer
// only: it is never put in the session or a URL, which a redirect would
// need.
func (c *config) createAccount(w http.ResponseWriter, r *http.Request, nameField string,
	create func(f configAccount, customer string) (name, secret string, err error), page accountsPage) {
	form, customer := readAccount(r, nameField)
	var a configAccounts
	name, secret, err := create(form, customer)
	status := http.StatusCreated
	if err != nil {
		var msg string
		var ok bool
		if status, msg, ok = c.refusal(w, r, err); !ok {
			return
		}
		a.Form, a.Error = form, c.view(r).T("config.not_saved", msg)
	} else {
		a.Created, a.Secret = name, secret
	}
	c.accounts(w, r, status, a, page)
}

// configAccessLevels are the access levels the forms offer; the store
// checks which fit the role.
var configAccessLevels = []string{store.AccessAdmin, store.AccessOperator, store.AccessEditor, store.AccessViewer}
