package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hearthiot/hearth/internal/netguard"
)

// ErrOIDC is wrapped by every refusal of an OpenID Connect sign-in, so that
// pages can answer all of them the same way while the message says what was
// wrong.
var ErrOIDC = errors.New("oidc sign-in refused")

// ErrAddressRefused is wrapped when a provider's issuer, or an endpoint
// its discovery document names, resolves to an address Hearth does not
// connect to (a cloud's instance metadata service, another link-local
// address, the unspecified address): a configuration to correct, not an
// outage to wait out.
var ErrAddressRefused = netguard.ErrRefused

// PendingMaxAge bounds the time between Start and Finish. A user takes a
// minute or two at their provider's login page; a pending sign-in older than
// this is more likely a replay than a slow typist.
const PendingMaxAge = 10 * time.Minute

// defaultHTTPTimeout bounds each request to a provider when the caller gives
// no client of its own, so that a provider which accepts connections and never
// answers cannot hold a sign-in, or the key set refresh, forever.
const defaultHTTPTimeout = 30 * time.Second

// Limits on what a callback may carry before Finish looks at it. Real values
// are far shorter; the bounds keep a hostile query from being copied into
// messages shown to the user.
const (
	maxCallbackValue = 4096
	maxShownValue    = 200
)

// providerNameRE is what OIDCConfig.Name must match: it appears in URL paths.
var providerNameRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// OIDCConfig describes one OpenID Connect provider customers sign in with.
type OIDCConfig struct {
	// Name is shown on the login page, e.g. "acme-sso", and is the provider's
	// id in URLs, so it must match [a-z0-9-]+.
	Name string
	// Issuer is the provider's issuer URL; discovery reads
	// Issuer + "/.well-known/openid-configuration" and the document's issuer
	// must equal it exactly.
	Issuer string
	// ClientID and ClientSecret are the credentials the provider issued to
	// Hearth. An empty secret is allowed for providers that register Hearth
	// as a public client; PKCE then protects the code alone.
	ClientID, ClientSecret string
	// RedirectURL is Hearth's callback registered at the provider, e.g.
	// https://hearth.example/login/oidc/acme/callback.
	RedirectURL string
	// Scopes requested; empty means openid, email and profile. "openid" is
	// added when missing. Add "groups" only where the provider knows it.
	Scopes []string
	// GroupsClaim names the claim holding the user's groups; empty means
	// "groups". Setting it, or requesting the "groups" scope, makes Finish
	// ask the userinfo endpoint when the ID token lacks the claim.
	GroupsClaim string
	// HTTPClient, when set, is used for discovery, the token exchange, the
	// key set and userinfo, e.g. to trust a private CA. Without it, a client
	// with a 30 s timeout is used that connects to no address netguard
	// refuses, whatever a name resolves to (see NewHTTPClient).
	HTTPClient *http.Client
}

// OIDCProvider signs users in with one OpenID Connect provider through the
// authorization code flow with PKCE. It holds no per-user state: what a
// sign-in needs between Start and Finish is returned to the caller as a
// Pending, so any Hearth process can finish a sign-in another one started.
type OIDCProvider struct {
	name        string
	client      *http.Client
	provider    *oidc.Provider
	oauth       oauth2.Config
	verifier    *oidc.IDTokenVerifier
	groupsClaim string
	wantGroups  bool
	endSession  string
}

// Pending is what the caller keeps server-side, in the user's session,
// between Start and Finish. It must never reach the browser: the state is
// compared with the callback's, and the nonce and verifier are the proof that
// this session asked for the code.
type Pending struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Created  time.Time `json:"created"`
}

// Identity is who signed in, as the provider vouched for it in a verified ID
// token (and its userinfo endpoint, for claims the token left out). Issuer
// and Subject together are the stable key of a user; e-mail addresses and
// names change.
type Identity struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
	// IDToken is the raw ID token, kept only as the id_token_hint of
	// EndSessionURL.
	IDToken string
}

// NewOIDCProvider reads the provider's discovery document and prepares the
// flow. It fails when the configuration is incomplete or the issuer cannot be
// discovered, so that a misconfigured provider is reported at start-up rather
// than at a customer's first sign-in.
func NewOIDCProvider(ctx context.Context, cfg OIDCConfig) (*OIDCProvider, error) {
	if !providerNameRE.MatchString(cfg.Name) {
		return nil, fmt.Errorf("oidc provider name %q: must be lowercase letters, digits and '-'", cfg.Name)
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("oidc provider %q: client id is empty", cfg.Name)
	}
	if err := checkAbsoluteURL(cfg.Issuer); err != nil {
		return nil, fmt.Errorf("oidc provider %q: issuer: %w", cfg.Name, err)
	}
	if err := checkAbsoluteURL(cfg.RedirectURL); err != nil {
		return nil, fmt.Errorf("oidc provider %q: redirect url: %w", cfg.Name, err)
	}

	client := cfg.HTTPClient
	if client == nil {
		client = NewHTTPClient()
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
	if refused := (*netguard.Refused)(nil); errors.As(err, &refused) {
		return nil, fmt.Errorf("oidc provider %q: issuer %q resolves to %s, %s: %w", cfg.Name, cfg.Issuer, refused.Host, refused.What, ErrAddressRefused)
	}
	if err != nil {
		return nil, fmt.Errorf("discover oidc provider %q at %q: %w", cfg.Name, cfg.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("read discovery document of oidc provider %q: %w", cfg.Name, err)
	}
	if meta.EndSession != "" {
		if err := checkAbsoluteURL(meta.EndSession); err != nil {
			return nil, fmt.Errorf("oidc provider %q: end_session_endpoint: %w", cfg.Name, err)
		}
	}

	scopes := slices.Clone(cfg.Scopes)
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	groupsClaim := cfg.GroupsClaim
	if groupsClaim == "" {
		groupsClaim = "groups"
	}

	return &OIDCProvider{
		name:     cfg.Name,
		client:   client,
		provider: provider,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  cfg.RedirectURL,
			Scopes:       scopes,
		},
		verifier:    provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		groupsClaim: groupsClaim,
		wantGroups:  cfg.GroupsClaim != "" || slices.Contains(scopes, "groups"),
		endSession:  meta.EndSession,
	}, nil
}

// NewHTTPClient is the client NewOIDCProvider uses when given none: the
// default transport's settings (proxies from the environment included),
// a 30 s bound on each request, and a dialer that refuses, after a name
// is resolved and before connecting, every address netguard refuses. The
// issuer is checked when it is configured, but a name can resolve to
// anything, and the discovery document names the other endpoints;
// every redirect is dialled through the same check. Loopback and private
// addresses stay allowed.
func NewHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: netguard.Control}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = dialer.DialContext
	return &http.Client{Transport: tr, Timeout: defaultHTTPTimeout}
}

// checkAbsoluteURL accepts only http and https URLs with a host, the only
// kind a browser can be sent to and a provider can answer on.
func checkAbsoluteURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("parse %q: %w", s, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL", s)
	}
	return nil
}

// Name is the provider's short name, as configured.
func (p *OIDCProvider) Name() string {
	return p.name
}

// Start begins a sign-in. The browser is sent to authURL; pending must be
// kept in the user's session until the callback and handed to Finish, then
// dropped, so that one callback is accepted at most once. err reports a
// failure of the system's random source.
func (p *OIDCProvider) Start() (authURL string, pending Pending, err error) {
	state, err := randomToken()
	if err != nil {
		return "", Pending{}, fmt.Errorf("make oidc state: %w", err)
	}
	nonce, err := randomToken()
	if err != nil {
		return "", Pending{}, fmt.Errorf("make oidc nonce: %w", err)
	}
	verifier := oauth2.GenerateVerifier()
	authURL = p.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	return authURL, Pending{State: state, Nonce: nonce, Verifier: verifier, Created: time.Now()}, nil
}

// randomToken returns 256 random bits, base64url-encoded, for state and nonce.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Finish completes a sign-in from the query of the provider's redirect to
// RedirectURL. The state is checked before anything else, so that a crafted
// link cannot make Hearth show a provider's error text or spend a code. Every
// refusal wraps ErrOIDC; messages never carry the code, tokens or the client
// secret.
func (p *OIDCProvider) Finish(ctx context.Context, query url.Values, pending Pending) (Identity, error) {
	code, err := checkCallback(query, pending, time.Now())
	if err != nil {
		return Identity{}, err
	}

	ctx = oidc.ClientContext(ctx, p.client)
	token, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(pending.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Identity{}, fmt.Errorf("%w: code exchange failed: %s", ErrOIDC, describeRetrieveError(re))
		}
		return Identity{}, fmt.Errorf("%w: code exchange failed: %w", ErrOIDC, err)
	}
	rawIDToken, ok := token.Extra("id_token").(string)
	if !ok || rawIDToken == "" {
		return Identity{}, fmt.Errorf("%w: token response has no id_token", ErrOIDC)
	}
	idToken, err := p.verifier.Verify(ctx, rawIDToken)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: ID token invalid: %w", ErrOIDC, err)
	}
	if subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(pending.Nonce)) != 1 {
		return Identity{}, fmt.Errorf("%w: nonce mismatch: the ID token was not issued for this sign-in", ErrOIDC)
	}
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(token.AccessToken); err != nil {
			return Identity{}, fmt.Errorf("%w: ID token invalid: %w", ErrOIDC, err)
		}
	}
	if idToken.Subject == "" {
		return Identity{}, fmt.Errorf("%w: ID token invalid: no sub claim", ErrOIDC)
	}

	id := Identity{Issuer: idToken.Issuer, Subject: idToken.Subject, IDToken: rawIDToken}
	var raw map[string]json.RawMessage
	if err := idToken.Claims(&raw); err != nil {
		return Identity{}, fmt.Errorf("%w: ID token invalid: %w", ErrOIDC, err)
	}
	if err := p.applyClaims(&id, raw); err != nil {
		return Identity{}, fmt.Errorf("%w: ID token claims: %w", ErrOIDC, err)
	}
	if p.lacksClaims(id, raw) && p.provider.UserInfoEndpoint() != "" {
		if err := p.fillFromUserInfo(ctx, &id, token); err != nil {
			return Identity{}, err
		}
	}
	return id, nil
}

// checkCallback is Finish's part that needs no provider: the age of the
// pending sign-in, the state, the provider's error parameters and the code.
// It returns the code to exchange.
func checkCallback(query url.Values, pending Pending, now time.Time) (string, error) {
	if pending.State == "" || pending.Verifier == "" || pending.Nonce == "" {
		return "", fmt.Errorf("%w: no sign-in is pending in this session", ErrOIDC)
	}
	if age := now.Sub(pending.Created); age > PendingMaxAge {
		return "", fmt.Errorf("%w: pending sign-in too old (started %s ago, at most %s)",
			ErrOIDC, age.Round(time.Second), PendingMaxAge)
	}
	for key, values := range query {
		if len(values) > 1 && isCallbackParam(key) {
			return "", fmt.Errorf("%w: callback repeats parameter %q", ErrOIDC, key)
		}
		for _, v := range values {
			if len(v) > maxCallbackValue {
				return "", fmt.Errorf("%w: callback parameter %q is longer than %d bytes", ErrOIDC, shorten(key), maxCallbackValue)
			}
		}
	}
	state := query.Get("state")
	if state == "" {
		return "", fmt.Errorf("%w: callback has no state", ErrOIDC)
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(pending.State)) != 1 {
		return "", fmt.Errorf("%w: wrong state: the callback does not belong to the sign-in pending in this session", ErrOIDC)
	}
	if e := query.Get("error"); e != "" {
		if d := query.Get("error_description"); d != "" {
			return "", fmt.Errorf("%w: provider returned error %q: %q", ErrOIDC, shorten(e), shorten(d))
		}
		return "", fmt.Errorf("%w: provider returned error %q", ErrOIDC, shorten(e))
	}
	code := query.Get("code")
	if code == "" {
		return "", fmt.Errorf("%w: callback has neither code nor error", ErrOIDC)
	}
	return code, nil
}

// isCallbackParam names the parameters Finish reads; a repeated one is
// ambiguous, so the callback is refused rather than one copy picked.
func isCallbackParam(key string) bool {
	switch key {
	case "state", "code", "error", "error_description":
		return true
	}
	return false
}

// shorten cuts a value taken from outside input to a length fit for an error
// message.
func shorten(s string) string {
	if len(s) <= maxShownValue {
		return s
	}
	return strings.ToValidUTF8(s[:maxShownValue], "") + "…"
}

// describeRetrieveError says why the token endpoint refused, from the OAuth 2
// error fields when it sent them, else from the HTTP status.
func describeRetrieveError(re *oauth2.RetrieveError) string {
	if re.ErrorCode == "" {
		if re.Response != nil {
			return "token endpoint answered " + re.Response.Status
		}
		return "token endpoint gave no usable answer"
	}
	s := "provider answered " + strconv.Quote(shorten(re.ErrorCode))
	if re.ErrorDescription != "" {
		s += ": " + strconv.Quote(shorten(re.ErrorDescription))
	}
	return s
}

// applyClaims copies the claims Identity carries from a claim set into the
// fields still empty, so that the ID token's claims win over userinfo's.
// e-mail and its verification flag always come from the same set. Subject
// is never taken from here.
func (p *OIDCProvider) applyClaims(id *Identity, raw map[string]json.RawMessage) error {
	if v, ok := raw["email"]; ok && id.Email == "" {
		var email string
		if err := json.Unmarshal(v, &email); err != nil {
			return errors.New("email is not a string")
		}
		id.Email = email
		if v, ok := raw["email_verified"]; ok && email != "" {
			b, err := parseFlexibleBool(v)
			if err != nil {
				return fmt.Errorf("email_verified: %w", err)
			}
			id.EmailVerified = b
		}
	}
	if id.Name == "" {
		name, err := nameFromClaims(raw)
		if err != nil {
			return err
		}
		id.Name = name
	}
	if v, ok := raw[p.groupsClaim]; ok && id.Groups == nil {
		groups, err := parseGroups(v)
		if err != nil {
			return fmt.Errorf("%s: %w", p.groupsClaim, err)
		}
		id.Groups = groups
	}
	return nil
}

// nameFromClaims returns "name", or given and family name joined when the
// provider sends only those.
func nameFromClaims(raw map[string]json.RawMessage) (string, error) {
	var parts []string
	for _, key := range []string{"name", "given_name", "family_name"} {
		v, ok := raw[key]
		if !ok {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Errorf("%s is not a string", key)
		}
		if s == "" {
			continue
		}
		if key == "name" {
			return s, nil
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " "), nil
}

// parseFlexibleBool reads a JSON boolean, or the strings "true" and "false"
// that some providers (AWS Cognito among them) send instead.
func parseFlexibleBool(v json.RawMessage) (bool, error) {
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		if b, err := strconv.ParseBool(s); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("%s is not a boolean", shorten(string(v)))
}

// parseGroups reads a list of strings, or a single string, which some
// providers send for a user in one group.
func parseGroups(v json.RawMessage) ([]string, error) {
	var list []string
	if err := json.Unmarshal(v, &list); err == nil {
		return list, nil
	}
	var one string
	if err := json.Unmarshal(v, &one); err == nil {
		return []string{one}, nil
	}
	return nil, errors.New("not a list of strings")
}

// lacksClaims reports whether the ID token left out claims Hearth uses.
// Providers differ: many put profile and e-mail claims in the ID token, others
// (Zitadel by default) only at the userinfo endpoint.
func (p *OIDCProvider) lacksClaims(id Identity, raw map[string]json.RawMessage) bool {
	if id.Email == "" || id.Name == "" {
		return true
	}
	_, hasGroups := raw[p.groupsClaim]
	return p.wantGroups && !hasGroups
}

// fillFromUserInfo asks the userinfo endpoint for the claims the ID token
// left out. The answer must name the same subject as the verified ID token,
// or it is not about the user who signed in.
func (p *OIDCProvider) fillFromUserInfo(ctx context.Context, id *Identity, token *oauth2.Token) error {
	info, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(token))
	if err != nil {
		return fmt.Errorf("%w: userinfo request failed: %w", ErrOIDC, err)
	}
	if info.Subject != id.Subject {
		return fmt.Errorf("%w: userinfo is about subject %q, the ID token about %q",
			ErrOIDC, shorten(info.Subject), id.Subject)
	}
	var raw map[string]json.RawMessage
	if err := info.Claims(&raw); err != nil {
		return fmt.Errorf("%w: userinfo claims: %w", ErrOIDC, err)
	}
	if err := p.applyClaims(id, raw); err != nil {
		return fmt.Errorf("%w: userinfo claims: %w", ErrOIDC, err)
	}
	return nil
}

// EndSessionURL is where to send the browser to sign out at the provider too
// (OpenID Connect RP-Initiated Logout), with the ID token as id_token_hint and
// postLogoutRedirect as where the provider sends the browser back; that URL
// must be registered at the provider. ok is false when the provider has no
// end_session_endpoint, and Hearth can only end its own session.
func (p *OIDCProvider) EndSessionURL(idToken, postLogoutRedirect string) (string, bool) {
	if p.endSession == "" {
		return "", false
	}
	u, err := url.Parse(p.endSession)
	if err != nil {
		// NewOIDCProvider parsed this URL already.
		return "", false
	}
	q := u.Query()
	q.Set("client_id", p.oauth.ClientID)
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	if postLogoutRedirect != "" {
		q.Set("post_logout_redirect_uri", postLogoutRedirect)
	}
	u.RawQuery = q.Encode()
	return u.String(), true
}
