package api_test

import (
	"net/http"
	"testing"
)

func TestEdits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	dev := "/api/v1/devices/" + acmeDevice
	e.run(t, []scenario{
		{name: "a second site for acme", method: http.MethodPost, path: "/api/v1/customers/acme/sites", as: asOperator, body: `{"name": "acme-annex"}`, status: http.StatusCreated},
		{name: "move the device", method: http.MethodPatch, path: dev, as: asOperator, body: `{"site": "acme-annex"}`,
			status: http.StatusOK, contains: []string{`"site":"acme-annex"`, `"type":"boiler"`}},
		{name: "to a site that does not exist", method: http.MethodPatch, path: dev, as: asOperator, body: `{"site": "nowhere"}`,
			status: http.StatusBadRequest, contains: []string{`no site named \"nowhere\"`}},
		{name: "to another customer's site", method: http.MethodPatch, path: dev, as: asOperator, body: `{"site": "` + globexSite + `"}`,
			status: http.StatusBadRequest},
		{name: "to a type nobody defined", method: http.MethodPatch, path: dev, as: asOperator, body: `{"type": "chiller"}`,
			status: http.StatusBadRequest, contains: []string{`no device type named \"chiller\"`}},
		{name: "define the type", method: http.MethodPut, path: "/api/v1/device-types/chiller", as: asOperator, body: `{"settings": []}`, status: http.StatusCreated},
		{name: "change the type and the attributes", method: http.MethodPatch, path: dev, as: asOperator, body: `{"type": "chiller", "attributes": {"serial": "A-123"}}`,
			status: http.StatusOK, contains: []string{`"type":"chiller"`, `"serial":"A-123"`, `"site":"acme-annex"`}},
		{name: "a bad attribute name", method: http.MethodPatch, path: dev, as: asOperator, body: `{"attributes": {"bad name": "x"}}`,
			status: http.StatusBadRequest, contains: []string{"attribute name"}},
		{name: "fields it does not have", method: http.MethodPatch, path: dev, as: asOperator, body: `{"customer": "globex"}`, status: http.StatusBadRequest},
		{name: "a customer may not", method: http.MethodPatch, path: dev, as: asAcme, body: `{"type": "x"}`, status: http.StatusForbidden},
		{name: "rename the customer", method: http.MethodPatch, path: "/api/v1/customers/acme", as: asOperator, body: `{"display_name": "Acme Corp."}`,
			status: http.StatusOK, contains: []string{`"display_name":"Acme Corp."`}},
		{name: "a display name is required", method: http.MethodPatch, path: "/api/v1/customers/acme", as: asOperator, body: `{}`, status: http.StatusBadRequest},
		{name: "rename a site", method: http.MethodPatch, path: "/api/v1/customers/acme/sites/acme-annex", as: asOperator, body: `{"display_name": "Annex"}`,
			status: http.StatusOK, contains: []string{`"display_name":"Annex"`}},
		{name: "a site that does not exist", method: http.MethodPatch, path: "/api/v1/customers/acme/sites/nowhere", as: asOperator, body: `{"display_name": "x"}`, status: http.StatusNotFound},
		{name: "a customer may not rename itself", method: http.MethodPatch, path: "/api/v1/customers/acme", as: asAcme, body: `{"display_name": "x"}`, status: http.StatusForbidden},
		{name: "the site list shows the new name", method: http.MethodGet, path: "/api/v1/customers/acme/sites", as: asAcme, status: http.StatusOK, contains: []string{`"display_name":"Annex"`}},
	})
}
