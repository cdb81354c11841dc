package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/gate/secret"
	"github.com/hearthiot/hearth/store"
)

// addCustomerTokens gives acme an admin and a viewer token beside the
// seed's editor one.
func (e *env) addCustomerTokens(t *testing.T) {
	t.Helper()
	e.addToken(t, asAcmeAdmin, store.RoleCustomer, acme, store.AccessAdmin)
	e.addToken(t, asAcmeViewer, store.RoleCustomer, acme, store.AccessViewer)
}

// TestCustomerAdminTokens: a customer's admin creates, lists and deletes
// its own customer's tokens, never another's or the operators', and gives
// none more than its own access; editors and viewers manage none.
func TestCustomerAdminTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addCustomerTokens(t)
	rec := e.do(t, e.api.Handler(), scenario{method: "POST", path: "/api/v1/tokens", as: asAcmeAdmin, body: `{"name":"grafana","role":"customer"}`})
	if rec.Code != http.StatusCreated {
		t.Fatalf("a customer admin creating a token: %d %s", rec.Code, rec.Body)
	}
	var created struct{ ID, Customer, Access, Token string }
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	if created.Customer != acme || created.Access != store.AccessEditor || !strings.HasPrefix(created.Token, secret.TokenPrefix) {
		t.Fatalf("created %+v: want an editor token of acme with its secret", created)
	}
	e.tokens["grafana"] = created.Token
	opsID, globexID := e.tokenIDs[asOperator], e.tokenIDs[asGlobex]
	e.run(t, []scenario{
		{name: "the new token reads acme", method: "GET", path: "/api/v1/devices", as: "grafana", status: 200, contains: []string{acmeDevice}, notContains: []string{globexDevice}},
		{name: "the new token is no admin", method: "GET", path: "/api/v1/tokens", as: "grafana", status: 403},
		{name: "its own customer named", method: "POST", path: "/api/v1/tokens", as: asAcmeAdmin, body: `{"name":"ci","role":"customer","customer":"acme","access":"admin"}`,
			status: 201, contains: []string{`"customer":"acme"`, `"access":"admin"`}},
		{name: "another customer", method: "POST", path: "/api/v1/tokens", as: asAcmeAdmin, body: `{"name":"x","role":"customer","customer":"globex"}`,
			status: 404, notContains: []string{globex}},
		{name: "role operator", method: "POST", path: "/api/v1/tokens", as: asAcmeAdmin, body: `{"name":"x","role":"operator"}`, status: 403},
		{name: "an operator level", method: "POST", path: "/api/v1/tokens", as: asAcmeAdmin, body: `{"name":"x","role":"customer","access":"operator"}`, status: 400},
		{name: "names unique per customer", method: "POST", path: "/api/v1/tokens", as: asAcmeAdmin, body: `{"name":"grafana","role":"customer"}`, status: 409},
		{name: "list", method: "GET", path: "/api/v1/tokens", as: asAcmeAdmin, status: 200,
			contains:    []string{`"name":"grafana"`, `"name":"ci"`, `"name":"acme-token"`, `"name":"acme-admin"`},
			notContains: []string{opsID, globexID, "operator-token", "globex-token", `"role":"operator"`}},
		{name: "an editor lists none", method: "GET", path: "/api/v1/tokens", as: asAcme, status: 403},
		{name: "an editor creates none", method: "POST", path: "/api/v1/tokens", as: asAcme, body: `{"name":"x","role":"customer"}`, status: 403},
		{name: "a viewer creates none", method: "POST", path: "/api/v1/tokens", as: asAcmeViewer, body: `{"name":"x","role":"customer"}`, status: 403},
		{name: "a viewer deletes none", method: "DELETE", path: "/api/v1/tokens/" + created.ID, as: asAcmeViewer, status: 403},
		{name: "another customer's token is absent", method: "DELETE", path: "/api/v1/tokens/" + globexID, as: asAcmeAdmin, status: 404},
		{name: "the operators' token is absent", method: "DELETE", path: "/api/v1/tokens/" + opsID, as: asAcmeAdmin, status: 404},
		{name: "delete its own customer's", method: "DELETE", path: "/api/v1/tokens/" + created.ID, as: asAcmeAdmin, status: 204},
		{name: "the deleted token stops", method: "GET", path: "/api/v1/devices", as: "grafana", status: 401},
		{name: "globex's token still works", method: "GET", path: "/api/v1/devices", as: asGlobex, status: 200},
	})
	if _, err := e.store.GetToken(globexID); err != nil {
		t.Errorf("globex's token after the test: %v", err)
	}
}

// TestCustomerAdminUsers: a customer's admin invites, lists, changes and
// deletes its own customer's users only, gives no level above its own,
// and may not take away its customer's last enabled admin user.
func TestCustomerAdminUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addCustomerTokens(t)
	if err := e.store.CreateUser(store.User{Email: operatorEmail, Role: store.RoleOperator}); err != nil {
		t.Fatal(err)
	}
	u := "/api/v1/users/"
	e.run(t, []scenario{
		{name: "invite", method: "POST", path: "/api/v1/users", as: asAcmeAdmin, body: `{"email":"Boss@Acme.example","role":"customer","access":"admin","invite":true}`,
			status: 201, contains: []string{`"email":"boss@acme.example"`, `"customer":"acme"`, `"access":"admin"`, `"invited":true`, `"set_password_link":"/set-password/`, `"invite_expires":"2026-11-12T08:00:00Z"`},
			notContains: []string{`"password"`, `"emailed"`}},
		{name: "invite with a password", method: "POST", path: "/api/v1/users", as: asAcmeAdmin, body: `{"email":"x@acme.example","role":"customer","invite":true,"password":"long enough secret"}`,
			status: 400, contains: []string{`field \"password\": leave it out`}},
		{name: "create with a generated password", method: "POST", path: "/api/v1/users", as: asAcmeAdmin, body: `{"email":"fm@acme.example","role":"customer"}`,
			status: 201, contains: []string{`"customer":"acme"`, `"access":"editor"`, `"password":"`}},
		{name: "an admin who can sign in", method: "POST", path: "/api/v1/users", as: asAcmeAdmin, body: `{"email":"chief@acme.example","role":"customer","access":"admin"}`,
			status: 201, contains: []string{`"access":"admin"`, `"password":"`}},
		{name: "another customer", method: "POST", path: "/api/v1/users", as: asAcmeAdmin, body: `{"email":"x@globex.example","role":"customer","customer":"globex","invite":true}`,
			status: 404, notContains: []string{globex}},
		{name: "an operator", method: "POST", path: "/api/v1/users", as: asAcmeAdmin, body: `{"email":"x@hearth.example","role":"operator","invite":true}`, status: 403},
		{name: "list", method: "GET", path: "/api/v1/users", as: asAcmeAdmin, status: 200,
			contains: []string{"boss@acme.example", "fm@acme.example"}, notContains: []string{globexUser, operatorEmail, "invite_hash"}},
		{name: "an editor lists none", method: "GET", path: "/api/v1/users", as: asAcme, status: 403},
		{name: "a viewer invites none", method: "POST", path: "/api/v1/users", as: asAcmeViewer, body: `{"email":"y@acme.example","role":"customer","invite":true}`, status: 403},
		{name: "a viewer changes none", method: "PATCH", path: u + "fm@acme.example", as: asAcmeViewer, body: `{"access":"viewer"}`, status: 403},
		{name: "make a viewer", method: "PATCH", path: u + "fm@acme.example", as: asAcmeAdmin, body: `{"access":"viewer"}`, status: 200, contains: []string{`"access":"viewer"`}},
		{name: "no operator level", method: "PATCH", path: u + "fm@acme.example", as: asAcmeAdmin, body: `{"access":"operator"}`, status: 400},
		// An invited admin who has not set a password holds no seat: the
		// link may expire unused.
		{name: "the last admin stays admin", method: "PATCH", path: u + "chief@acme.example", as: asAcmeAdmin, body: `{"access":"editor"}`,
			status: 409, contains: []string{"last enabled admin of customer acme"}},
		{name: "the last admin stays enabled", method: "PATCH", path: u + "chief@acme.example", as: asAcmeAdmin, body: `{"disabled":true}`, status: 409},
		{name: "the last admin stays", method: "DELETE", path: u + "chief@acme.example", as: asAcmeAdmin, status: 409},
		{name: "an invited admin is no seat", method: "PATCH", path: u + "boss@acme.example", as: asAcmeAdmin, body: `{"access":"editor"}`, status: 200},
		{name: "a second admin", method: "PATCH", path: u + "fm@acme.example", as: asAcmeAdmin, body: `{"access":"admin"}`, status: 200},
		{name: "now the first may step down", method: "PATCH", path: u + "chief@acme.example", as: asAcmeAdmin, body: `{"access":"editor","disabled":true}`,
			status: 200, contains: []string{`"access":"editor"`, `"disabled":true`}},
		{name: "another customer's user is absent", method: "PATCH", path: u + globexUser, as: asAcmeAdmin, body: `{"disabled":true}`, status: 404, notContains: []string{globexUser}},
		{name: "an operator is absent", method: "PATCH", path: u + operatorEmail, as: asAcmeAdmin, body: `{"access":"viewer"}`, status: 404},
		{name: "another customer's user is not deleted", method: "DELETE", path: u + globexUser, as: asAcmeAdmin, status: 404},
		{name: "an operator is not deleted", method: "DELETE", path: u + operatorEmail, as: asAcmeAdmin, status: 404},
		{name: "another customer's user keeps their password", method: "POST", path: u + globexUser + "/reset-password", as: asAcmeAdmin, status: 404},
		{name: "reset its own user's password", method: "POST", path: u + "boss@acme.example/reset-password", as: asAcmeAdmin, status: 200, contains: []string{`"password":"`}},
		{name: "delete its own user", method: "DELETE", path: u + "boss@acme.example", as: asAcmeAdmin, status: 204},
		{name: "operators may leave a customer without admins", method: "PATCH", path: u + "fm@acme.example", as: asOperator, body: `{"disabled":true}`, status: 200},
	})
	if g, err := e.store.GetUser(globexUser); err != nil || g.Disabled {
		t.Errorf("globex's user after the test: %+v %v", g, err)
	}
	if o, err := e.store.GetUser(operatorEmail); err != nil || o.Access != "" {
		t.Errorf("the operator after the test: %+v %v", o, err)
	}
}
