package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// ssoPage serves /admin/sso: the providers operators configure, for
// operator admins, as with users and tokens.
type ssoPage struct {
	*UI
	c *config
}

// ssoData is what the page shows besides the list: the form, filled when
// editing or after a refusal, and the outcome of the last change.
type ssoData struct {
	Providers []gate.SSOProvider
	Customers []store.Customer
	Fixed     []string // providers set on the command line
	Form      gate.SSOProviderSpec
	Editing   bool
	Error     string
	Notice    string
	NoticeErr bool
	// Redirect is the redirect URI of a provider name.
	Redirect func(name string) string
	// Problems is why a provider could not be used at the last sign-in
	// through it, by name.
	Problems map[string]string
}

func (u *UI) ssoRoutes(r chi.Router) {
	p := &ssoPage{UI: u, c: &config{UI: u}}
	r.Get("/sso", p.showProviders)
	r.Post("/sso", p.saveProvider)
	r.Get("/sso/{name}", p.editProvider)
	p.c.deletion(r, "/sso/{name}/delete", "name", "sso.deleted", "/admin/sso", p.confirmDelete, gate.Scope.DeleteSSOProvider)
}

// redirectURI is where a provider sends people back: the public URL when
// one is configured, else the address this request came to.
func (p *ssoPage) redirectURI(r *http.Request) func(string) string {
	base := p.publicURL
	if base == "" {
		base = "https://" + r.Host
	}
	return func(name string) string {
		u, err := url.Parse(base)
		if err != nil {
			return ""
		}
		return u.JoinPath("login", "sso", name, "callback").String()
	}
}

func (p *ssoPage) fixedNames() []string {
	out := make([]string, 0, len(p.sso))
	for _, s := range p.sso {
		out = append(out, s.Name())
	}
	return out
}

// render answers the page with d and the list read through the person's
// scope, which refuses anyone but operator admins.
func (p *ssoPage) render(w http.ResponseWriter, r *http.Request, status int, d ssoData) {
	sc := p.scope(r)
	list, err := sc.SSOProviders()
	if err != nil {
		p.fail(w, r, err)
		return
	}
	customers, err := sc.Customers()
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d.Providers, d.Customers, d.Fixed, d.Redirect = list, customers, p.fixedNames(), p.redirectURI(r)
	d.Problems = map[string]string{}
	for _, s := range p.providers() {
		if pr, ok := s.(interface{ Problem() string }); ok && pr.Problem() != "" {
			d.Problems[s.Name()] = pr.Problem()
		}
	}
	p.UI.render(w, r, status, ssoProvidersPage(p.view(r), d))
}

// showProviders: GET /admin/sso, the list and the form for a new one.
func (p *ssoPage) showProviders(w http.ResponseWriter, r *http.Request) {
	var d ssoData
	d.Notice, d.NoticeErr = p.flashed(r)
	p.render(w, r, http.StatusOK, d)
}

// editProvider: GET /admin/sso/{name}, the form filled with the provider.
func (p *ssoPage) editProvider(w http.ResponseWriter, r *http.Request) {
	sp, err := p.scope(r).SSOProvider(configParam(r, "name"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := ssoData{Editing: true, Form: gate.SSOProviderSpec{
		Name: sp.Name, DisplayName: sp.DisplayName, Issuer: sp.Issuer, ClientID: sp.ClientID, GroupsClaim: sp.GroupsClaim,
		Customer: sp.Customer,
	}}
	p.render(w, r, http.StatusOK, d)
}

// saveProvider: POST /admin/sso creates or changes the provider the form
// names. The secret is never put back into the form.
func (p *ssoPage) saveProvider(w http.ResponseWriter, r *http.Request) {
	v := p.view(r)
	spec := gate.SSOProviderSpec{
		Name:         strings.TrimSpace(r.PostFormValue("name")),
		DisplayName:  strings.TrimSpace(r.PostFormValue("display_name")),
		Issuer:       strings.TrimSpace(r.PostFormValue("issuer")),
		ClientID:     strings.TrimSpace(r.PostFormValue("client_id")),
		ClientSecret: r.PostFormValue("client_secret"),
		GroupsClaim:  strings.TrimSpace(r.PostFormValue("groups_claim")),
		Customer:     r.PostFormValue("customer"),
	}
	editing := r.PostFormValue("editing") == "true"
	refuse := func(status int, msg string) {
		spec.ClientSecret = ""
		p.render(w, r, status, ssoData{Form: spec, Editing: editing, Error: v.T("config.not_saved", msg)})
	}
	for _, name := range p.fixedNames() {
		if name == spec.Name {
			refuse(http.StatusConflict, v.T("sso.name_fixed"))
			return
		}
	}
	if _, _, err := p.scope(r).PutSSOProvider(spec); err != nil {
		status, msg, ok := p.refusal(w, r, err)
		if ok {
			refuse(status, msg)
		}
		return
	}
	p.sessions.Put(r.Context(), keyFlash, v.T("sso.saved", spec.Name))
	http.Redirect(w, r, "/admin/sso", http.StatusSeeOther)
}

// confirmDelete is the question before deleting the provider of the
// request.
func (p *ssoPage) confirmDelete(w http.ResponseWriter, r *http.Request) (configConfirmData, bool) {
	v := p.view(r)
	sp, err := p.scope(r).SSOProvider(configParam(r, "name"))
	if err != nil {
		p.fail(w, r, err)
		return configConfirmData{}, false
	}
	return configConfirmData{
		Title: v.T("sso.title"), Question: v.T("sso.delete", sp.Name),
		Action: "/admin/sso/" + url.PathEscape(sp.Name) + "/delete", Back: "/admin/sso",
	}, true
}
