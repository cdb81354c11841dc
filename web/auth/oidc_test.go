package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/oauth2"

	"github.com/hearthiot/hearth/web/auth"
	"github.com/hearthiot/hearth/web/auth/oidctest"
)

const (
	testRedirect   = "http://hearth.test/login/oidc/acme/callback"
	testSignedOut  = "http://hearth.test/signed-out"
	testOtherEmail = "bob@customer.example"
)

// testUsers are the people at the test provider: one with groups, one
// without.
func testUsers() []oidctest.User {
	return []oidctest.User{
		oidctest.DefaultUser(),
		{
			Subject: "sub-bob", Username: "bob", Password: "hunter2hunter2",
			Email: testOtherEmail, EmailVerified: false,
			GivenName: "Bob", FamilyName: "Builder",
		},
	}
}

// requestLog is an http.RoundTripper that records the paths Hearth asks the
// provider for and lets a test rewrite the token endpoint's answer.
type requestLog struct {
	mu          sync.Mutex
	paths       []string
	rewriteBody func(path string, body []byte) []byte
}

func (l *requestLog) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.paths = append(l.paths, req.URL.Path)
	l.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || l.rewriteBody == nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	body = l.rewriteBody(req.URL.Path, body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func (l *requestLog) count(path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.paths {
		if p == path {
			n++
		}
	}
	return n
}

// newProvider registers a client at op and builds Hearth's side for it.
func newProvider(t *testing.T, op *oidctest.Provider, c oidctest.Client, edit func(*auth.OIDCConfig)) (*auth.OIDCProvider, *requestLog) {
	t.Helper()
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{testRedirect}
	}
	id, secret := op.AddClient(c)
	log := &requestLog{}
	cfg := auth.OIDCConfig{
		Name:         "acme",
		Issuer:       op.Issuer(),
		ClientID:     id,
		ClientSecret: secret,
		RedirectURL:  testRedirect,
		HTTPClient:   &http.Client{Transport: log, Timeout: 10 * time.Second},
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := auth.NewOIDCProvider(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewOIDCProvider: %v", err)
	}
	return p, log
}

// signIn runs Start and the provider's login as username, and returns the
// callback's query with the pending sign-in it belongs to.
func signIn(t *testing.T, op *oidctest.Provider, p *auth.OIDCProvider, username string) (url.Values, auth.Pending) {
	t.Helper()
	authURL, pending, err := p.Start()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	var password string
	for _, u := range testUsers() {
		if u.Username == username {
			password = u.Password
		}
	}
	cb, err := op.LoginAs(nil, authURL, username, password)
	if err != nil {
		t.Fatalf("LoginAs %q: %v", username, err)
	}
	u, err := url.Parse(cb)
	if err != nil {
		t.Fatalf("parse callback %q: %v", cb, err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != testRedirect {
		t.Fatalf("callback %q does not go to %q", cb, testRedirect)
	}
	return u.Query(), pending
}

func TestOIDCSignIn(t *testing.T) {
	t.Parallel()
	op := oidctest.Start(t, testUsers()...)
	alice, bob := testUsers()[0], testUsers()[1]
	withGroups := func(c *auth.OIDCConfig) { c.Scopes = []string{"openid", "email", "profile", "groups"} }

	tests := []struct {
		name         string
		client       oidctest.Client
		edit         func(*auth.OIDCConfig)
		user         string
		want         auth.Identity
		wantUserinfo bool
	}{
		{
			name: "claims in ID token",
			user: "alice",
			want: auth.Identity{Subject: alice.Subject, Email: alice.Email, EmailVerified: true, Name: "Alice Example"},
		},
		{
			name: "claims in ID token with groups",
			edit: withGroups,
			user: "alice",
			want: auth.Identity{Subject: alice.Subject, Email: alice.Email, EmailVerified: true, Name: "Alice Example",
				Groups: alice.Groups},
		},
		{
			name: "user without groups asks userinfo for them",
			edit: withGroups,
			user: "bob",
			want: auth.Identity{Subject: bob.Subject, Email: bob.Email, EmailVerified: false, Name: "Bob Builder"},
			// The ID token has no groups claim, so Finish asks userinfo,
			// which has none either.
			wantUserinfo: true,
		},
		{
			name:         "claims only at userinfo",
			client:       oidctest.Client{UserinfoOnly: true},
			user:         "alice",
			want:         auth.Identity{Subject: alice.Subject, Email: alice.Email, EmailVerified: true, Name: "Alice Example"},
			wantUserinfo: true,
		},
		{
			name:   "claims and groups only at userinfo",
			client: oidctest.Client{UserinfoOnly: true},
			edit:   withGroups,
			user:   "alice",
			want: auth.Identity{Subject: alice.Subject, Email: alice.Email, EmailVerified: true, Name: "Alice Example",
				Groups: alice.Groups},
			wantUserinfo: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, log := newProvider(t, op, tt.client, tt.edit)
			query, pending := signIn(t, op, p, tt.user)
			got, err := p.Finish(t.Context(), query, pending)
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			tt.want.Issuer = op.Issuer()
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(auth.Identity{}, "IDToken")); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if strings.Count(got.IDToken, ".") != 2 {
				t.Errorf("IDToken %q is not a compact JWT", got.IDToken)
			}
			if n := log.count("/userinfo"); (n > 0) != tt.wantUserinfo {
				t.Errorf("userinfo requested %d times, want requested: %v", n, tt.wantUserinfo)
			}
		})
	}
}

func TestOIDCStart(t *testing.T) {
	t.Parallel()
	op := oidctest.Start(t)
	p, _ := newProvider(t, op, oidctest.Client{}, nil)

	authURL, pending, err := p.Start()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatalf("parse %q: %v", authURL, err)
	}
	q := u.Query()
	want := map[string]string{
		"response_type":         "code",
		"redirect_uri":          testRedirect,
		"scope":                 "openid email profile",
		"state":                 pending.State,
		"nonce":                 pending.Nonce,
		"code_challenge_method": "S256",
		"code_challenge":        oauth2.S256ChallengeFromVerifier(pending.Verifier),
	}
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("auth url parameter %s = %q, want %q", k, got, v)
		}
	}
	if q.Get("client_id") == "" || !strings.HasPrefix(authURL, op.Issuer()+"/") {
		t.Errorf("auth url %q: want the provider's endpoint with client_id", authURL)
	}
	if q.Has("code_verifier") || strings.Contains(authURL, pending.Verifier) {
		t.Errorf("auth url %q discloses the PKCE verifier", authURL)
	}
	if age := time.Since(pending.Created); age < 0 || age > time.Minute {
		t.Errorf("pending created %v ago, want now", age)
	}

	_, other, err := p.Start()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if other.State == pending.State || other.Nonce == pending.Nonce || other.Verifier == pending.Verifier {
		t.Errorf("two Starts share values: %+v and %+v", pending, other)
	}

	// Pending lives in a server-side session, usually as JSON.
	b, err := json.Marshal(pending)
	if err != nil {
		t.Fatalf("marshal pending: %v", err)
	}
	var back auth.Pending
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal pending: %v", err)
	}
	if diff := cmp.Diff(pending, back); diff != "" {
		t.Errorf("pending after JSON (-want +got):\n%s", diff)
	}

	// A pending sign-in restored from JSON finishes like the original.
	query, pending := signIn(t, op, p, "alice")
	b, err = json.Marshal(pending)
	if err != nil {
		t.Fatalf("marshal pending: %v", err)
	}
	back = auth.Pending{}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal pending: %v", err)
	}
	if _, err := p.Finish(t.Context(), query, back); err != nil {
		t.Fatalf("Finish with pending from JSON: %v", err)
	}
}

// flipSignatureBit changes one bit of the signature of the id_token in a
// token endpoint answer.
func flipSignatureBit(t *testing.T) func(path string, body []byte) []byte {
	return func(path string, body []byte) []byte {
		if path != "/oauth/token" {
			return body
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("token answer is not JSON: %v", err)
			return body
		}
		tok, _ := m["id_token"].(string)
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Errorf("token answer has no compact id_token")
			return body
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || len(sig) < 20 {
			t.Errorf("id_token signature does not decode: %v", err)
			return body
		}
		sig[10] ^= 0x01
		parts[2] = base64.RawURLEncoding.EncodeToString(sig)
		m["id_token"] = strings.Join(parts, ".")
		out, err := json.Marshal(m)
		if err != nil {
			t.Errorf("marshal token answer: %v", err)
			return body
		}
		return out
	}
}

func TestOIDCFinishRefuses(t *testing.T) {
	t.Parallel()
	op := oidctest.Start(t, testUsers()...)

	tests := []struct {
		name string
		// run signs in and returns what Finish gets; p may be changed.
		run     func(t *testing.T, p *auth.OIDCProvider, log *requestLog) (url.Values, auth.Pending)
		edit    func(*auth.OIDCConfig)
		wantMsg string
	}{
		{
			name: "wrong state",
			run: func(t *testing.T, p *auth.OIDCProvider, _ *requestLog) (url.Values, auth.Pending) {
				query, pending := signIn(t, op, p, "alice")
				_, other, err := p.Start()
				if err != nil {
					t.Fatal(err)
				}
				pending.State = other.State
				return query, pending
			},
			wantMsg: "wrong state",
		},
		{
			name: "no state",
			run: func(t *testing.T, p *auth.OIDCProvider, _ *requestLog) (url.Values, auth.Pending) {
				query, pending := signIn(t, op, p, "alice")
				query.Del("state")
				return query, pending
			},
			wantMsg: "callback has no state",
		},
		{
			name: "provider returned access_denied",
			run: func(t *testing.T, p *auth.OIDCProvider, _ *requestLog) (url.Values, auth.Pending) {
				_, pending, err := p.Start()
				if err != nil {
					t.Fatal(err)
				}
				return url.Values{
					"state":             {pending.State},
					"error":             {"access_denied"},
					"error_description": {"the user declined"},
				}, pending
			},
			wantMsg: `provider returned error "access_denied": "the user declined"`,
		},
		{
			name: "replayed code",
			run: func(t *testing.T, p *auth.OIDCProvider, _ *requestLog) (url.Values, auth.Pending) {
				query, pending := signIn(t, op, p, "alice")
				if _, err := p.Finish(t.Context(), query, pending); err != nil {
					t.Fatalf("first Finish: %v", err)
				}
				return query, pending
			},
			wantMsg: `code exchange failed: provider answered "invalid_grant"`,
		},
		{
			name: "nonce of another sign-in",
			run: func(t *testing.T, p *auth.OIDCProvider, _ *requestLog) (url.Values, auth.Pending) {
				query, pending := signIn(t, op, p, "alice")
				_, other, err := p.Start()
				if err != nil {
					t.Fatal(err)
				}
				pending.Nonce = other.Nonce
				return query, pending
			},
			wantMsg: "nonce mismatch",
		},
		{
			name: "PKCE verifier of another sign-in",
			run: func(t *testing.T, p *auth.OIDCProvider, _ *requestLog) (url.Values, auth.Pending) {
				query, pending := signIn(t, op, p, "alice")
				_, other, err := p.Start()
				if err != nil {
					t.Fatal(err)
				}
				pending.Verifier = other.Verifier
				return query, pending
			},
			wantMsg: `code exchange failed: provider answered "invalid_grant"`,
		},
		{
			name: "tampered ID token signature",
			run: func(t *testing.T, p *auth.OIDCProvider, log *requestLog) (url.Values, auth.Pending) {
				log.rewriteBody = flipSignatureBit(t)
				return signIn(t, op, p, "alice")
			},
			wantMsg: "ID token invalid: failed to verify signature",
		},
		{
			name: "pending older than 10 minutes",
			run: func(t *testing.T, p *auth.OIDCProvider, _ *requestLog) (url.Values, auth.Pending) {
				query, pending := signIn(t, op, p, "alice")
				pending.Created = time.Now().Add(-auth.PendingMaxAge - time.Second)
				return query, pending
			},
			wantMsg: "pending sign-in too old",
		},
		{
			name: "no pending sign-in",
			run: func(t *testing.T, p *auth.OIDCProvider, _ *requestLog) (url.Values, auth.Pending) {
				query, _ := signIn(t, op, p, "alice")
				return query, auth.Pending{}
			},
			wantMsg: "no sign-in is pending",
		},
		{
			name: "wrong client secret",
			edit: func(c *auth.OIDCConfig) { c.ClientSecret = "not-the-secret" },
			run: func(t *testing.T, p *auth.OIDCProvider, _ *requestLog) (url.Values, auth.Pending) {
				return signIn(t, op, p, "alice")
			},
			wantMsg: `code exchange failed: provider answered "invalid_client"`,
		},
		{
			name: "state and code repeated",
			run: func(t *testing.T, p *auth.OIDCProvider, _ *requestLog) (url.Values, auth.Pending) {
				query, pending := signIn(t, op, p, "alice")
				query.Add("code", "another")
				return query, pending
			},
			wantMsg: `callback repeats parameter "code"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, log := newProvider(t, op, oidctest.Client{}, tt.edit)
			query, pending := tt.run(t, p, log)
			id, err := p.Finish(t.Context(), query, pending)
			if err == nil {
				t.Fatalf("Finish accepted the sign-in of %q", id.Subject)
			}
			if !errors.Is(err, auth.ErrOIDC) {
				t.Errorf("error %q does not wrap ErrOIDC", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if code := query.Get("code"); code != "" && strings.Contains(err.Error(), code) {
				t.Errorf("error %q discloses the code", err)
			}
			if diff := cmp.Diff(auth.Identity{}, id); diff != "" {
				t.Errorf("refusal returned an identity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOIDCLoginWrongPassword(t *testing.T) {
	t.Parallel()
	op := oidctest.Start(t)
	p, _ := newProvider(t, op, oidctest.Client{}, nil)
	authURL, _, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.LoginAs(nil, authURL, "alice", "wrong"); err == nil || !strings.Contains(err.Error(), oidctest.LoginFailedText) {
		t.Fatalf("LoginAs with a wrong password: err = %v, want %q", err, oidctest.LoginFailedText)
	}
	if _, err := op.Login(nil, authURL); err != nil {
		t.Fatalf("Login with the default user after a failed try: %v", err)
	}
}

func TestNewOIDCProviderRefuses(t *testing.T) {
	t.Parallel()
	op := oidctest.Start(t)
	clientID, secret := op.RegisterClient(testRedirect)

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String()
	closed.Close()

	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(silent.Close)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)

	// The provider answers on localhost too, but its issuer is 127.0.0.1.
	otherName := strings.Replace(op.Issuer(), "127.0.0.1", "localhost", 1)

	tests := []struct {
		name    string
		edit    func(*auth.OIDCConfig)
		wantMsg string
	}{
		{"name with capitals", func(c *auth.OIDCConfig) { c.Name = "Acme" }, "must be lowercase letters"},
		{"empty name", func(c *auth.OIDCConfig) { c.Name = "" }, "must be lowercase letters"},
		{"no client id", func(c *auth.OIDCConfig) { c.ClientID = "" }, "client id is empty"},
		{"issuer not a URL", func(c *auth.OIDCConfig) { c.Issuer = "acme.example" }, "not an absolute http or https URL"},
		{"relative redirect", func(c *auth.OIDCConfig) { c.RedirectURL = "/callback" }, "redirect url"},
		{"issuer refuses connections", func(c *auth.OIDCConfig) { c.Issuer = closedURL }, "connection refused"},
		{"issuer does not answer", func(c *auth.OIDCConfig) {
			c.Issuer = silent.URL
			c.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond}
		}, "Client.Timeout exceeded"},
		{"no discovery document", func(c *auth.OIDCConfig) { c.Issuer = notFound.URL }, "404 Not Found"},
		{"issuer differs from discovery", func(c *auth.OIDCConfig) { c.Issuer = otherName }, "did not match the issuer URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := auth.OIDCConfig{
				Name: "acme", Issuer: op.Issuer(), ClientID: clientID, ClientSecret: secret, RedirectURL: testRedirect,
			}
			tt.edit(&cfg)
			p, err := auth.NewOIDCProvider(t.Context(), cfg)
			if err == nil {
				t.Fatalf("NewOIDCProvider accepted %+v", p)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q discloses the client secret", err)
			}
		})
	}

	t.Run("context ends while the issuer is silent", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		_, err := auth.NewOIDCProvider(ctx, auth.OIDCConfig{
			Name: "acme", Issuer: silent.URL, ClientID: clientID, RedirectURL: testRedirect,
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestOIDCEndSessionURL(t *testing.T) {
	t.Parallel()
	op := oidctest.Start(t)
	p, _ := newProvider(t, op, oidctest.Client{PostLogoutRedirectURIs: []string{testSignedOut}}, nil)
	query, pending := signIn(t, op, p, "alice")
	id, err := p.Finish(t.Context(), query, pending)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}

	end, ok := p.EndSessionURL(id.IDToken, testSignedOut)
	if !ok {
		t.Fatal("EndSessionURL: provider has no end_session_endpoint, want one")
	}
	u, err := url.Parse(end)
	if err != nil {
		t.Fatalf("parse %q: %v", end, err)
	}
	if got, want := u.Scheme+"://"+u.Host+u.Path, op.Issuer()+"/end_session"; got != want {
		t.Errorf("end session endpoint %q, want %q", got, want)
	}
	q := u.Query()
	if q.Get("id_token_hint") != id.IDToken || q.Get("post_logout_redirect_uri") != testSignedOut || q.Get("client_id") == "" {
		t.Errorf("end session parameters %v: want id_token_hint, post_logout_redirect_uri %q and client_id", q, testSignedOut)
	}

	// The provider accepts the URL and sends the browser back.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(end)
	if err != nil {
		t.Fatalf("GET end session: %v", err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != testSignedOut {
		t.Errorf("end session answered %s to %q, want 302 to %q", resp.Status, loc, testSignedOut)
	}

	// A post-logout URL the client did not register is refused.
	bad, _ := p.EndSessionURL(id.IDToken, "http://evil.test/")
	resp, err = noFollow.Get(bad)
	if err != nil {
		t.Fatalf("GET end session: %v", err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "http://evil.test") {
		t.Errorf("provider sent the browser to unregistered %q", loc)
	}
}

func TestOIDCEndSessionURLWithoutEndpoint(t *testing.T) {
	t.Parallel()
	// A provider that publishes no end_session_endpoint: discovery only.
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                issuer,
			"authorization_endpoint":                issuer + "/authorize",
			"token_endpoint":                        issuer + "/token",
			"jwks_uri":                              issuer + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL
	p, err := auth.NewOIDCProvider(t.Context(), auth.OIDCConfig{
		Name: "plain", Issuer: issuer, ClientID: "hearth", RedirectURL: testRedirect,
	})
	if err != nil {
		t.Fatalf("NewOIDCProvider: %v", err)
	}
	if got, ok := p.EndSessionURL("x.y.z", testSignedOut); ok || got != "" {
		t.Errorf("EndSessionURL = %q, %v; want \"\", false", got, ok)
	}
	if p.Name() != "plain" {
		t.Errorf("Name() = %q, want %q", p.Name(), "plain")
	}
}

// FuzzOIDCFinishCallback feeds Finish callbacks that no provider sent. Each
// must be refused with ErrOIDC before any code is spent, or, should the
// fuzzer guess the state, by the provider.
func FuzzOIDCFinishCallback(f *testing.F) {
	op := oidctest.Start(f)
	id, secret := op.RegisterClient(testRedirect)
	p, err := auth.NewOIDCProvider(f.Context(), auth.OIDCConfig{
		Name: "acme", Issuer: op.Issuer(), ClientID: id, ClientSecret: secret, RedirectURL: testRedirect,
	})
	if err != nil {
		f.Fatalf("NewOIDCProvider: %v", err)
	}
	const state = "s3cr3t-state"
	seeds := []struct{ query, pendingState string }{
		{"", state},
		{"state=" + state, state},
		{"state=" + state + "&code=abc", state},
		{"state=" + state + "&error=access_denied&error_description=no", state},
		{"state=" + state + "&state=" + state + "&code=1", state},
		{"state=wrong&code=abc", state},
		{"code=abc", state},
		{"state=&code=", ""},
		{"error=%ff%fe&state=%00", state},
		{"state=" + state + "&error=" + strings.Repeat("x", 5000), state},
		{"%zz=1&;;&&==", state},
	}
	for _, s := range seeds {
		f.Add(s.query, s.pendingState)
	}
	f.Fuzz(func(t *testing.T, rawQuery, pendingState string) {
		query, _ := url.ParseQuery(rawQuery)
		pending := auth.Pending{State: pendingState, Nonce: "n", Verifier: "v", Created: time.Now()}
		ident, err := p.Finish(t.Context(), query, pending)
		if !errors.Is(err, auth.ErrOIDC) {
			t.Fatalf("Finish(%q) = %v, want an error wrapping ErrOIDC", rawQuery, err)
		}
		if diff := cmp.Diff(auth.Identity{}, ident); diff != "" {
			t.Fatalf("refusal returned an identity (-want +got):\n%s", diff)
		}
		if len(err.Error()) > 1200 {
			t.Fatalf("error message is %d bytes long: outside input is not bounded", len(err.Error()))
		}
	})
}
