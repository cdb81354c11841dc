package api_test

import (
	"net/http"
	"testing"

	"github.com/hearthiot/hearth/store"
)

func TestSSOProviders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addToken(t, asPlainOp, store.RoleOperator, "", store.AccessOperator)
	const okta = `{"display_name": "Acme Okta", "issuer": "https://acme.okta.example", "client_id": "hearth", "client_secret": "s3cret-value"}`
	e.run(t, []scenario{
		{name: "a customer may not", method: http.MethodGet, path: "/api/v1/sso-providers", as: asAcme, status: http.StatusForbidden},
		{name: "nor a plain operator", method: http.MethodPut, path: "/api/v1/sso-providers/acme-okta", as: asPlainOp, body: okta, status: http.StatusForbidden},
		{name: "an admin adds one", method: http.MethodPut, path: "/api/v1/sso-providers/acme-okta", as: asOperator, body: okta,
			status: http.StatusCreated, contains: []string{`"name":"acme-okta"`, `"client_secret_set":true`}, notContains: []string{"s3cret-value"}},
		{name: "the list never shows the secret", method: http.MethodGet, path: "/api/v1/sso-providers", as: asOperator,
			status: http.StatusOK, contains: []string{`"sso_providers":[{"name":"acme-okta"`, `"issuer":"https://acme.okta.example"`}, notContains: []string{"s3cret-value"}},
		{name: "an edit without a secret keeps it", method: http.MethodPut, path: "/api/v1/sso-providers/acme-okta", as: asOperator,
			body: `{"issuer": "https://acme.okta.example/oauth2/default", "client_id": "hearth-2"}`, status: http.StatusOK,
			contains: []string{`"client_id":"hearth-2"`, `"client_secret_set":true`}},
		{name: "a new one needs a secret", method: http.MethodPut, path: "/api/v1/sso-providers/globex", as: asOperator,
			body: `{"issuer": "https://login.globex.example", "client_id": "hearth"}`, status: http.StatusBadRequest, contains: []string{"client secret is empty"}},
		{name: "an issuer must be a URL", method: http.MethodPut, path: "/api/v1/sso-providers/globex", as: asOperator,
			body: `{"issuer": "login.globex.example", "client_id": "hearth", "client_secret": "x"}`, status: http.StatusBadRequest, contains: []string{"an http or https URL"}},
		{name: "an issuer may not be the cloud's metadata service", method: http.MethodPut, path: "/api/v1/sso-providers/globex", as: asOperator,
			body: `{"issuer": "http://169.254.169.254/latest/meta-data/", "client_id": "hearth", "client_secret": "x"}`, status: http.StatusBadRequest,
			contains: []string{"169.254.169.254 is a cloud instance metadata service, refused"}},
		{name: "nor another link-local host", method: http.MethodPut, path: "/api/v1/sso-providers/globex", as: asOperator,
			body: `{"issuer": "https://[fe80::1]/", "client_id": "hearth", "client_secret": "x"}`, status: http.StatusBadRequest,
			contains: []string{"a link-local address"}},
		{name: "a customer's provider needs https", method: http.MethodPut, path: "/api/v1/sso-providers/globex", as: asOperator,
			body: `{"issuer": "http://login.acme.example", "client_id": "hearth", "client_secret": "x", "customer": "acme"}`, status: http.StatusBadRequest,
			contains: []string{"needs an https issuer"}},
		{name: "a name must fit a URL path", method: http.MethodPut, path: "/api/v1/sso-providers/a%20b", as: asOperator, body: okta,
			status: http.StatusBadRequest, contains: []string{"provider name"}},
		{name: "unknown fields are refused", method: http.MethodPut, path: "/api/v1/sso-providers/globex", as: asOperator,
			body: `{"issuer": "https://x.example", "client_id": "h", "client_secret": "x", "scopes": ["openid"]}`, status: http.StatusBadRequest},
		{name: "show one", method: http.MethodGet, path: "/api/v1/sso-providers/acme-okta", as: asOperator, status: http.StatusOK,
			contains: []string{`"issuer":"https://acme.okta.example/oauth2/default"`}},
		{name: "delete it", method: http.MethodDelete, path: "/api/v1/sso-providers/acme-okta", as: asOperator, status: http.StatusNoContent},
		{name: "gone", method: http.MethodGet, path: "/api/v1/sso-providers/acme-okta", as: asOperator, status: http.StatusNotFound},
		{name: "deleting it again", method: http.MethodDelete, path: "/api/v1/sso-providers/acme-okta", as: asOperator, status: http.StatusNotFound},
	})
}
