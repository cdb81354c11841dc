package api_test

import (
	"net/http"
	"testing"
)

// TestSiteAddressAndZone: sites take and return an address and an IANA
// time zone on create, GET, list and PATCH; a zone the zone database does
// not know is refused naming the field, and nothing changes.
func TestSiteAddressAndZone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	site := "/api/v1/customers/acme/sites/acme-osaka"
	e.run(t, []scenario{
		{name: "create with both", method: http.MethodPost, path: "/api/v1/customers/acme/sites", as: asOperator,
			body:   `{"name": "acme-osaka", "address": "1-1 Umeda, Kita-ku, Osaka", "time_zone": "Asia/Tokyo"}`,
			status: http.StatusCreated, contains: []string{`"address":"1-1 Umeda, Kita-ku, Osaka"`, `"time_zone":"Asia/Tokyo"`}},
		{name: "create with a bad zone", method: http.MethodPost, path: "/api/v1/customers/acme/sites", as: asOperator,
			body: `{"name": "acme-mars", "time_zone": "Mars/Olympus"}`, status: http.StatusBadRequest, contains: []string{`field \"time_zone\"`, "Mars/Olympus"}},
		{name: "the refused site was not made", method: http.MethodGet, path: "/api/v1/customers/acme/sites/acme-mars", as: asOperator, status: http.StatusNotFound},
		{name: "a site without them says so", method: http.MethodGet, path: "/api/v1/customers/acme/sites/acme-hq", as: asAcme,
			status: http.StatusOK, contains: []string{`"address":""`, `"time_zone":""`}},
		{name: "get as its customer", method: http.MethodGet, path: site, as: asAcme,
			status: http.StatusOK, contains: []string{`"name":"acme-osaka"`, `"time_zone":"Asia/Tokyo"`}},
		{name: "another customer's site is absent", method: http.MethodGet, path: site, as: asGlobex, status: http.StatusNotFound},
		{name: "patch the zone only", method: http.MethodPatch, path: site, as: asOperator, body: `{"time_zone": "Europe/Berlin"}`,
			status: http.StatusOK, contains: []string{`"time_zone":"Europe/Berlin"`, `"address":"1-1 Umeda, Kita-ku, Osaka"`}},
		{name: "patch a bad zone", method: http.MethodPatch, path: site, as: asOperator, body: `{"time_zone": "Europe/Atlantis"}`,
			status: http.StatusBadRequest, contains: []string{`field \"time_zone\"`}},
		{name: "Local is not a zone name", method: http.MethodPatch, path: site, as: asOperator, body: `{"time_zone": "Local"}`,
			status: http.StatusBadRequest, contains: []string{`field \"time_zone\"`}},
		{name: "the zone stayed", method: http.MethodGet, path: site, as: asOperator, status: http.StatusOK, contains: []string{`"time_zone":"Europe/Berlin"`}},
		{name: "patch the address, clear the zone", method: http.MethodPatch, path: site, as: asOperator, body: `{"address": "Grand Front Osaka\nUmeda 3-1", "time_zone": ""}`,
			status: http.StatusOK, contains: []string{`"address":"Grand Front Osaka\nUmeda 3-1"`, `"time_zone":""`}},
		{name: "nothing to change", method: http.MethodPatch, path: site, as: asOperator, body: `{}`,
			status: http.StatusBadRequest, contains: []string{"nothing to change"}},
		{name: "an address with a control character", method: http.MethodPatch, path: site, as: asOperator, body: `{"address": "a\u0007b"}`,
			status: http.StatusBadRequest, contains: []string{"address"}},
		{name: "a customer may not change its site", method: http.MethodPatch, path: site, as: asAcme, body: `{"time_zone": "UTC"}`, status: http.StatusForbidden},
		{name: "the list shows both", method: http.MethodGet, path: "/api/v1/customers/acme/sites", as: asAcme,
			status: http.StatusOK, contains: []string{`"address":"Grand Front Osaka\nUmeda 3-1"`}},
	})
}
