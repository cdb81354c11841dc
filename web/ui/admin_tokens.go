package ui

import (
	"net/http"
	"net/url"

	"github.com/a-h/templ"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

func tokensPage(sc gate.Scope, v view, a configAccounts) (templ.Component, error) {
	tokens, err := sc.Tokens()
	if err != nil {
		return nil, err
	}
	return configTokensPage(v, a, tokens), nil
}

// showTokens: /admin/tokens, every API token and the form to add one.
func (c *config) showTokens(w http.ResponseWriter, r *http.Request) {
	var a configAccounts
	a.Notice, a.NoticeErr = c.flashed(r)
	c.accounts(w, r, http.StatusOK, a, tokensPage)
}

// createToken adds an API token.
func (c *config) createToken(w http.ResponseWriter, r *http.Request) {
	c.createAccount(w, r, "name", func(f configAccount, customer string) (string, string, error) {
		t, secret, err := c.scope(r).CreateToken(gate.TokenSpec{Name: f.Name, Role: f.Role, Access: f.Access, Customer: customer})
		return t.Name, secret, err
	}, tokensPage)
}

// tokenConfirm is the confirmation of deleting the token of the request;
// the question names it as the list does.
func (c *config) tokenConfirm(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := c.view(r)
	id := configParam(r, "id")
	tokens, err := c.scope(r).Tokens()
	return confirmOne(c, w, r, tokens, err, func(t store.Token) (configConfirmData, bool) {
		if t.ID != id {
			return configConfirmData{}, false
		}
		return configConfirmData{
			Title: v.T("config.tokens.title"), Question: v.T("config.tokens.delete", t.Name, t.ID),
			Action: "/admin/tokens/" + url.PathEscape(id) + "/delete", Back: "/admin/tokens",
		}, true
	})
}
