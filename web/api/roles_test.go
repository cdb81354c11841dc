package api_test

import (
	"net/http"
	"testing"

	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/store"
)

const (
	asAcmeViewer  = "acme-viewer"
	asPlainOp     = "plain-operator"
	boilerSetting = `{"settings": [{"key": "flow_temp", "type": "number", "minimum": 40, "maximum": 75, "customer_editable": true}]}`
)

// addToken gives env a token with an access level.
func (e *env) addToken(t *testing.T, name, role, customer, access string) {
	t.Helper()
	plain, id, hash := secret.NewToken()
	if err := e.store.CreateToken(store.Token{ID: id, Name: name, Role: role, Customer: customer, Access: access, Hash: hash}); err != nil {
		t.Fatal(err)
	}
	e.tokens[name], e.tokenIDs[name] = plain, id
}

func TestAccessLevels(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{realClock: true})
	e.addToken(t, asAcmeViewer, store.RoleCustomer, acme, store.AccessViewer)
	e.addToken(t, asPlainOp, store.RoleOperator, "", store.AccessOperator)
	e.run(t, []scenario{
		{name: "define the type", method: http.MethodPut, path: "/api/v1/device-types/boiler", as: asOperator, body: boilerSetting, status: http.StatusCreated},
		{name: "an editor changes a setting", method: http.MethodPatch, path: acmeShadow, as: asAcme,
			body: `{"state":{"desired":{"flow_temp":50}}}`, status: http.StatusOK},
		{name: "a viewer reads it", method: http.MethodGet, path: acmeShadow, as: asAcmeViewer, status: http.StatusOK, contains: []string{`"flow_temp":50`}},
		{name: "a viewer may not change it", method: http.MethodPatch, path: acmeShadow, as: asAcmeViewer,
			body: `{"state":{"desired":{"flow_temp":55}}}`, status: http.StatusForbidden, contains: []string{"viewers may read settings but not change them"}},
		{name: "a plain operator changes settings", method: http.MethodPatch, path: acmeShadow, as: asPlainOp,
			body: `{"state":{"desired":{"flow_temp":60}}}`, status: http.StatusOK},
		{name: "a plain operator may not create users", method: http.MethodPost, path: "/api/v1/users", as: asPlainOp,
			body: `{"email": "x@acme.example", "role": "customer", "customer": "acme"}`, status: http.StatusForbidden},
		{name: "nor tokens", method: http.MethodPost, path: "/api/v1/tokens", as: asPlainOp,
			body: `{"role": "operator", "name": "escalate"}`, status: http.StatusForbidden},
		{name: "nor list them", method: http.MethodGet, path: "/api/v1/tokens", as: asPlainOp, status: http.StatusForbidden},
		{name: "an admin creates a viewer", method: http.MethodPost, path: "/api/v1/users", as: asOperator,
			body:   `{"email": "v@acme.example", "role": "customer", "customer": "acme", "access": "viewer"}`,
			status: http.StatusCreated, contains: []string{`"access":"viewer"`}},
		{name: "an access the role does not have", method: http.MethodPost, path: "/api/v1/tokens", as: asOperator,
			body: `{"role": "customer", "customer": "acme", "access": "operator", "name": "odd"}`, status: http.StatusBadRequest,
			contains: []string{`access \"operator\" for role \"customer\"`}},
		{name: "listed tokens show their access", method: http.MethodGet, path: "/api/v1/tokens", as: asOperator,
			status: http.StatusOK, contains: []string{`"name":"acme-viewer","role":"customer","access":"viewer"`, `"name":"operator-token","role":"operator","access":"admin"`}},
	})
}
