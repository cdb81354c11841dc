package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// The login form the provider shows, for tests that drive a browser.
const (
	// LoginPath is the path of the login form, below the issuer.
	LoginPath = "/login/username"
	// UsernameSelector, PasswordSelector and SubmitSelector are CSS
	// selectors of the form's fields and button.
	UsernameSelector = "#username"
	PasswordSelector = "#password"
	SubmitSelector   = "button[type=submit]"
	// UsernameField, PasswordField and RequestIDField are the names the
	// form posts; RequestIDField is a hidden input holding the
	// authRequestID query parameter of the form's URL.
	UsernameField  = "username"
	PasswordField  = "password"
	RequestIDField = "id"
	// LoginFailedText is shown on the form after a wrong username or
	// password.
	LoginFailedText = "username or password wrong"
)

// GroupsScope is the scope a client requests to get the "groups" claim.
const GroupsScope = "groups"

// loggedOutPath is where the end_session endpoint sends the browser when a
// client names no post-logout redirect URI.
const loggedOutPath = "/logged-out"

// maxRedirects bounds Login's walk from the authorization URL to the
// callback; the provider needs four hops.
const maxRedirects = 10

// User is a person who can sign in at the provider.
type User struct {
	// Subject is the "sub" claim; empty means "sub-" + Username.
	Subject string
	// Username and Password are typed into the login form.
	Username, Password string
	// Email and EmailVerified are the "email" and "email_verified" claims
	// (scope email).
	Email         string
	EmailVerified bool
	// GivenName and FamilyName are the "given_name" and "family_name"
	// claims; "name" is both joined by a space (scope profile).
	GivenName, FamilyName string
	// Groups is the "groups" claim (scope groups), omitted when empty.
	Groups []string
}

// Name is the user's "name" claim as the provider builds it.
func (u User) Name() string {
	return u.GivenName + " " + u.FamilyName
}

// DefaultUser is the user Start creates when a test names none.
func DefaultUser() User {
	return User{
		Subject:       "sub-alice",
		Username:      "alice",
		Password:      "correct horse battery staple",
		Email:         "alice@customer.example",
		EmailVerified: true,
		GivenName:     "Alice",
		FamilyName:    "Example",
		Groups:        []string{"facility-managers", "site-berlin"},
	}
}

// Client is a relying party registered at the provider.
type Client struct {
	// RedirectURIs are the exact callback URLs the client may use.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the exact URLs the end_session endpoint
	// may send the browser back to.
	PostLogoutRedirectURIs []string
	// UserinfoOnly makes ID tokens carry only sub and the protocol claims;
	// e-mail, name and groups then come from the userinfo endpoint alone,
	// as with Zitadel's default settings. Otherwise the ID token carries
	// them too, as most providers do.
	UserinfoOnly bool
}

// Provider is a running OpenID Connect provider.
type Provider struct {
	issuer  string
	store   *testStorage
	firstID string
}

// Start runs a provider until the test ends, with the given users, or with
// DefaultUser when none are given. It fails the test when users repeat a
// username or subject, or lack a username or password.
func Start(t testing.TB, users ...User) *Provider {
	t.Helper()
	if len(users) == 0 {
		users = []User{DefaultUser()}
	}
	us := userStore{bySubject: map[string]User{}, byUsername: map[string]User{}}
	for i, u := range users {
		if u.Username == "" || u.Password == "" {
			t.Fatalf("oidctest: user %d has no username or password", i)
		}
		if u.Subject == "" {
			u.Subject = "sub-" + u.Username
		}
		if _, dup := us.byUsername[u.Username]; dup {
			t.Fatalf("oidctest: username %q given twice", u.Username)
		}
		if _, dup := us.bySubject[u.Subject]; dup {
			t.Fatalf("oidctest: subject %q given twice", u.Subject)
		}
		us.bySubject[u.Subject] = u
		us.byUsername[u.Username] = u
	}

	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	issuer := "http://" + srv.Listener.Addr().String()
	store := &testStorage{
		// An empty client map of its own keeps the example's package-level
		// registry out of the way; clients live in testStorage instead.
		Storage:     storage.NewStorageWithClients(us, map[string]*storage.Client{}),
		users:       us,
		clients:     map[string]*client{},
		tokenScopes: map[string][]string{},
	}
	handler, err := newHandler(issuer, store)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	srv.Config.Handler = handler
	srv.Start()
	return &Provider{issuer: issuer, store: store, firstID: users[0].Username}
}

// newHandler builds the provider's HTTP side: zitadel's op with the
// example's settings, and the login form. It does what the example's
// exampleop.SetupServer does, less two things that break tests run in
// parallel: SetupServer's option for a custom authorization endpoint writes
// into op.DefaultEndpoints, a package variable every provider in the process
// reads (a data race the race detector reports), and it replaces the
// process's default slog logger.
func newHandler(issuer string, store *testStorage) (http.Handler, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("make token encryption key: %w", err)
	}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                key,
		DefaultLogoutRedirectURI: loggedOutPath,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.English},
	}, store, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		return nil, fmt.Errorf("create openid provider: %w", err)
	}
	l := login{store: store, callback: op.AuthCallbackURL(provider)}
	issuerCtx := op.NewIssuerInterceptor(provider.IssuerFromRequest)

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+LoginPath, l.showForm)
	mux.HandleFunc("POST "+LoginPath, issuerCtx.HandlerFunc(l.checkPassword))
	mux.HandleFunc("GET "+loggedOutPath, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "signed out")
	})
	mux.Handle("/", provider)
	return mux, nil
}

// Issuer is the provider's issuer URL, "http://127.0.0.1:PORT" without a
// trailing slash; discovery is at Issuer() + "/.well-known/openid-configuration".
func (p *Provider) Issuer() string {
	return p.issuer
}

// RegisterClient registers a client with the given redirect URIs, which may
// also serve as post-logout redirect URIs, and returns its credentials.
func (p *Provider) RegisterClient(redirectURIs ...string) (clientID, secret string) {
	return p.AddClient(Client{RedirectURIs: redirectURIs, PostLogoutRedirectURIs: redirectURIs})
}

// AddClient registers a client and returns its credentials, unique within
// the provider. Clients may be added while the provider serves, so a test can
// register the callback of a server it starts after discovering the issuer.
func (p *Provider) AddClient(c Client) (clientID, secret string) {
	return p.store.addClient(c)
}

// Login signs in as the first user given to Start (or DefaultUser); see
// LoginAs.
func (p *Provider) Login(client *http.Client, authURL string) (callbackURL string, err error) {
	u := p.store.users.byUsername[p.firstID]
	return p.LoginAs(client, authURL, u.Username, u.Password)
}

// LoginAs does over plain HTTP what a browser does: it follows authURL's
// redirects to the login form, posts the username and password, and follows
// the redirects until one leads to the redirect_uri named in authURL. It
// returns that URL, with its code and state (or error) parameters, without
// requesting it. client may be nil; its redirect policy is not used.
func (p *Provider) LoginAs(client *http.Client, authURL, username, password string) (callbackURL string, err error) {
	au, err := url.Parse(authURL)
	if err != nil {
		return "", fmt.Errorf("parse authorization url: %w", err)
	}
	redirect, err := url.Parse(au.Query().Get("redirect_uri"))
	if err != nil || redirect.Host == "" {
		return "", fmt.Errorf("authorization url has no usable redirect_uri")
	}
	hc := http.Client{}
	if client != nil {
		hc = *client
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	next := au
	posted := false
	for range maxRedirects {
		if isCallback(next, redirect) {
			return next.String(), nil
		}
		var resp *http.Response
		if next.Path == LoginPath && !posted {
			form := url.Values{
				RequestIDField: {next.Query().Get("authRequestID")},
				UsernameField:  {username},
				PasswordField:  {password},
			}
			if err := checkLoginForm(&hc, next); err != nil {
				return "", err
			}
			resp, err = hc.PostForm(next.ResolveReference(&url.URL{Path: LoginPath}).String(), form)
			posted = true
		} else {
			resp, err = hc.Get(next.String())
		}
		if err != nil {
			return "", fmt.Errorf("login: %w", err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), LoginFailedText) {
			return "", fmt.Errorf("login as %q: %s", username, LoginFailedText)
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			return "", fmt.Errorf("login: %s %s answered %s: %.300s", resp.Request.Method, resp.Request.URL.Path, resp.Status, body)
		}
		next, err = resp.Request.URL.Parse(loc)
		if err != nil {
			return "", fmt.Errorf("login: parse redirect %q: %w", loc, err)
		}
	}
	return "", fmt.Errorf("login: more than %d redirects without reaching %s", maxRedirects, redirect)
}

// checkLoginForm fetches the login form as a browser would, so that Login
// fails when the page a browser test fills is not there.
func checkLoginForm(hc *http.Client, form *url.URL) error {
	resp, err := hc.Get(form.String())
	if err != nil {
		return fmt.Errorf("login form: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login form answered %s", resp.Status)
	}
	for _, name := range []string{RequestIDField, UsernameField, PasswordField} {
		if !strings.Contains(string(body), `name="`+name+`"`) {
			return fmt.Errorf("login form has no field %q", name)
		}
	}
	return nil
}

// isCallback reports whether u is the redirect URI with parameters added.
func isCallback(u, redirect *url.URL) bool {
	return u.Scheme == redirect.Scheme && u.Host == redirect.Host && u.Path == redirect.Path
}

// userStore holds a provider's users; it is filled before the provider
// starts and only read afterwards.
type userStore struct {
	bySubject  map[string]User
	byUsername map[string]User
}

func (s userStore) toStorage(u User, ok bool) *storage.User {
	if !ok {
		return nil
	}
	return &storage.User{
		ID:                u.Subject,
		Username:          u.Username,
		Password:          u.Password,
		FirstName:         u.GivenName,
		LastName:          u.FamilyName,
		Email:             u.Email,
		EmailVerified:     u.EmailVerified,
		PreferredLanguage: language.English,
	}
}

// GetUserByID implements storage.UserStore.
func (s userStore) GetUserByID(id string) *storage.User {
	u, ok := s.bySubject[id]
	return s.toStorage(u, ok)
}

// GetUserByUsername implements storage.UserStore.
func (s userStore) GetUserByUsername(username string) *storage.User {
	u, ok := s.byUsername[username]
	return s.toStorage(u, ok)
}

// ExampleClientID implements storage.UserStore; the service user it names
// is the example's own and unused here.
func (s userStore) ExampleClientID() string {
	return storage.ServiceUserID
}

// client is a registered client: the example's web client with the
// behaviour Client asks for.
type client struct {
	*storage.Client
	secret       string
	postLogout   []string
	userinfoOnly bool
}

// PostLogoutRedirectURIs implements op.Client.
func (c *client) PostLogoutRedirectURIs() []string {
	return c.postLogout
}

// IDTokenUserinfoClaimsAssertion implements op.Client: whether profile and
// e-mail claims go into ID tokens issued with an access token.
func (c *client) IDTokenUserinfoClaimsAssertion() bool {
	return !c.userinfoOnly
}

// IsScopeAllowed implements op.Client; the provider drops other
// non-standard scopes from requests.
func (c *client) IsScopeAllowed(scope string) bool {
	return scope == GroupsScope
}

// testStorage is the example's in-memory storage with clients registered
// per provider and a groups claim added.
type testStorage struct {
	*storage.Storage
	users userStore

	mu          sync.Mutex
	clients     map[string]*client
	tokenScopes map[string][]string // access token id → granted scopes
}

var _ op.Storage = (*testStorage)(nil)

func (s *testStorage) addClient(c Client) (clientID, secret string) {
	secret = rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	clientID = fmt.Sprintf("client-%d", len(s.clients)+1)
	s.clients[clientID] = &client{
		Client:       storage.WebClient(clientID, secret, slices.Clone(c.RedirectURIs)...),
		secret:       secret,
		postLogout:   slices.Clone(c.PostLogoutRedirectURIs),
		userinfoOnly: c.UserinfoOnly,
	}
	return clientID, secret
}

func (s *testStorage) client(id string) (*client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	return c, ok
}

// GetClientByClientID implements op.Storage from the provider's own clients.
func (s *testStorage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.client(clientID)
	if !ok {
		return nil, errors.New("client not found")
	}
	return c, nil
}

// AuthorizeClientIDSecret implements op.Storage from the provider's own
// clients.
func (s *testStorage) AuthorizeClientIDSecret(_ context.Context, clientID, clientSecret string) error {
	c, ok := s.client(clientID)
	if !ok {
		return errors.New("client not found")
	}
	if subtle.ConstantTimeCompare([]byte(c.secret), []byte(clientSecret)) != 1 {
		return errors.New("invalid secret")
	}
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the ID
// token's claims, plus groups when the groups scope was granted and the
// client takes user claims in its ID tokens.
func (s *testStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	if c, ok := s.client(req.GetClientID()); ok && c.userinfoOnly {
		return nil
	}
	s.addGroups(info, req.GetSubject(), scopes)
	return nil
}

// SetUserinfoFromToken implements op.Storage for the userinfo endpoint,
// adding groups when the token was granted the groups scope.
func (s *testStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.mu.Lock()
	scopes := s.tokenScopes[tokenID]
	s.mu.Unlock()
	s.addGroups(info, subject, scopes)
	return nil
}

func (s *testStorage) addGroups(info *oidc.UserInfo, subject string, scopes []string) {
	u, ok := s.users.bySubject[subject]
	if ok && len(u.Groups) > 0 && slices.Contains(scopes, GroupsScope) {
		info.AppendClaims("groups", slices.Clone(u.Groups))
	}
}

// CreateAccessToken implements op.Storage, remembering the token's scopes
// for the userinfo endpoint.
func (s *testStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, exp, err := s.Storage.CreateAccessToken(ctx, req)
	if err == nil {
		s.rememberScopes(id, req.GetScopes())
	}
	return id, exp, err
}

// CreateAccessAndRefreshTokens implements op.Storage, remembering the
// access token's scopes for the userinfo endpoint.
func (s *testStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	id, refresh, exp, err := s.Storage.CreateAccessAndRefreshTokens(ctx, req, currentRefreshToken)
	if err == nil {
		s.rememberScopes(id, req.GetScopes())
	}
	return id, refresh, exp, err
}

func (s *testStorage) rememberScopes(tokenID string, scopes []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenScopes[tokenID] = slices.Clone(scopes)
}

// loginForm is the example provider's login page, with the same field names
// and ids, and a password input a browser masks.
var loginForm = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html>
<head><meta charset="UTF-8"><title>Login</title></head>
<body>
<form method="POST" action="` + LoginPath + `">
<input type="hidden" name="` + RequestIDField + `" value="{{.ID}}">
<div><label for="username">Username:</label> <input id="username" name="` + UsernameField + `" autocomplete="username"></div>
<div><label for="password">Password:</label> <input id="password" name="` + PasswordField + `" type="password" autocomplete="current-password"></div>
<p class="error">{{.Error}}</p>
<button type="submit">Login</button>
</form>
</body>
</html>
`))

// login serves the login form of the authorization requests the op sends
// to the client's login URL, LoginPath?authRequestID=….
type login struct {
	store    *testStorage
	callback func(ctx context.Context, requestID string) string
}

func (l login) showForm(w http.ResponseWriter, r *http.Request) {
	l.render(w, r.URL.Query().Get("authRequestID"), "")
}

// checkPassword marks the authorization request done for the user and
// sends the browser back to the op, which then redirects to the client.
func (l login) checkPassword(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "cannot parse form", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get(RequestIDField)
	err := l.store.CheckUsernamePassword(r.PostForm.Get(UsernameField), r.PostForm.Get(PasswordField), id)
	if err != nil {
		l.render(w, id, err.Error())
		return
	}
	http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
}

func (l login) render(w http.ResponseWriter, id, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := loginForm.Execute(w, struct{ ID, Error string }{id, msg}); err != nil {
		http.Error(w, "render login form", http.StatusInternalServerError)
	}
}
