package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/auth"
	"github.com/hearthiot/hearth/web/ui"
	"github.com/hearthiot/hearth/web/ui/static"
)

// newUI builds the pages over the API the server already built.
func (s *Server) newUI(ep Endpoints) (*ui.UI, error) {
	assets, err := static.New()
	if err != nil {
		return nil, fmt.Errorf("load page assets: %w", err)
	}
	loc, err := time.LoadLocation(s.cfg.Web.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", s.cfg.Web.TimeZone, err)
	}
	d := ui.Deps{
		Gate:            s.gate,
		Sessions:        s.store,
		Assets:          assets,
		Location:        loc,
		IdleTimeout:     s.cfg.Web.SessionIdle,
		AbsoluteTimeout: s.cfg.Web.SessionAbsolute,
		Logger:          s.logger.With("component", "ui"),
		Events:          s.events,
	}
	base, err := url.Parse(ep.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("public URL: %w", err)
	}
	if sso := s.cfg.Web.SSO; sso.Issuer != "" {
		d.SSO = append(d.SSO, &lazySSO{cfg: auth.OIDCConfig{
			Name:         sso.Name,
			Issuer:       sso.Issuer,
			ClientID:     sso.ClientID,
			ClientSecret: sso.ClientSecret,
			RedirectURL:  base.JoinPath("login", "sso", sso.Name, "callback").String(),
			GroupsClaim:  sso.GroupsClaim,
		}, logger: s.logger.With("component", "sso", "provider", sso.Name)})
	}
	stored := &storedSSO{st: s.store, base: base, defaultGroups: s.cfg.Web.SSO.GroupsClaim, logger: s.logger.With("component", "sso"), cache: map[string]*lazySSO{}}
	d.MoreSSO = stored.providers
	d.PublicURL = ep.PublicURL
	d.MQTTAddress = ep.MQTT
	return ui.New(d), nil
}

// sameOIDC reports whether two provider configurations that storedSSO
// builds (without scopes or an HTTP client) are the same.
func sameOIDC(a, b auth.OIDCConfig) bool {
	return a.Name == b.Name && a.Issuer == b.Issuer && a.ClientID == b.ClientID &&
		a.ClientSecret == b.ClientSecret && a.RedirectURL == b.RedirectURL && a.GroupsClaim == b.GroupsClaim
}

// storedSSO is the single sign-on providers operators configured through
// the API or the pages. It reads them at every sign-in, so a change takes
// effect at once, and keeps each provider it built (and the discovery it
// did) while its configuration stays the same.
type storedSSO struct {
	st interface {
		ListSSOProviders() ([]store.SSOProvider, error)
	}
	base          *url.URL
	defaultGroups string
	logger        *slog.Logger

	mu    sync.Mutex
	cache map[string]*lazySSO // by name
}

func (s *storedSSO) providers() []ui.SSO {
	list, err := s.st.ListSSOProviders()
	if err != nil {
		s.logger.Error("cannot read single sign-on providers", "error", err)
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ui.SSO, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, p := range list {
		groups := p.GroupsClaim
		if groups == "" {
			groups = s.defaultGroups
		}
		cfg := auth.OIDCConfig{
			Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			RedirectURL: s.base.JoinPath("login", "sso", p.Name, "callback").String(),
			GroupsClaim: groups,
		}
		l, ok := s.cache[p.Name]
		// A provider is never changed once built (sign-ins read it without
		// a lock): a change of any field builds a new one.
		if !ok || !sameOIDC(l.cfg, cfg) || l.display != p.DisplayName || l.customer != p.Customer {
			l = &lazySSO{cfg: cfg, display: p.DisplayName, customer: p.Customer, logger: s.logger.With("provider", p.Name)}
			s.cache[p.Name] = l
		}
		seen[p.Name] = true
		out = append(out, l)
	}
	for name := range s.cache {
		if !seen[name] {
			delete(s.cache, name)
		}
	}
	return out
}

// lazySSO discovers its provider on first use rather than at start, so
// Hearth starts while the identity provider is down; a failed discovery
// is tried again at most every ssoRetry.
type lazySSO struct {
	cfg     auth.OIDCConfig
	display string // the sign-in button's label; empty shows the name
	// customer is the one customer whose people the provider signs in;
	// empty trusts it with every user (the operators' own provider).
	customer string
	logger   interface {
		Warn(msg string, args ...any)
	}

	mu       sync.Mutex
	p        *auth.OIDCProvider
	lastFail time.Time
	lastErr  error
}

const ssoRetry = 30 * time.Second

func (l *lazySSO) provider(ctx context.Context) (*auth.OIDCProvider, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p != nil {
		return l.p, nil
	}
	if !l.lastFail.IsZero() && time.Since(l.lastFail) < ssoRetry {
		return nil, l.lastErr
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := auth.NewOIDCProvider(ctx, l.cfg)
	if err != nil {
		l.lastFail, l.lastErr = time.Now(), err
		l.logger.Warn("single sign-on provider not reachable", "error", err)
		return nil, err
	}
	l.p = p
	return p, nil
}

func (l *lazySSO) Name() string { return l.cfg.Name }

// Problem is why the provider could not be used at the last try, "" when
// it could or was not tried yet.
func (l *lazySSO) Problem() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p != nil || l.lastErr == nil {
		return ""
	}
	return l.lastErr.Error()
}

// DisplayName labels the provider's sign-in button.
func (l *lazySSO) DisplayName() string { return l.display }

// Customer is the one customer the provider may sign people in for.
func (l *lazySSO) Customer() string { return l.customer }

func (l *lazySSO) Start() (string, auth.Pending, error) {
	p, err := l.provider(context.Background())
	if err != nil {
		return "", auth.Pending{}, err
	}
	return p.Start()
}

func (l *lazySSO) Finish(ctx context.Context, query url.Values, pending auth.Pending) (auth.Identity, error) {
	p, err := l.provider(ctx)
	if err != nil {
		return auth.Identity{}, err
	}
	return p.Finish(ctx, query, pending)
}

func (l *lazySSO) EndSessionURL(idToken, postLogoutRedirect string) (string, bool) {
	p, err := l.provider(context.Background())
	if err != nil {
		return "", false
	}
	return p.EndSessionURL(idToken, postLogoutRedirect)
}
