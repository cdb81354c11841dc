package ui_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/store"
)

// seedChannel stores a channel as it is, past the gate's checks.
func (e *env) seedChannel(c store.NotificationChannel) store.NotificationChannel {
	e.t.Helper()
	out, err := e.st.CreateNotificationChannel(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// channels lists a customer's stored channels.
func (e *env) channels(customer string) []store.NotificationChannel {
	e.t.Helper()
	cs, err := e.st.ListNotificationChannels(customer)
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

// receiver is a real webhook receiver over HTTP: it keeps what it was
// sent and answers with status.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    []received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	rc := &receiver{status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Header.Clone(), body})
		status := rc.status
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// signedBy reports whether a request carries the signature of its body
// under secret, as a receiver checks it.
func (r received) signedBy(secret string) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(r.body)
	return hmac.Equal([]byte(r.header.Get(notify.HeaderSignature)), []byte("sha256="+hex.EncodeToString(mac.Sum(nil))))
}

// shownSecret is the signing secret a page shows, or "".
var shownSecretRE = regexp.MustCompile(`id="channel-secret">(whsec_[0-9a-f]+)<`)

func shownSecret(body string) string {
	if m := shownSecretRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// TestChannelPages: a customer's admin creates a webhook, whose secret is
// shown once; a bad address is refused next to the form and nothing is
// stored; the address changes, the secret rotates (shown once again),
// Send test reaches a real receiver signed with the current secret, and
// the channel is deleted behind a confirmation.
func TestChannelPages(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seedAlarms(time.Now().Add(-time.Hour))
	rc := newReceiver(t, http.StatusAccepted)
	admin := e.signIn(acmeAdmin)

	r := e.get(admin, "/alarms")
	contains(t, "the alarms' sub-navigation", r, http.StatusOK, `href="/alarms/channels"`, `href="/alarms/rules"`)
	r = e.get(admin, "/alarms/channels")
	contains(t, "no channels", r, http.StatusOK, "Notification channels", "No channels yet.", "New channel", `name="url"`, `name="to"`,
		`<option value="webhook" selected>Webhook</option>`, `<option value="email">E-mail</option>`, `aria-current="page"`)
	if strings.Contains(r.body, `name="customer"`) {
		t.Error("a customer's form offers a customer")
	}

	// Bad addresses: the gate's text next to the form, what was typed
	// kept, nothing stored.
	for _, bad := range []struct{ kind, url, to, want string }{
		{"webhook", "ftp://files.example/drop", "", `Not saved: field "url": scheme "ftp" is not accepted, only https:// and http://`},
		{"webhook", e.srv.URL + "/api/v1/devices", "", `points at Hearth itself; a notification must go to another service`},
		{"webhook", "http://localhost:" + port(e.srv.URL) + "/x", "", `points at Hearth itself`},
		{"slack", "hooks.slack.example/x", "", `an absolute https:// or http:// address is required`},
		{"webhook", "https://user:pw@hooks.example/", "", `credentials in the address are not accepted`},
		{"webhook", "", "", `field "url": required`},
		{"email", "", "", `field "to": required for an e-mail channel`},
		{"email", "", "not an address", `e-mail "not an address": expected local-part@domain`},
		{"pager", "https://hooks.example/", "", `field "kind" "pager"`},
	} {
		form := url.Values{"name": {"ops-hook"}, "kind": {bad.kind}, "url": {bad.url}, "to": {bad.to}}
		r := e.post(admin, "/alarms/channels", form)
		contains(t, "a channel to "+bad.url+bad.to, r, http.StatusBadRequest, `id="form-error"`, "Not saved: ", bad.want, `value="ops-hook"`)
		if bad.url != "" && !strings.Contains(r.body, `value="`+strings.ReplaceAll(bad.url, "&", "&amp;")+`"`) {
			t.Errorf("a refused URL %q is not kept in the form", bad.url)
		}
		if n := len(e.channels("acme")); n != 0 {
			t.Fatalf("a refused channel was stored: %d channels", n)
		}
	}
	r = e.post(admin, "/alarms/channels", url.Values{"name": {"ops-hook"}, "kind": {"webhook"}, "url": {"ftp://x.example/"}})
	if !regexp.MustCompile(`id="channel-url" name="url" value="ftp://x.example/"[^>]*aria-invalid="true"`).MatchString(r.body) {
		t.Errorf("the URL is not marked as the field refused:\n%s", excerpt(r.body))
	}

	// A webhook: its secret in the answer, once.
	r = e.post(admin, "/alarms/channels", url.Values{"name": {"ops-hook"}, "kind": {"webhook"}, "url": {rc.URL + "/hearth"}})
	contains(t, "the webhook created", r, http.StatusCreated, "Channel ops-hook created. Its signing secret:",
		"Copy it now: it is shown only this once", "X-Hearth-Signature-256", `data-channel="ops-hook"`, rc.URL+"/hearth")
	secret := shownSecret(r.body)
	stored, err := e.st.GetNotificationChannel("acme", "ops-hook")
	if err != nil || secret == "" || stored.Secret != secret || stored.URL != rc.URL+"/hearth" {
		t.Fatalf("the webhook stored %+v (%v); the page showed secret %q", stored, err, secret)
	}
	for _, path := range []string{"/alarms/channels", "/alarms/channels/ops-hook"} {
		r := e.get(admin, path)
		contains(t, path+" after the secret was shown", r, http.StatusOK, "ops-hook", rc.URL+"/hearth")
		if strings.Contains(r.body, secret) || strings.Contains(r.body, "whsec_") {
			t.Errorf("%s shows the secret again", path)
		}
	}
	r = e.post(admin, "/alarms/channels", url.Values{"name": {"ops-hook"}, "kind": {"webhook"}, "url": {rc.URL}})
	contains(t, "a name taken", r, http.StatusConflict, `customer acme already has a notification channel named "ops-hook"`)

	// E-mail: no secret, straight to its page.
	r = e.post(admin, "/alarms/channels", url.Values{"name": {"facility"}, "kind": {"email"}, "to": {" FM@acme.example, , ops@acme.example "}})
	if r.status != http.StatusSeeOther || r.location != "/alarms/channels/facility" {
		t.Fatalf("an e-mail channel: %d to %q\n%s", r.status, r.location, excerpt(r.body))
	}
	r = e.get(admin, r.location)
	contains(t, "the e-mail channel", r, http.StatusOK, "Channel facility created.", "fm@acme.example, ops@acme.example", `name="to"`)
	if strings.Contains(r.body, "whsec_") || strings.Contains(r.body, `action="/alarms/channels/facility/rotate"`) {
		t.Error("an e-mail channel offers a secret")
	}

	// A change of address: refused ones change nothing.
	r = e.post(admin, "/alarms/channels/ops-hook", url.Values{"url": {"file:///etc/passwd"}})
	contains(t, "a change to a file URL", r, http.StatusBadRequest, `Not saved: field "url": scheme "file" is not accepted`, `value="file:///etc/passwd"`)
	r = e.post(admin, "/alarms/channels/ops-hook", url.Values{"url": {e.srv.URL + "/"}})
	contains(t, "a change to Hearth itself", r, http.StatusBadRequest, "points at Hearth itself")
	if got, _ := e.st.GetNotificationChannel("acme", "ops-hook"); got.URL != rc.URL+"/hearth" {
		t.Fatalf("a refused change was stored: %q", got.URL)
	}
	r = e.post(admin, "/alarms/channels/ops-hook", url.Values{"url": {rc.URL + "/v2"}})
	if r.status != http.StatusSeeOther || r.location != "/alarms/channels/ops-hook" {
		t.Fatalf("change the URL: %d to %q\n%s", r.status, r.location, excerpt(r.body))
	}
	contains(t, "the saved channel", e.get(admin, r.location), http.StatusOK, "Saved.", rc.URL+"/v2")
	r = e.post(admin, "/alarms/channels/facility", url.Values{"to": {"boss@acme.example"}})
	if got, _ := e.st.GetNotificationChannel("acme", "facility"); r.status != http.StatusSeeOther || strings.Join(got.To, ",") != "boss@acme.example" {
		t.Errorf("change the addresses: %d, stored %v", r.status, got.To)
	}
	r = e.post(admin, "/alarms/channels/facility", url.Values{"to": {""}})
	contains(t, "no addresses", r, http.StatusBadRequest, `field "to": required for an e-mail channel`)

	// A new secret, shown once; the old one stops signing.
	r = e.post(admin, "/alarms/channels/ops-hook/rotate", nil)
	contains(t, "the rotated secret", r, http.StatusOK, "The new signing secret:", "Copy it now")
	rotated := shownSecret(r.body)
	if got, _ := e.st.GetNotificationChannel("acme", "ops-hook"); rotated == "" || rotated == secret || got.Secret != rotated {
		t.Fatalf("rotate: shown %q, stored %q, was %q", rotated, got.Secret, secret)
	}
	if r := e.get(admin, "/alarms/channels/ops-hook"); strings.Contains(r.body, rotated) {
		t.Error("the rotated secret shows again")
	}
	r = e.post(admin, "/alarms/channels/facility/rotate", nil)
	contains(t, "rotating an e-mail channel", r, http.StatusBadRequest, `Secret not changed: field "rotate_secret": only a webhook has a secret`)

	// Send test, from the list's button: the receiver's answer on the
	// channel's page, and a request signed with the current secret.
	r = e.get(admin, "/alarms/channels")
	contains(t, "the list's test buttons", r, http.StatusOK, `action="/alarms/channels/ops-hook/test"`, `action="/alarms/channels/facility/test"`)
	r = e.post(admin, "/alarms/channels/ops-hook/test", nil)
	contains(t, "a test delivered", r, http.StatusOK, "Test message", `data-delivered="true"`, "Delivered: the receiver accepted the test message.",
		"Receiver's status", "202", "Took")
	reqs := rc.requests()
	if len(reqs) != 1 || !reqs[0].signedBy(rotated) || reqs[0].signedBy(secret) ||
		!strings.Contains(string(reqs[0].body), `"type":"io.hearth.notification.test"`) {
		t.Fatalf("the receiver got %d requests; signed with the rotated secret: %v", len(reqs), len(reqs) == 1 && reqs[0].signedBy(rotated))
	}
	rc.mu.Lock()
	rc.status = http.StatusNotFound
	rc.mu.Unlock()
	r = e.post(admin, "/alarms/channels/ops-hook/test", nil)
	contains(t, "a test the receiver refused", r, http.StatusOK, `data-delivered="false"`, "Not delivered.", "404",
		"Error", "the receiver answered 404 Not Found")
	r = e.post(admin, "/alarms/channels/facility/test", nil)
	contains(t, "a test of e-mail on a server without SMTP", r, http.StatusOK, `data-delivered="false"`, "no answer",
		"e-mail is not set up on this server")

	// Delete, behind a confirmation.
	r = e.get(admin, "/alarms/channels/ops-hook/delete")
	contains(t, "the confirmation", r, http.StatusOK, "Delete the channel ops-hook?", `action="/alarms/channels/ops-hook/delete"`)
	r = e.post(admin, "/alarms/channels/ops-hook/delete", nil)
	if r.status != http.StatusSeeOther || r.location != "/alarms/channels" {
		t.Fatalf("delete: %d to %q", r.status, r.location)
	}
	if _, err := e.st.GetNotificationChannel("acme", "ops-hook"); err == nil {
		t.Error("the channel is still there")
	}
	contains(t, "the list after a delete", e.get(admin, "/alarms/channels"), http.StatusOK, "Channel ops-hook deleted.", "facility")
	if r := e.get(admin, "/alarms/channels/ops-hook"); r.status != http.StatusNotFound {
		t.Errorf("a deleted channel's page: %d", r.status)
	}

	// In Japanese.
	if _, err := e.st.UpdateUser(acmeAdmin, func(u *store.User) error { u.Language = "ja"; return nil }); err != nil {
		t.Fatal(err)
	}
	contains(t, "the channels in Japanese", e.get(admin, "/alarms/channels"), http.StatusOK, "通知チャネル", "新しいチャネル", "テスト送信", "メール")
	contains(t, "a channel in Japanese", e.get(admin, "/alarms/channels/facility"), http.StatusOK, "通知チャネル：facility", "送信先の変更", "このチャネルを削除")
}

// port is the port of a URL.
func port(raw string) string {
	u, _ := url.Parse(raw)
	return u.Port()
}

// TestChannelPagesReadOnly: editors and viewers read their company's
// channels, without forms; what they send anyway is refused and changes
// nothing, and no test message leaves.
func TestChannelPagesReadOnly(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seedAlarms(time.Now().Add(-time.Hour))
	rc := newReceiver(t, http.StatusOK)
	e.seedChannel(store.NotificationChannel{Customer: "acme", Name: "ops-hook", Kind: store.ChannelWebhook, URL: rc.URL, Secret: "whsec_seeded"})
	for _, user := range []string{acmeUser, acmeViewer} {
		c := e.signIn(user)
		for _, path := range []string{"/alarms/channels", "/alarms/channels/ops-hook"} {
			r := e.get(c, path)
			contains(t, user+"'s "+path, r, http.StatusOK, "ops-hook", rc.URL, "managed by your company's admins")
			for _, form := range []string{`method="post"` + ` action="/alarms/channels`, `/test"`, `/rotate"`, `/delete"`, `name="url"`} {
				if strings.Contains(r.body, form) {
					t.Errorf("%s is offered %s on %s", user, form, path)
				}
			}
		}
		r := e.get(c, "/alarms/channels/ops-hook/delete")
		contains(t, user+"'s confirmation", r, http.StatusOK, "managed by your company's admins")
		if strings.Contains(r.body, `<button type="submit">Delete</button>`) {
			t.Errorf("%s is offered to delete", user)
		}
		for _, tc := range []struct {
			path string
			form url.Values
		}{
			{"/alarms/channels", url.Values{"name": {"mine"}, "kind": {"webhook"}, "url": {rc.URL}}},
			{"/alarms/channels/ops-hook", url.Values{"url": {rc.URL + "/other"}}},
			{"/alarms/channels/ops-hook/rotate", nil},
			{"/alarms/channels/ops-hook/test", nil},
			{"/alarms/channels/ops-hook/delete", nil},
		} {
			r := e.post(c, tc.path, tc.form)
			contains(t, user+"'s POST "+tc.path, r, http.StatusForbidden, "managed by your company's admins")
		}
	}
	cs := e.channels("acme")
	if len(cs) != 1 || cs[0].URL != rc.URL || cs[0].Secret != "whsec_seeded" {
		t.Errorf("editors and viewers changed the channels: %+v", cs)
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("the receiver got %d test messages from editors and viewers", n)
	}
}

// TestAdminChannels: operators list every customer's channels, filter by
// customer, and create one for a customer they choose; a channel's page
// names its customer in the path.
func TestAdminChannels(t *testing.T) {
	e := newEnv(t, envOptions{})
	rc := newReceiver(t, http.StatusNoContent)
	e.seedChannel(store.NotificationChannel{Customer: "acme", Name: "acme-mail", Kind: store.ChannelEmail, To: []string{"fm@acme.example"}})
	e.seedChannel(store.NotificationChannel{Customer: "globex", Name: "globex-hook", Kind: store.ChannelWebhook, URL: "https://hooks.globex.example/x", Secret: "whsec_g"})
	op := e.signIn(opUser)

	if r := e.get(op, "/alarms/channels"); r.status != http.StatusSeeOther || r.location != "/admin/alarms/channels" {
		t.Errorf("an operator's /alarms/channels: %d to %q", r.status, r.location)
	}
	if r := e.get(op, "/alarms/channels/acme-mail"); r.status != http.StatusNotFound {
		t.Errorf("an operator's customer page of a channel: %d, want 404", r.status)
	}
	r := e.get(op, "/admin/alarms")
	contains(t, "the operators' sub-navigation", r, http.StatusOK, `href="/admin/alarms/channels"`, `href="/admin/alarms/deliveries"`)
	r = e.get(op, "/admin/alarms/channels")
	contains(t, "every channel", r, http.StatusOK, "acme-mail", "globex-hook", `href="/admin/alarms/channels/globex/globex-hook"`,
		`<option value="globex">`, `id="channel-customer"`)
	r = e.get(op, "/admin/alarms/channels?customer=globex")
	if !strings.Contains(r.body, "globex-hook") || strings.Contains(r.body, "acme-mail") {
		t.Errorf("the customer filter: %d\n%s", r.status, excerpt(r.body))
	}
	if r := e.get(op, "/admin/alarms/channels?customer=nobody"); r.status != http.StatusBadRequest {
		t.Errorf("a filter of no customer: %d", r.status)
	}

	r = e.post(op, "/admin/alarms/channels", url.Values{"name": {"x"}, "kind": {"webhook"}, "url": {rc.URL}})
	contains(t, "a channel without a customer", r, http.StatusBadRequest, `Not saved: field "customer": required`)
	r = e.post(op, "/admin/alarms/channels?customer=globex", url.Values{"customer": {"globex"}, "name": {"ops"}, "kind": {"webhook"}, "url": {rc.URL}})
	contains(t, "globex's webhook", r, http.StatusCreated, "Channel ops created.", `action="/admin/alarms/channels?customer=globex"`)
	if got, err := e.st.GetNotificationChannel("globex", "ops"); err != nil || got.Secret == "" || got.Secret != shownSecret(r.body) {
		t.Fatalf("the operator's channel: %+v %v", got, err)
	}
	r = e.get(op, "/admin/alarms/channels/globex/ops")
	contains(t, "the channel's page", r, http.StatusOK, "Customer", "globex", `action="/admin/alarms/channels/globex/ops/test"`,
		`action="/admin/alarms/channels/globex/ops/rotate"`, `href="/admin/alarms/channels/globex/ops/delete"`)
	r = e.post(op, "/admin/alarms/channels/globex/ops/test", nil)
	contains(t, "an operator's test", r, http.StatusOK, `data-delivered="true"`, "204")
	if n := len(rc.requests()); n != 1 {
		t.Errorf("the receiver got %d messages", n)
	}
	if r := e.get(op, "/admin/alarms/channels/acme/ops"); r.status != http.StatusNotFound {
		t.Errorf("acme has no channel ops: %d", r.status)
	}
	r = e.post(op, "/admin/alarms/channels/globex/ops/delete", nil)
	if r.status != http.StatusSeeOther || r.location != "/admin/alarms/channels?customer=globex" {
		t.Errorf("an operator's delete: %d to %q", r.status, r.location)
	}
}
