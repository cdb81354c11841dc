package ui

import (
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
)

// config serves the operator pages for users, API tokens, device types,
// shadows and the fleet's history.
type config struct {
	*UI
}

// configRoutes registers the operator pages for users, API tokens, device
// types and shadows, under /admin.
func (u *UI) configRoutes(r chi.Router) {
	c := &config{UI: u}
	r.Get("/users", c.showUsers)
	r.Post("/users", c.createUser)
	c.deletion(r, "/users/{email}/delete", "email", "config.users.deleted", "/admin/users", c.userConfirm, gate.Scope.DeleteUser)
	r.Get("/tokens", c.showTokens)
	r.Post("/tokens", c.createToken)
	c.deletion(r, "/tokens/{id}/delete", "id", "config.tokens.deleted", "/admin/tokens", c.tokenConfirm, gate.Scope.DeleteToken)
	r.Get("/types", c.showTypes)
	r.Get("/types/new", c.showNewType)
	r.Post("/types/new", c.createType)
	r.Get("/types/{type}", c.showType)
	r.Post("/types/{type}", c.saveType)
	c.deletion(r, "/types/{type}/delete", "type", "config.types.deleted", "/admin/types", c.typeConfirm, gate.Scope.DeleteDeviceType)
	r.Get("/devices/{name}/shadow", c.showShadow)
	r.Post("/devices/{name}/shadow", c.updateShadow)
	r.Get("/history", c.showHistory)
}

// configParam is a decoded path parameter: chi hands parameters over as
// they were escaped when the request's path had escapes.
func configParam(r *http.Request, key string) string {
	v := chi.URLParam(r, key)
	if r.URL.RawPath == "" {
		return v
	}
	if s, err := url.PathUnescape(v); err == nil {
		return s
	}
	return v
}

// configConfirmData is a confirmation page before a delete: the question,
// where the form posts, where Cancel goes, and why the delete cannot be
// done when it cannot.
type configConfirmData struct {
	Title    string
	Question string
	Action   string
	Back     string
	Error    string
	Blocked  bool // the delete is known to be refused: no Delete button
}

// deletion registers a delete behind a confirmation page at path: GET
// asks, POST deletes. confirm finds the record, or answers 404, and words
// the question; remove deletes the record the path parameter param names.
// After the delete the browser goes back to list with the message doneKey;
// a refusal shows the confirmation page again with the reason, a fault the
// error page.
func (c *config) deletion(rt chi.Router, path, param, doneKey, list string,
	confirm func(w http.ResponseWriter, r *http.Request) (configConfirmData, bool),
	remove func(sc gate.Scope, name string) error) {
	rt.Get(path, func(w http.ResponseWriter, r *http.Request) {
		if d, ok := confirm(w, r); ok {
			c.render(w, r, http.StatusOK, configConfirmPage(c.view(r), d))
		}
	})
	rt.Post(path, func(w http.ResponseWriter, r *http.Request) {
		d, ok := confirm(w, r)
		if !ok {
			return
		}
		name := configParam(r, param)
		c.deleted(w, r, d, remove(c.scope(r), name), c.view(r).T(doneKey, name), list)
	})
}

// confirmOne words the confirmation of deleting one record of a list
// read for it (err is the read's error): ask words the question about the
// record the request names, and false for any other; a request that names
// none is answered 404.
func confirmOne[R any](c *config, w http.ResponseWriter, r *http.Request, list []R, err error, ask func(R) (configConfirmData, bool)) (configConfirmData, bool) {
	if err != nil {
		c.fail(w, r, err)
		return configConfirmData{}, false
	}
	for _, x := range list {
		if d, ok := ask(x); ok {
			return d, true
		}
	}
	c.notFound(w, r)
	return configConfirmData{}, false
}

// deleted finishes a delete: see deletion.
func (c *config) deleted(w http.ResponseWriter, r *http.Request, d configConfirmData, err error, done, list string) {
	if err != nil {
		status, msg, ok := c.refusal(w, r, err)
		if !ok {
			return
		}
		d.Error, d.Blocked = msg, true
		c.render(w, r, status, configConfirmPage(c.view(r), d))
		return
	}
	c.sessions.Put(r.Context(), keyFlash, done)
	http.Redirect(w, r, list, http.StatusSeeOther)
}

// configYesNo writes a flag for a table.
func configYesNo(v view, b bool) string {
	if b {
		return v.T("config.yes")
	}
	return v.T("config.no")
}

// configOrNone writes "—" for an empty cell.
func configOrNone(v view, s string) string {
	if s == "" {
		return v.T("config.none")
	}
	return s
}
