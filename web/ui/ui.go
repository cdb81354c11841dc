package ui

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/internal/loglimit"
	"github.com/hearthiot/hearth/web/audit"
	"github.com/hearthiot/hearth/web/auth"
)

// Assets are the embedded browser files; *static.Assets implements it.
type Assets interface {
	URL(name string) string
	Handler() http.Handler
}

// SSO is one OpenID Connect provider; *auth.OIDCProvider implements it.
// A provider that also has a DisplayName() string method is labelled by it
// on the sign-in page. One that has a Customer() string method naming a
// customer signs in only that customer's people: its users, and the
// groups claim for that customer; never an operator.
type SSO interface {
	Name() string
	Start() (authURL string, pending auth.Pending, err error)
	Finish(ctx context.Context, query url.Values, pending auth.Pending) (auth.Identity, error)
	EndSessionURL(idToken, postLogoutRedirect string) (string, bool)
}

// Deps are what the pages work with. Gate, Sessions and Assets are
// required. Every read and change of Hearth's state goes through Gate;
// Sessions keeps only the pages' own browser sessions.
type Deps struct {
	Gate     *gate.Gate
	Sessions SessionStore
	Assets   Assets
	// SSO lists the single sign-on providers, shown on the sign-in page in
	// this order; an SSO name must be unique.
	SSO []SSO
	// PublicURL is the address browsers reach Hearth at, from which the
	// single sign-on page shows redirect URIs; empty uses each request's
	// host.
	PublicURL string
	// MQTTAddress is HOST:PORT devices connect to over MQTT/TLS, as the
	// credential bundles and device instructions say it.
	MQTTAddress string
	// MoreSSO, when set, lists more providers, asked at every sign-in, so
	// that providers operators configure while Hearth runs take effect at
	// once. Those whose name an SSO provider has are left out.
	MoreSSO func() []SSO
	// Location is the default time zone of the pages (Asia/Tokyo, ...);
	// nil is UTC.
	Location *time.Location
	// InsecureCookies drops the Secure flag and the __Host- cookie prefix,
	// for tests over plain HTTP only; Hearth serves pages over TLS.
	InsecureCookies bool
	IdleTimeout     time.Duration // default DefaultIdleTimeout
	AbsoluteTimeout time.Duration // default DefaultAbsoluteTimeout
	Logger          *slog.Logger
	Now             func() time.Time
	// Events, when set, wakes the live parts of the pages when a device
	// stores telemetry, connects, disconnects or has an alarm change;
	// without it they refresh once a minute.
	Events *events.Bus
}

// UI serves the pages.
type UI struct {
	gate      *gate.Gate
	assets    Assets
	sso       []SSO
	moreSSO   func() []SSO
	publicURL string
	mqttAddr  string
	loc       *time.Location
	logger    *slog.Logger
	now       func() time.Time
	sessions  *scs.SessionManager
	limiter   *loginLimiter
	handler   http.Handler
	zones     sync.Map // time zone name → *time.Location
	// logLimit writes lines that anyone can cause by the thousand: the
	// first of each kind per minute, then a summary.
	logLimit *loglimit.Limiter
	// live wakes the pages' live streams; Close ends them.
	live      *liveHub
	liveCache liveCache
}

// New builds the pages. It panics when a required dependency is missing,
// a wiring mistake no request could recover from.
func New(d Deps) *UI {
	if d.Gate == nil || d.Sessions == nil || d.Assets == nil {
		panic("ui.New: Deps.Gate, Sessions and Assets are required")
	}
	u := &UI{
		gate:      d.Gate,
		assets:    d.Assets,
		sso:       d.SSO,
		moreSSO:   d.MoreSSO,
		publicURL: d.PublicURL,
		mqttAddr:  d.MQTTAddress,
		loc:       d.Location,
		logger:    d.Logger,
		now:       d.Now,
	}
	if u.loc == nil {
		u.loc = time.UTC
	}
	if u.logger == nil {
		u.logger = slog.New(slog.DiscardHandler)
	}
	if u.now == nil {
		u.now = time.Now
	}
	idle, absolute := d.IdleTimeout, d.AbsoluteTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	if absolute <= 0 {
		absolute = DefaultAbsoluteTimeout
	}
	u.sessions = newSessions(d.Sessions, idle, absolute, !d.InsecureCookies, u.now)
	u.sessions.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		u.logger.Error("session store failed", "path", r.URL.Path, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
	u.limiter = newLoginLimiter(u.now)
	u.logLimit = loglimit.New(u.logger, 5, time.Minute, u.now)
	u.live = newLiveHub(d.Events)
	u.handler = u.routes()
	return u
}

// favicon sends browsers that ask /favicon.ico (before or without reading
// a page's icon link) to the icon's current, hashed URL; the redirect is
// kept a day, the icon a year.
func (u *UI) favicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.Redirect(w, r, u.assets.URL("favicon.ico"), http.StatusFound)
}

// Handler serves every page route and the static files.
func (u *UI) Handler() http.Handler { return u.handler }

func (u *UI) routes() http.Handler {
	r := chi.NewRouter()
	r.Handle("/static/*", u.assets.Handler())
	r.Get("/favicon.ico", u.favicon)
	r.Group(func(r chi.Router) {
		r.Use(u.pageHeaders)
		// Pages, live fragments, chart data and CSV compress 5- to 15-fold,
		// which counts on a slow on-prem link. Pages carry no secret that an
		// attacker could make them repeat (the CSRF check reads headers; a
		// device secret is shown once), so compression leaks nothing.
		r.Use(middleware.Compress(5, "text/html", "application/json", "text/csv"))
		r.Use(http.NewCrossOriginProtection().Handler)
		r.Use(u.sessions.LoadAndSave)
		r.Get("/login", u.showLogin)
		r.With(u.readForm(loginFormLimit), u.limitLogins).Post("/login", u.login)
		r.Get("/login/sso/{provider}", u.startSSO)
		r.Get("/login/sso/{provider}/callback", u.finishSSO)
		r.With(u.readForm(loginFormLimit)).Post("/logout", u.logout)
		r.Get("/set-password/{secret}", u.showSetPassword)
		r.With(u.readForm(loginFormLimit)).Post("/set-password/{secret}", u.setPassword)
		r.Group(func(r chi.Router) {
			r.Use(u.requireSignIn)
			r.Use(audit.Changes(gate.AuditChannelPage, func(r *http.Request) audit.Recorder { return u.scope(r) }))
			r.Get("/account", u.showAccount)
			r.Post("/account", u.saveAccount)
			r.Get("/account/notifications", u.showPrefs)
			r.Post("/account/notifications", u.savePrefs)
			u.teamRoutes(r)
			r.Get("/password", u.showPassword)
			r.With(u.limitLogins).Post("/password", u.changePassword)
			r.Get("/", u.showOverview)
			r.Get("/overview/live", u.serveLive(u.overviewLive))
			r.Get("/sites/{customer}/{site}", u.showSite)
			r.Get("/sites/{customer}/{site}/live", u.serveLive(u.siteLive))
			r.Get("/devices/{name}", u.showDevice)
			r.Get("/devices/{name}/live", u.serveLive(u.deviceLive))
			r.Get("/devices/{name}/series", u.series)
			r.Post("/devices/{name}/chart", u.saveChartMetrics)
			r.Get("/devices/{name}/export.csv", u.exportCSV)
			r.Post("/devices/{name}/settings", u.saveSettings)
			u.calendarRoutes(r)
			u.alarmRoutes(r)
			u.energyRoutes(r)
			u.jobRoutes(r)
			u.messageRuleRoutes(r)
			u.strategyRoutes(r)
			r.Route("/admin", func(r chi.Router) {
				r.Use(u.requireOperator)
				u.fleetRoutes(r)
				u.calendarAdminRoutes(r)
				u.alarmAdminRoutes(r)
				u.jobAdminRoutes(r)
				u.messageRuleAdminRoutes(r)
				u.configRoutes(r)
				u.ssoRoutes(r)
				u.artifactRoutes(r)
				u.editRoutes(r)
				r.Get("/audit", u.showAudit)
			})
		})
	})
	return r
}

// pageHeaders sets what every page answer carries: no caching of pages
// that hold a customer's data, and a content security policy that lets the
// page load only Hearth's own files.
func (u *UI) pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
			"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		next.ServeHTTP(w, r)
	})
}

type principalKey struct{}

// requireSignIn lets signed-in people through with their principal, and
// sends others to the sign-in page (htmx requests get a full-page
// redirect instead of a fragment).
func (u *UI) requireSignIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := u.account(r)
		p := a.Principal
		if ok && a.MustChangePassword && r.URL.Path != "/password" {
			// A one-time password is good for choosing a new one only.
			http.Redirect(w, r, "/password", http.StatusSeeOther)
			return
		}
		if !ok {
			target := "/login?next=" + url.QueryEscape(r.URL.RequestURI())
			if r.Header.Get("HX-Request") == "true" {
				w.Header().Set("HX-Redirect", target)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, accountKey{}, a)))
	})
}

// principal is who the session belongs to. A stored user's current role
// and customer apply, so an operator's change to a user takes effect at
// the next request; a deleted user is signed out. People admitted by a
// groups claim keep what the claim gave them for the session.
func (u *UI) principal(r *http.Request) (gate.Principal, bool) {
	a, ok := u.account(r)
	return a.Principal, ok
}

// account is who is signed in, with their page preferences.
type account struct {
	gate.Account
}

type accountKey struct{}

// account reads the session's person, once per request: requireSignIn
// keeps it in the request's context for the handlers and the view. A
// session whose user is gone is ended.
func (u *UI) account(r *http.Request) (account, bool) {
	ctx := r.Context()
	if a, ok := ctx.Value(accountKey{}).(account); ok {
		return a, true
	}
	a, err := u.sessionAccount(ctx)
	if errors.Is(err, gate.ErrSignedOut) && u.sessions.GetString(ctx, keyEmail) == "" {
		return account{}, false
	}
	if err != nil {
		if !errors.Is(err, gate.ErrSignedOut) {
			u.logger.Error("cannot read the session's user", "error", err)
		}
		_ = u.sessions.Destroy(ctx)
		return account{}, false
	}
	return account{a}, true
}

// sessionAccount reads the person of the session loaded in ctx as they
// are now: gate.ErrSignedOut for none, or one disabled or deleted.
func (u *UI) sessionAccount(ctx context.Context) (gate.Account, error) {
	email := u.sessions.GetString(ctx, keyEmail)
	if email == "" {
		return gate.Account{}, gate.ErrSignedOut
	}
	return u.gate.Account(gate.Session{
		Email:    email,
		Source:   u.sessions.GetString(ctx, keySource),
		Role:     u.sessions.GetString(ctx, keyRole),
		Customer: u.sessions.GetString(ctx, keyCustomer),
		Provider: u.sessions.GetString(ctx, keyProvider),
	})
}

// requireOperator keeps the operator pages to operators; a customer gets
// the same 404 as for a page that does not exist.
func (u *UI) requireOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, _ := r.Context().Value(principalKey{}).(gate.Principal); !p.Operator() {
			u.notFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// scope is what the signed-in principal of r may see and do.
func (u *UI) scope(r *http.Request) gate.Scope {
	p, _ := r.Context().Value(principalKey{}).(gate.Principal)
	return u.gate.Scope(p)
}

// safeNext keeps a redirect target that came with a request (after
// sign-in, after a form) on this site: a clean path starting with one
// "/", else "/". Browsers drop tabs and newlines from a Location and read
// a backslash as a slash, so "/\t/host" and "/\\host" would leave the
// site as "//host" does; a target with any control character, a
// backslash, a scheme or a host is refused whole rather than cleaned.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, c := range next {
		if unicode.IsControl(c) || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return next
}
