package server_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/server"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/auth/oidctest"
)

// A provider an operator configures through the API while Hearth runs is
// on the sign-in page at once, and a person signs in through it; an edit
// applies from the next sign-in, and once deleted it is gone from the page
// and its callback no longer signs anyone in.
func TestConfiguredSSOProvider(t *testing.T) {
	alice := oidctest.DefaultUser()
	alice.Email = "fm@acme.example"
	provider := oidctest.Start(t, alice)
	addr := freeAddr(t)
	public := "https://" + addr
	clientID, secret := provider.RegisterClient(public+"/login/sso/acme-okta/callback", public+"/login")
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.HTTP.Addr = addr
		c.Web.PublicURL = public
	})
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	if st := h.adminCall("POST", "/api/v1/users", map[string]string{"email": alice.Email, "role": "customer", "customer": "acme"}, nil); st != http.StatusCreated {
		t.Fatalf("create the user: %d", st)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.caPool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (int, string, string) {
		t.Helper()
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	if _, _, page := get(public + "/login"); strings.Contains(page, "/login/sso/") {
		t.Fatal("the sign-in page offers single sign-on before any provider is configured")
	}

	// A wrong secret first: the provider refuses the code exchange.
	body := map[string]string{"display_name": "Acme Okta", "issuer": provider.Issuer(), "client_id": clientID, "client_secret": "wrong"}
	if st := h.apiCall(op, "PUT", "/api/v1/sso-providers/acme-okta", body, nil); st != http.StatusCreated {
		t.Fatalf("configure the provider: %d", st)
	}
	signIn := func() (int, string) {
		t.Helper()
		st, loc, _ := get(public + "/login/sso/acme-okta?next=%2F")
		if st != http.StatusSeeOther {
			t.Fatalf("start single sign-on: %d", st)
		}
		callback, err := provider.LoginAs(&http.Client{Jar: jar, Timeout: 10 * time.Second}, loc, alice.Username, alice.Password)
		if err != nil {
			t.Fatalf("sign in at the provider: %v", err)
		}
		st, loc, _ = get(callback)
		return st, loc
	}
	if _, _, page := get(public + "/login"); !strings.Contains(page, "Sign in with Acme Okta") {
		t.Fatalf("the sign-in page lacks the configured provider:\n%s", page)
	}
	if st, _ := signIn(); st != http.StatusBadRequest {
		t.Errorf("sign-in with a wrong client secret: %d, want 400", st)
	}

	// The right secret: the next sign-in uses it.
	body["client_secret"] = secret
	if st := h.apiCall(op, "PUT", "/api/v1/sso-providers/acme-okta", body, nil); st != http.StatusOK {
		t.Fatalf("fix the secret: %d", st)
	}
	if st, loc := signIn(); st != http.StatusSeeOther || loc != "/" {
		t.Fatalf("sign-in through the configured provider: %d to %q", st, loc)
	}
	if st, _, page := get(public + "/"); st != http.StatusOK || !strings.Contains(page, alice.Email) {
		t.Errorf("overview after single sign-on: %d", st)
	}

	// A provider limited to another customer vouches for that customer's
	// people only: acme's user signed in through it has no access.
	h.addCustomer(op, "globex")
	gID, gSecret := provider.RegisterClient(public+"/login/sso/globex-okta/callback", public+"/login")
	if st := h.apiCall(op, "PUT", "/api/v1/sso-providers/globex-okta", map[string]string{
		"issuer": provider.Issuer(), "client_id": gID, "client_secret": gSecret, "customer": "globex"}, nil); st != http.StatusCreated {
		t.Fatalf("configure globex's provider: %d", st)
	}
	if st := h.apiCall(op, "PUT", "/api/v1/sso-providers/nowhere", map[string]string{
		"issuer": provider.Issuer(), "client_id": gID, "client_secret": gSecret, "customer": "initech"}, nil); st != http.StatusBadRequest {
		t.Errorf("a provider for a customer that does not exist: %d, want 400", st)
	}
	jarG, _ := cookiejar.New(nil)
	browser.Jar = jarG
	st, loc, _ := get(public + "/login/sso/globex-okta?next=%2F")
	if st != http.StatusSeeOther {
		t.Fatalf("start globex sign-in: %d", st)
	}
	cb, err := provider.LoginAs(&http.Client{Jar: jarG, Timeout: 10 * time.Second}, loc, alice.Username, alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	if st, _, page := get(cb); st != http.StatusForbidden || !strings.Contains(page, alice.Email) {
		t.Errorf("acme's user through globex's provider: %d, want 403 no access", st)
	}
	if st, _, _ := get(public + "/"); st != http.StatusSeeOther {
		t.Errorf("after the refused sign-in the overview answers %d, want a redirect to sign in", st)
	}

	// Deleted: gone from the page, and its sign-in path is not found.
	if st := h.apiCall(op, "DELETE", "/api/v1/sso-providers/acme-okta", nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete the provider: %d", st)
	}
	jar2, _ := cookiejar.New(nil)
	browser.Jar = jar2
	if _, _, page := get(public + "/login"); strings.Contains(page, "Acme Okta") {
		t.Error("a deleted provider is still on the sign-in page")
	}
	if st, _, _ := get(public + "/login/sso/acme-okta?next=" + url.QueryEscape("/")); st != http.StatusNotFound {
		t.Errorf("signing in through a deleted provider: %d, want 404", st)
	}
}

// TestSSOProviderUnreachable: a company's identity provider that is down
// is a page that says so and offers the local sign-in, not a 500; the
// cause is for operators, in the log.
func TestSSOProviderUnreachable(t *testing.T) {
	dead := freeAddr(t) // nothing listens there
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.Web.SSO.Name = "corp"
		c.Web.SSO.Issuer = "https://" + dead
		c.Web.SSO.ClientID = "hearth"
		c.Web.SSO.ClientSecret = "secret"
	})
	client := &http.Client{Timeout: 30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.caPool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, lang := range []struct{ accept, want string }{
		{"en", "cannot be reached right now"},
		{"ja", "接続できません"},
	} {
		req, err := http.NewRequest(http.MethodGet, h.https+"/login/sso/corp", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Language", lang.accept)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(b)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, lang.want) || !strings.Contains(page, `name="password"`) {
			t.Errorf("%s: status %d; want 503 saying the sign-in is unreachable, with the local form:\n%s", lang.accept, resp.StatusCode, page)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", lang.accept)
		}
	}
}

// TestSSOProviderAddressRefused: a provider whose issuer is at the
// cloud's instance metadata address is never fetched from; the sign-in
// page says the provider's address is refused (not that it is down), and
// the operators' page names the cause.
func TestSSOProviderAddressRefused(t *testing.T) {
	h := startHearthWith(t, t.TempDir(), func(c *server.Config) {
		c.Web.SSO.Name = "corp"
		c.Web.SSO.Issuer = "http://169.254.169.254/latest/meta-data"
		c.Web.SSO.ClientID = "hearth"
		c.Web.SSO.ClientSecret = "secret"
	})
	client := &http.Client{Timeout: 30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.caPool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := time.Now()
	resp, err := client.Get(h.https + "/login/sso/corp")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if page := string(b); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "an address Hearth does not connect to") || !strings.Contains(page, `name="password"`) {
		t.Errorf("status %d; want 503 saying the address is refused, with the local form:\n%s", resp.StatusCode, page)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refused after %s: a connection was tried", d)
	}
	const email, password = "ops@hearth.test", "a long operator password"
	if st := h.adminCall("POST", "/api/v1/users", map[string]string{"email": email, "role": "operator", "password": password}, nil); st != http.StatusCreated {
		t.Fatalf("create operator: status %d", st)
	}
	resp, err = signIn(t, h.https, h.caPool, email, password).Get(h.https + "/admin/sso")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if page := string(b); resp.StatusCode != http.StatusOK || !strings.Contains(page, "resolves to 169.254.169.254, a cloud instance metadata service") {
		t.Errorf("the operators' page: %d, does not name the cause:\n%s", resp.StatusCode, page)
	}
}
