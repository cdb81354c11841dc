package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/time/rate"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/web/audit"
	"github.com/hearthiot/hearth/web/auth"
)

// loginData is what the sign-in page shows.
type loginData struct {
	Next      string
	Email     string
	Message   string
	Providers []ssoButton
}

func (u *UI) showLogin(w http.ResponseWriter, r *http.Request) {
	if _, ok := u.principal(r); ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	v := u.view(r)
	u.render(w, r, http.StatusOK, loginPage(v, u.loginForm(r, "")))
}

// loginForm is what the sign-in page shows: the providers, the local form
// and a message.
func (u *UI) loginForm(r *http.Request, message string) loginData {
	d := loginData{Next: safeNext(r.URL.Query().Get("next")), Message: message}
	if r.Method == http.MethodPost {
		d.Next = safeNext(r.PostFormValue("next"))
		d.Email = r.PostFormValue("email")
	}
	if msg := u.sessions.PopString(r.Context(), keyFlash); msg != "" && d.Message == "" {
		d.Message = msg
	}
	for _, p := range u.providers() {
		d.Providers = append(d.Providers, ssoButton{Name: p.Name(), Label: providerLabel(p)})
	}
	return d
}

// providerLabel is how the sign-in page names a provider: its display name,
// else its name.
func providerLabel(p SSO) string {
	if dn, ok := p.(interface{ DisplayName() string }); ok && dn.DisplayName() != "" {
		return dn.DisplayName()
	}
	return p.Name()
}

// ssoButton is one provider on the sign-in page.
type ssoButton struct{ Name, Label string }

// providers lists every single sign-on provider: the fixed ones, then the
// configured ones whose names are free.
func (u *UI) providers() []SSO {
	if u.moreSSO == nil {
		return u.sso
	}
	out := slices.Clone(u.sso)
	for _, p := range u.moreSSO() {
		if !slices.ContainsFunc(out, func(q SSO) bool { return q.Name() == p.Name() }) {
			out = append(out, p)
		}
	}
	return out
}

// login signs in with a local account. Every failure reads the same, so
// the page does not tell which e-mail addresses have accounts; an address
// whose attempts wait after failures is told for how long, whether it has
// an account or not.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	sess, err := u.gate.SignIn(r.PostFormValue("email"), r.PostFormValue("password"))
	var delay *gate.SignInDelay
	switch {
	case errors.As(err, &delay):
		secs := int(math.Ceil(delay.Wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		u.logLimit.Log(r.Context(), slog.LevelInfo, "sign-in refused: the account's attempts wait", "remote", clientIP(r))
		u.render(w, r, http.StatusTooManyRequests, loginPage(v, u.loginForm(r, t(v.Lang, "login.delayed", (secs+59)/60))))
		return
	case err != nil:
		u.logLimit.Log(r.Context(), slog.LevelInfo, "sign-in refused", "remote", clientIP(r))
		u.render(w, r, http.StatusUnauthorized, loginPage(v, u.loginForm(r, t(v.Lang, "login.failed"))))
		return
	}
	if err := u.startSession(r, sess, ""); err != nil {
		u.fail(w, r, err)
		return
	}
	u.logger.Info("signed in", "user", sess.Email, "how", "password")
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// startSession renews the session token (so a token planted before sign-in
// is worth nothing after it) and records who signed in.
func (u *UI) startSession(r *http.Request, sess gate.Session, idToken string) error {
	ctx := r.Context()
	if err := u.sessions.RenewToken(ctx); err != nil {
		return err
	}
	u.sessions.Remove(ctx, keyPending)
	u.sessions.Put(ctx, keyEmail, sess.Email)
	u.sessions.Put(ctx, keySource, sess.Source)
	u.sessions.Put(ctx, keyRole, sess.Role)
	u.sessions.Put(ctx, keyCustomer, sess.Customer)
	u.sessions.Put(ctx, keyProvider, sess.Provider)
	u.sessions.Put(ctx, keyIDToken, idToken)
	return nil
}

func (u *UI) provider(name string) (SSO, bool) {
	for _, p := range u.providers() {
		if p.Name() == name {
			return p, true
		}
	}
	return nil, false
}

// startSSO sends the browser to the provider, keeping state, nonce and the
// PKCE verifier in the session until it comes back.
func (u *UI) startSSO(w http.ResponseWriter, r *http.Request) {
	p, ok := u.provider(chi.URLParam(r, "provider"))
	if !ok {
		u.notFound(w, r)
		return
	}
	authURL, pending, err := p.Start()
	if errors.Is(err, auth.ErrAddressRefused) {
		// The issuer, or an endpoint its discovery names, resolves to an
		// address Hearth does not connect to: waiting will not help, an
		// operator must correct the provider or its DNS.
		u.logLimit.Log(r.Context(), slog.LevelWarn, "single sign-on provider refused: its address is not connected to", "provider", p.Name(), "remote", clientIP(r), "error", err)
		v := u.view(r)
		u.render(w, r, http.StatusServiceUnavailable, loginPage(v, u.loginForm(r, t(v.Lang, "login.sso_refused", providerLabel(p)))))
		return
	}
	if err != nil {
		// The provider could not be reached (its discovery failed): the
		// person is told so, and offered the local sign-in; the cause is
		// for operators, in the log.
		u.logLimit.Log(r.Context(), slog.LevelWarn, "single sign-on provider unreachable", "provider", p.Name(), "remote", clientIP(r), "error", err)
		v := u.view(r)
		w.Header().Set("Retry-After", "30")
		u.render(w, r, http.StatusServiceUnavailable, loginPage(v, u.loginForm(r, t(v.Lang, "login.sso_unreachable", providerLabel(p)))))
		return
	}
	b, err := json.Marshal(pendingSignIn{Provider: p.Name(), Pending: pending, Next: safeNext(r.URL.Query().Get("next"))})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.sessions.Put(r.Context(), keyPending, string(b))
	http.Redirect(w, r, authURL, http.StatusSeeOther)
}

type pendingSignIn struct {
	Provider string       `json:"provider"`
	Pending  auth.Pending `json:"pending"`
	Next     string       `json:"next"`
}

// finishSSO checks the provider's answer and signs the person in, or shows
// why not. A pending sign-in is used once: a replayed callback finds none.
func (u *UI) finishSSO(w http.ResponseWriter, r *http.Request) {
	v := u.view(r)
	ctx := r.Context()
	p, ok := u.provider(chi.URLParam(r, "provider"))
	if !ok {
		u.notFound(w, r)
		return
	}
	raw := u.sessions.PopString(ctx, keyPending)
	var pending pendingSignIn
	if raw == "" || json.Unmarshal([]byte(raw), &pending) != nil || pending.Provider != p.Name() {
		u.logLimit.Log(ctx, slog.LevelInfo, "single sign-on refused: no sign-in pending in this session", "provider", p.Name(), "remote", clientIP(r))
		u.render(w, r, http.StatusBadRequest, loginPage(v, u.loginForm(r, t(v.Lang, "login.sso_failed", p.Name()))))
		return
	}
	id, err := p.Finish(ctx, r.URL.Query(), pending.Pending)
	if err != nil {
		u.logLimit.Log(ctx, slog.LevelInfo, "single sign-on refused", "provider", p.Name(), "remote", clientIP(r), "error", err)
		u.render(w, r, http.StatusBadRequest, loginPage(v, u.loginForm(r, t(v.Lang, "login.sso_failed", p.Name()))))
		return
	}
	limit := ""
	if c, ok := p.(interface{ Customer() string }); ok {
		limit = c.Customer()
	}
	sess, err := u.gate.SignInWithIdentity(gate.Identity{
		Provider: p.Name(), Email: id.Email, EmailVerified: id.EmailVerified, Groups: id.Groups,
	}, limit)
	if err != nil {
		email := strings.ToLower(id.Email)
		u.logger.Info("single sign-on: no access", "provider", p.Name(), "user", email, "subject", id.Subject)
		u.render(w, r, http.StatusForbidden, noAccessPage(v, email))
		return
	}
	if err := u.startSession(r, sess, id.IDToken); err != nil {
		u.fail(w, r, err)
		return
	}
	u.logger.Info("signed in", "user", sess.Email, "how", "sso", "provider", p.Name())
	http.Redirect(w, r, safeNext(pending.Next), http.StatusSeeOther)
}

// logout ends the session here and, for a provider that has one, at the
// provider's end-session endpoint.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	provider := u.sessions.GetString(ctx, keyProvider)
	idToken := u.sessions.GetString(ctx, keyIDToken)
	email := u.sessions.GetString(ctx, keyEmail)
	if err := u.sessions.Destroy(ctx); err != nil {
		u.fail(w, r, err)
		return
	}
	if email != "" {
		u.logger.Info("signed out", "user", email)
	}
	if p, ok := u.provider(provider); ok && idToken != "" {
		if end, ok := p.EndSessionURL(idToken, absoluteURL(r, "/login")); ok {
			u.render(w, r, http.StatusOK, signingOutPage(u.view(r), end))
			return
		}
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// absoluteURL is path on the host the request came to.
func absoluteURL(r *http.Request, path string) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host + path
}

// loginLimiter bounds sign-in attempts per client address: a burst of 10,
// then one every 6 s, so guessing passwords is slow without locking
// anyone out for long.
type loginLimiter struct {
	now func() time.Time
	mu  sync.Mutex
	by  map[string]*rate.Limiter
}

const (
	loginBurst        = 10
	loginEvery        = 6 * time.Second
	maxLimitedClients = 10_000
)

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, by: map[string]*rate.Limiter{}}
}

func (l *loginLimiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.by[key]
	if !ok {
		if len(l.by) >= maxLimitedClients {
			// Forget limiters that are full again; they would allow a
			// whole burst anyway.
			for k, v := range l.by {
				if v.TokensAt(l.now()) >= loginBurst {
					delete(l.by, k)
				}
			}
			if len(l.by) >= maxLimitedClients {
				clear(l.by)
			}
		}
		lim = rate.NewLimiter(rate.Every(loginEvery), loginBurst)
		l.by[key] = lim
	}
	return lim.AllowN(l.now(), 1)
}

func (u *UI) limitLogins(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !u.limiter.allow(clientIP(r)) {
			v := u.view(r)
			w.Header().Set("Retry-After", "60")
			u.logLimit.Log(r.Context(), slog.LevelWarn, "sign-in attempts limited", "remote", clientIP(r))
			u.render(w, r, http.StatusTooManyRequests, loginPage(v, u.loginForm(r, t(v.Lang, "login.limited"))))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loginFormLimit bounds the forms anyone may send: an e-mail address, a
// password and a next path fit many times over.
const loginFormLimit = 16 << 10

// readForm reads the body of a form anyone may send, at most limit bytes,
// before the handler runs. A body that does not arrive in time, is too
// large or is not a form is answered 408, 413 or 400 at once, and logged
// at debug level only: a client that stalls or sends junk is not news, and
// it must not reach the handler as a form with empty fields.
func (u *UI) readForm(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if err := r.ParseForm(); err != nil {
				status, msg := http.StatusBadRequest, "the form could not be read"
				var tooLarge *http.MaxBytesError
				var ne net.Error
				switch {
				case errors.As(err, &tooLarge):
					status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("the form is larger than %d bytes", limit)
				case errors.As(err, &ne) && ne.Timeout():
					status, msg = http.StatusRequestTimeout, "the form did not arrive in time; send it again"
				}
				u.logger.Debug("form not read", "path", r.URL.Path, "remote", clientIP(r), "error", err)
				// Plain text: a client whose body timed out has a
				// cancelled context, in which a page would not render.
				w.Header().Set("Connection", "close")
				http.Error(w, msg, status)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// clientIP is the address the request came from.
func clientIP(r *http.Request) string { return audit.RemoteHost(r) }
