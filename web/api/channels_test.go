package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/store"
)

const (
	asAcmeAdmin  = "acme-admin"
	channelsPath = "/api/v1/notification-channels"
)

// TestChannelsAPI: the contract of creating a channel, bad input refused
// naming the field, who may manage and who may only read, a test message
// to a real receiver, and the outbox with its retry.
func TestChannelsAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{realClock: true})
	e.addToken(t, asAcmeAdmin, store.RoleCustomer, acme, store.AccessAdmin)
	e.addToken(t, asAcmeViewer, store.RoleCustomer, acme, store.AccessViewer)
	var got atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(notify.HeaderSignature) == "" || !json.Valid(body) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(receiver.Close)
	acmeHook := channelsPath + "/ops-hook?customer=acme"
	e.run(t, []scenario{
		{name: "the contract: a webhook, with its secret shown once", method: "POST", path: channelsPath, as: asOperator,
			body:   `{"name":"ops-hook","customer":"acme","kind":"webhook","url":"` + receiver.URL + `/hearth"}`,
			status: 201, contains: []string{`"name":"ops-hook"`, `"customer":"acme"`, `"kind":"webhook"`, `"url":"` + receiver.URL + `/hearth"`, `"secret":"whsec_`, `"signed":true`}},
		{name: "the name is taken", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"ops-hook","customer":"acme","kind":"webhook","url":"https://x.example/"}`, status: 409, contains: []string{"ops-hook"}},
		{name: "slack", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"ops-slack","customer":"acme","kind":"slack","url":"https://hooks.slack.com/services/T0/B0/XYZ"}`, status: 201,
			notContains: []string{`"secret"`}},
		{name: "e-mail", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"facility","customer":"acme","kind":"email","to":["FM@acme.example","ops@acme.example"]}`, status: 201,
			contains: []string{`"to":["fm@acme.example","ops@acme.example"]`}},
		{name: "e-mail addresses as one string", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"night","customer":"acme","kind":"email","to":"night@acme.example, ops@acme.example"}`, status: 201,
			contains: []string{`"to":["night@acme.example","ops@acme.example"]`}},
		{name: "to neither a string nor a list", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"odd","customer":"acme","kind":"email","to":7}`, status: 400, contains: []string{`field \"to\"`}},
		{name: "never shown again", method: "GET", path: acmeHook, as: asOperator, status: 200,
			contains: []string{`"signed":true`}, notContains: []string{"whsec_", `"secret"`}},

		// Bad input: 400, naming the field.
		{name: "a non-HTTP scheme", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"x","customer":"acme","kind":"webhook","url":"ftp://files.example/drop"}`, status: 400, contains: []string{`field \"url\"`, `scheme \"ftp\"`}},
		{name: "a file URL", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"x","customer":"acme","kind":"slack","url":"file:///etc/passwd"}`, status: 400, contains: []string{`field \"url\"`}},
		{name: "Hearth itself", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"x","customer":"acme","kind":"webhook","url":"https://localhost:8443/api/v1/devices"}`, status: 400, contains: []string{`field \"url\"`, "Hearth itself"}},
		{name: "no url", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"x","customer":"acme","kind":"webhook"}`, status: 400, contains: []string{`field \"url\": required`}},
		{name: "no addresses", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"x","customer":"acme","kind":"email"}`, status: 400, contains: []string{`field \"to\": required`}},
		{name: "a bad address", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"x","customer":"acme","kind":"email","to":["facility"]}`, status: 400, contains: []string{"facility"}},
		{name: "an unknown kind", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"x","customer":"acme","kind":"pager","url":"https://x.example/"}`, status: 400, contains: []string{`field \"kind\" \"pager\"`}},
		{name: "no kind", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"x","customer":"acme","url":"https://x.example/"}`, status: 400, contains: []string{`field \"kind\": required`}},
		{name: "no name", method: "POST", path: channelsPath, as: asOperator,
			body: `{"customer":"acme","kind":"webhook","url":"https://x.example/"}`, status: 400, contains: []string{`field \"name\": required`}},
		{name: "no customer from an operator", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"x","kind":"webhook","url":"https://x.example/"}`, status: 400, contains: []string{`field \"customer\": required`}},
		{name: "an unknown field", method: "POST", path: channelsPath, as: asOperator,
			body: `{"name":"x","customer":"acme","kind":"webhook","url":"https://x.example/","secret":"mine"}`, status: 400, contains: []string{"secret"}},
		{name: "an operator names the customer of a channel", method: "GET", path: channelsPath + "/ops-hook", as: asOperator, status: 400,
			contains: []string{`parameter \"customer\": required`}},

		// Who may do what.
		{name: "a customer lists its own", method: "GET", path: channelsPath, as: asAcmeViewer, status: 200,
			contains: []string{`"name":"facility"`, `"name":"ops-hook"`, `"name":"ops-slack"`}},
		{name: "and reads one without naming itself", method: "GET", path: channelsPath + "/ops-hook", as: asAcme, status: 200},
		{name: "a viewer may not test", method: "POST", path: channelsPath + "/ops-hook/test", as: asAcmeViewer, status: 403},
		{name: "an editor may not change", method: "PATCH", path: channelsPath + "/ops-hook", as: asAcme, body: `{"url":"https://x.example/"}`, status: 403,
			contains: []string{"admins"}},
		{name: "nor create", method: "POST", path: channelsPath, as: asAcme, body: `{"name":"mine","kind":"webhook","url":"https://x.example/"}`, status: 403},
		{name: "the customer's admin creates for its own customer", method: "POST", path: channelsPath, as: asAcmeAdmin,
			body: `{"name":"mine","kind":"slack","url":"https://hooks.slack.com/services/T1/B1/Z"}`, status: 201, contains: []string{`"customer":"acme"`}},
		{name: "and changes it", method: "PATCH", path: channelsPath + "/mine", as: asAcmeAdmin,
			body: `{"url":"https://hooks.slack.com/services/T1/B1/Y"}`, status: 200, contains: []string{"/T1/B1/Y"}},
		{name: "not its kind", method: "PATCH", path: channelsPath + "/mine", as: asAcmeAdmin, body: `{"kind":"email"}`, status: 400},
		{name: "nor to a scheme that is not HTTP", method: "PATCH", path: channelsPath + "/mine", as: asAcmeAdmin,
			body: `{"url":"gopher://x"}`, status: 400, contains: []string{`field \"url\"`}},
		{name: "a slack channel has no secret to rotate", method: "PATCH", path: channelsPath + "/mine", as: asAcmeAdmin,
			body: `{"rotate_secret":true}`, status: 400, contains: []string{"rotate_secret"}},
		{name: "and deletes it", method: "DELETE", path: channelsPath + "/mine", as: asAcmeAdmin, status: 204},
		{name: "gone", method: "GET", path: channelsPath + "/mine", as: asAcme, status: 404},

		// A test message to the real receiver.
		{name: "test", method: "POST", path: channelsPath + "/ops-hook/test?customer=acme", as: asOperator, status: 200,
			contains: []string{`"delivered":true`, `"status":202`}},
		{name: "a new secret, shown once", method: "PATCH", path: acmeHook, as: asAcmeAdmin, body: `{"rotate_secret":true}`, status: 200,
			contains: []string{`"secret":"whsec_`}},
	})
	if got.Load() != 1 {
		t.Errorf("the receiver got %d test messages, want 1", got.Load())
	}

	// The outbox: a delivery to a channel that does not exist is dead at
	// once; an admin retries it once the channel is there.
	if err := e.notify.Enqueue(context.Background(), notify.Message{Key: "acme-1", Customer: acme, Device: acmeDevice, State: notify.StateActive,
		Title: "boiler offline", Channels: []string{"ops-hook", "later"}}); err != nil {
		t.Fatal(err)
	}
	dead, err := e.store.Deliveries(store.DeliveryQuery{Customer: acme, Status: store.DeliveryDead})
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead deliveries %+v, %v", dead, err)
	}
	retry := "/api/v1/notification-deliveries/" + strconv.FormatUint(dead[0].ID, 10) + "/retry"
	e.run(t, []scenario{
		{name: "pending", method: "GET", path: "/api/v1/notification-deliveries?status=pending", as: asAcmeViewer, status: 200,
			contains: []string{`"key":"acme-1"`, `"channel":"ops-hook"`, `"status":"pending"`, `"next_attempt"`}, notContains: []string{`"channel":"later"`}},
		{name: "dead", method: "GET", path: "/api/v1/notification-deliveries?status=dead&customer=acme", as: asOperator, status: 200,
			contains: []string{`"channel":"later"`, "no notification channel named"}},
		{name: "a status that does not exist", method: "GET", path: "/api/v1/notification-deliveries?status=lost", as: asOperator, status: 400,
			contains: []string{`parameter \"status\"`}},
		{name: "a limit out of range", method: "GET", path: "/api/v1/notification-deliveries?limit=0", as: asOperator, status: 400},
		{name: "a viewer may not retry", method: "POST", path: retry, as: asAcmeViewer, status: 403},
		{name: "the channel appears", method: "POST", path: channelsPath, as: asAcmeAdmin,
			body: `{"name":"later","kind":"webhook","url":"https://hooks.acme.example/"}`, status: 201},
		{name: "retry", method: "POST", path: retry, as: asAcmeAdmin, status: 200, contains: []string{`"status":"pending"`, `"attempts":0`}},
		{name: "a pending one is not retried", method: "POST", path: retry, as: asAcmeAdmin, status: 400, contains: []string{"only a dead one"}},
		{name: "an id that is not one", method: "POST", path: "/api/v1/notification-deliveries/x/retry", as: asOperator, status: 400},
	})
}

// TestNotificationPrefsAPI: operator admins set anyone's preferences;
// everyone else, through the API, is refused.
func TestNotificationPrefsAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addToken(t, asPlainOp, store.RoleOperator, "", store.AccessOperator)
	path := "/api/v1/users/" + globexUser + "/notifications"
	e.run(t, []scenario{
		{name: "none yet", method: "GET", path: path, as: asOperator, status: 200, contains: []string{`"severities":[]`, `"quiet_hours":null`}},
		{name: "set", method: "PUT", path: path, as: asOperator,
			body:   `{"severities":["critical","major"],"quiet_hours":{"from":"22:00","to":"07:00","time_zone":"Asia/Tokyo","allow":["critical"]}}`,
			status: 200, contains: []string{`"severities":["critical","major"]`, `"from":"22:00"`, `"allow":["critical"]`}},
		{name: "read back", method: "GET", path: path, as: asOperator, status: 200, contains: []string{`"time_zone":"Asia/Tokyo"`}},
		{name: "a bad time", method: "PUT", path: path, as: asOperator, body: `{"quiet_hours":{"from":"25:00","to":"07:00"}}`, status: 400,
			contains: []string{"quiet_hours.from"}},
		{name: "a zone that does not exist", method: "PUT", path: path, as: asOperator, body: `{"quiet_hours":{"from":"22:00","to":"07:00","time_zone":"Mars/Olympus"}}`,
			status: 400, contains: []string{"quiet_hours.time_zone"}},
		{name: "a severity that does not exist", method: "PUT", path: path, as: asOperator, body: `{"severities":["urgent"]}`, status: 400,
			contains: []string{`\"urgent\" is not a severity`}},
		{name: "a plain operator may not", method: "PUT", path: path, as: asPlainOp, body: `{"severities":["minor"]}`, status: 403},
		{name: "nor a customer's token", method: "GET", path: path, as: asGlobex, status: 403},
		{name: "nobody by that address", method: "GET", path: "/api/v1/users/nobody@acme.example/notifications", as: asOperator, status: 404},
		{name: "cleared", method: "PUT", path: path, as: asOperator, body: `{"severities":[]}`, status: 200, contains: []string{`"quiet_hours":null`}},
	})
}
