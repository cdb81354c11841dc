package auth_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/web/auth"
	"github.com/hearthiot/hearth/web/auth/oidctest"
)

// TestOIDCRefusesIssuerAddress: without a client of the caller's, the
// issuer is not fetched from an instance metadata, link-local or
// unspecified address; the refusal says what the issuer resolves to,
// and comes before any connection is tried.
func TestOIDCRefusesIssuerAddress(t *testing.T) {
	t.Parallel()
	// A discovery document served on this machine, which 0.0.0.0 would
	// reach.
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	for _, tt := range []struct{ issuer, want string }{
		{"http://169.254.169.254/latest/meta-data", "resolves to 169.254.169.254, a cloud instance metadata service"},
		{"http://169.254.10.1:8080", "resolves to 169.254.10.1, a link-local address (169.254.0.0/16, fe80::/10)"},
		{"http://[::ffff:169.254.10.1]:8080", "resolves to 169.254.10.1, a link-local address"},
		{"http://0.0.0.0:" + port, "resolves to 0.0.0.0, the unspecified address"},
	} {
		start := time.Now()
		_, err := auth.NewOIDCProvider(t.Context(), auth.OIDCConfig{
			Name: "acme", Issuer: tt.issuer, ClientID: "hearth", RedirectURL: testRedirect,
		})
		if !errors.Is(err, auth.ErrAddressRefused) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("issuer %s: %v, want ErrAddressRefused saying %q", tt.issuer, err, tt.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("issuer %s: refused after %s, want before connecting", tt.issuer, d)
		}
	}
}

// TestOIDCRefusesEndpointAddress: an issuer on loopback is used, but the
// endpoints its discovery document names are dialled through the same
// check, so a token endpoint at the metadata service is never called.
func TestOIDCRefusesEndpointAddress(t *testing.T) {
	t.Parallel()
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                issuer,
			"authorization_endpoint":                issuer + "/authorize",
			"token_endpoint":                        "http://169.254.169.254/latest/api/token",
			"jwks_uri":                              "http://169.254.169.254/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL

	p, err := auth.NewOIDCProvider(t.Context(), auth.OIDCConfig{
		Name: "acme", Issuer: issuer, ClientID: "hearth", ClientSecret: "s", RedirectURL: testRedirect,
	})
	if err != nil {
		t.Fatalf("a loopback issuer: %v", err)
	}
	_, pending, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Finish(t.Context(), url.Values{"state": {pending.State}, "code": {"c"}}, pending)
	if !errors.Is(err, auth.ErrAddressRefused) || !strings.Contains(err.Error(), "169.254.169.254 is a cloud instance metadata service") {
		t.Errorf("Finish with the token endpoint at the metadata service: %v, want ErrAddressRefused", err)
	}
}

// TestOIDCSignInLoopbackDefaultClient: the client used when the caller
// gives none still reaches a provider on loopback, through the whole
// sign-in.
func TestOIDCSignInLoopbackDefaultClient(t *testing.T) {
	t.Parallel()
	op := oidctest.Start(t, testUsers()...)
	p, _ := newProvider(t, op, oidctest.Client{}, func(c *auth.OIDCConfig) { c.HTTPClient = nil })
	query, pending := signIn(t, op, p, "alice")
	id, err := p.Finish(t.Context(), query, pending)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if id.Email != oidctest.DefaultUser().Email {
		t.Errorf("signed in as %+v", id)
	}
}
