package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/web/ui"
)

func TestSSOPage(t *testing.T) {
	e := newEnv(t, envOptions{sso: []ui.SSO{&lateSSO{}}})
	op := e.signIn(opUser)
	if r := e.get(op, "/admin/sso"); r.status != http.StatusOK || !strings.Contains(r.body, "No providers configured here") ||
		!strings.Contains(r.body, "Set on the command line, and not editable here: acme-sso") {
		t.Fatalf("empty page: %d\n%s", r.status, r.body)
	}
	form := url.Values{"name": {"globex-entra"}, "display_name": {"Globex Entra ID"}, "issuer": {"https://login.globex.example/v2.0"},
		"client_id": {"hearth-app"}, "client_secret": {"first-secret"}, "groups_claim": {"roles"}}
	if r := e.post(op, "/admin/sso", form); r.status != http.StatusSeeOther || r.location != "/admin/sso" {
		t.Fatalf("create: %d %q\n%s", r.status, r.location, r.body)
	}
	r := e.get(op, "/admin/sso")
	for _, want := range []string{"Provider globex-entra saved", "Globex Entra ID", "https://login.globex.example/v2.0", "/login/sso/globex-entra/callback", ">set<"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page after create lacks %q", want)
		}
	}
	if strings.Contains(r.body, "first-secret") {
		t.Error("the page shows the client secret")
	}
	if !strings.Contains(r.body, "Anyone, operators too") || strings.Contains(r.body, ">sso.") {
		t.Errorf("page after create shows a message key, not its text:\n%s", r.body)
	}
	// The edit form is filled, without the secret; saving without one
	// keeps it.
	r = e.get(op, "/admin/sso/globex-entra")
	if !strings.Contains(r.body, `value="hearth-app"`) || strings.Contains(r.body, "first-secret") || !strings.Contains(r.body, "readonly") {
		t.Errorf("edit form: %s", r.body)
	}
	form.Set("client_secret", "")
	form.Set("client_id", "hearth-app-2")
	form.Set("editing", "true")
	if r := e.post(op, "/admin/sso", form); r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.status, r.body)
	}
	p, err := e.st.GetSSOProvider("globex-entra")
	if err != nil || p.ClientID != "hearth-app-2" || p.ClientSecret != "first-secret" {
		t.Errorf("stored after the edit: %+v, %v", p, err)
	}
	// Refusals keep the form and say why.
	bad := url.Values{"name": {"Bad Name"}, "issuer": {"https://x.example"}, "client_id": {"c"}, "client_secret": {"s"}}
	if r := e.post(op, "/admin/sso", bad); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Not saved") || !strings.Contains(r.body, `value="https://x.example"`) {
		t.Errorf("bad name: %d\n%s", r.status, r.body)
	}
	// An issuer at the cloud's metadata service, or a customer's over
	// plain http, is refused with the reason.
	for _, tt := range []struct{ issuer, customer, want string }{
		{"http://169.254.169.254/latest/meta-data/", "", "169.254.169.254 is a cloud instance metadata service, refused"},
		{"http://idp.acme.example/", "acme", "a provider for one customer needs an https issuer"},
	} {
		f := url.Values{"name": {"acme-idp"}, "issuer": {tt.issuer}, "customer": {tt.customer}, "client_id": {"c"}, "client_secret": {"s"}}
		if r := e.post(op, "/admin/sso", f); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Not saved") || !strings.Contains(r.body, tt.want) {
			t.Errorf("issuer %s: %d, want 400 saying %q\n%s", tt.issuer, r.status, tt.want, r.body)
		}
	}
	if _, err := e.st.GetSSOProvider("acme-idp"); err == nil {
		t.Error("a refused provider was stored")
	}
	clash := url.Values{"name": {"acme-sso"}, "issuer": {"https://x.example"}, "client_id": {"c"}, "client_secret": {"s"}}
	if r := e.post(op, "/admin/sso", clash); r.status != http.StatusConflict || !strings.Contains(r.body, "set on the command line") {
		t.Errorf("name of the command line's provider: %d", r.status)
	}
	// Delete, behind a confirmation.
	if r := e.get(op, "/admin/sso/globex-entra/delete"); r.status != http.StatusOK || !strings.Contains(r.body, "Delete provider globex-entra?") {
		t.Errorf("confirmation: %d", r.status)
	}
	if r := e.post(op, "/admin/sso/globex-entra/delete", url.Values{}); r.status != http.StatusSeeOther {
		t.Errorf("delete: %d", r.status)
	}
	if list, _ := e.st.ListSSOProviders(); len(list) != 0 {
		t.Errorf("after delete: %+v", list)
	}
}

// Only operator admins manage providers: a provider decides who may sign
// in. Customers do not see the page at all.
func TestSSOPageAdminOnly(t *testing.T) {
	e := newEnv(t, envOptions{})
	form := url.Values{"name": {"x"}, "issuer": {"https://x.example"}, "client_id": {"c"}, "client_secret": {"s"}}
	c := e.signInPlainOperator()
	if r := e.get(c, "/admin/sso"); r.status != http.StatusForbidden {
		t.Errorf("a plain operator: %d, want 403", r.status)
	}
	if r := e.post(c, "/admin/sso", form); r.status != http.StatusForbidden {
		t.Errorf("a plain operator saving: %d, want 403", r.status)
	}
	cu := e.signIn(acmeUser)
	if r := e.get(cu, "/admin/sso"); r.status != http.StatusNotFound {
		t.Errorf("a customer: %d, want 404", r.status)
	}
	if r := e.post(cu, "/admin/sso", form); r.status != http.StatusNotFound {
		t.Errorf("a customer saving: %d, want 404", r.status)
	}
	if list, _ := e.st.ListSSOProviders(); len(list) != 0 {
		t.Errorf("providers stored: %+v", list)
	}
}
