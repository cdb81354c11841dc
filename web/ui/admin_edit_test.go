package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/store"
)

func TestEditPages(t *testing.T) {
	e := newEnv(t, envOptions{})
	op := e.signIn(opUser)
	if _, err := e.reg.CreateSite(store.Site{Customer: "acme", Name: "annex"}); err != nil {
		t.Fatal(err)
	}

	r := e.get(op, "/admin/devices/acme-chiller-1")
	if !strings.Contains(r.body, `href="/admin/devices/acme-chiller-1/edit"`) {
		t.Error("the device page has no edit link")
	}
	r = e.get(op, "/admin/devices/acme-chiller-1/edit")
	if r.status != http.StatusOK || !strings.Contains(r.body, `<option value="annex"`) || !strings.Contains(r.body, `value="chiller" selected`) {
		t.Fatalf("device edit form: %d\n%s", r.status, r.body)
	}
	if strings.Contains(r.body, "osaka-dome") {
		t.Error("the device's site choices include another customer's site")
	}
	r = e.post(op, "/admin/devices/acme-chiller-1/edit", url.Values{"site": {"annex"}, "type": {""}, "attributes": {"serial = A-123\n\nfloor=B2"}})
	if r.status != http.StatusSeeOther || r.location != "/admin/devices/acme-chiller-1" {
		t.Fatalf("save: %d %q\n%s", r.status, r.location, r.body)
	}
	d, err := e.reg.Device("acme-chiller-1")
	if err != nil || d.Site != "annex" || d.Type != "" || d.Attributes["serial"] != "A-123" || d.Attributes["floor"] != "B2" {
		t.Errorf("device after the edit: %+v %v", d, err)
	}
	if r := e.get(op, "/admin/devices/acme-chiller-1"); !strings.Contains(r.body, "Saved.") {
		t.Error("no notice after saving")
	}
	// A refused edit keeps what was typed and says why.
	r = e.post(op, "/admin/devices/acme-chiller-1/edit", url.Values{"site": {"annex"}, "attributes": {"no equals sign"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "write key=value") || !strings.Contains(r.body, "no equals sign") {
		t.Errorf("bad attributes: %d\n%s", r.status, r.body)
	}
	r = e.post(op, "/admin/devices/acme-chiller-1/edit", url.Values{"site": {"osaka-dome"}})
	if r.status != http.StatusBadRequest {
		t.Errorf("moving the device to another customer's site: %d, want 400", r.status)
	}
	if d, _ := e.reg.Device("acme-chiller-1"); d.Site != "annex" {
		t.Errorf("a refused edit moved the device to %q", d.Site)
	}

	// Customer and site display names.
	if r := e.post(op, "/admin/customers/acme/edit", url.Values{"display_name": {"Acme Corp."}}); r.status != http.StatusSeeOther {
		t.Fatalf("rename customer: %d\n%s", r.status, r.body)
	}
	if c, _ := e.st.GetCustomer("acme"); c.DisplayName != "Acme Corp." {
		t.Errorf("customer after rename: %+v", c)
	}
	if r := e.post(op, "/admin/customers/acme/sites/annex/edit", url.Values{"display_name": {"The Annex"}}); r.status != http.StatusSeeOther {
		t.Fatalf("rename site: %d\n%s", r.status, r.body)
	}
	if s, _ := e.st.GetSite("acme", "annex"); s.DisplayName != "The Annex" {
		t.Errorf("site after rename: %+v", s)
	}
	if r := e.get(op, "/admin/customers/acme/sites/nowhere/edit"); r.status != http.StatusNotFound {
		t.Errorf("edit a site that does not exist: %d", r.status)
	}
	if r := e.get(op, "/admin/customers/acme"); !strings.Contains(r.body, `href="/admin/customers/acme/edit"`) || !strings.Contains(r.body, `href="/admin/customers/acme/sites/annex/edit"`) {
		t.Error("the customer page lacks its edit links")
	}
	// The customer's devices are its devices, not those whose name
	// happens to contain the customer's.
	if r := e.get(op, "/admin/customers/acme"); !strings.Contains(r.body, `href="/admin/devices?customer=acme"`) {
		t.Error("the customer page does not link to its devices by the customer filter")
	}
}
