package ui_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/web/auth/oidctest"
)

// nextCases are post-sign-in targets and where the browser must be sent.
// Browsers drop tabs and newlines from a Location and read a backslash as
// a slash, so "/\t/evil.example" is "//evil.example" to them.
var nextCases = []struct{ next, want string }{
	{"/\t/evil.example", "/"},
	{"/devices/acme-chiller-1?range=1d#chart", "/devices/acme-chiller-1?range=1d#chart"},
	{"/\n/evil.example", "/"},
	{"/\r/evil.example", "/"},
	{"/\x00/evil.example", "/"},
	{"/\x7f/evil.example", "/"},
	{"//evil.example", "/"},
	{"/\\evil.example", "/"},
	{"/a\\..\\\\evil.example", "/"},
	{"https://evil.example/", "/"},
	{"evil.example", "/"},
	{"", "/"},
}

// rawLocation sends a request and reads the answer's Location as the
// server wrote it: Go's client refuses to parse the bad ones a browser
// would follow.
func (e *env) rawLocation(jar http.CookieJar, method, path string, form url.Values) (int, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.srv.URL)
	}
	for _, c := range jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	res, err := e.srv.Client().Transport.RoundTrip(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	jar.SetCookies(req.URL, res.Cookies())
	return res.StatusCode, res.Header.Get("Location")
}

// TestSignInNextStaysOnSite: whatever next a link carries, the browser is
// sent to a path of this site after signing in, never to another host.
func TestSignInNextStaysOnSite(t *testing.T) {
	e := newEnv(t, envOptions{})
	// Sign-ins are limited per address: a few of the cases through the
	// form, all of them through the sign-in page of one signed in.
	var jar http.CookieJar
	for _, tt := range nextCases[:6] {
		jar, _ = cookiejar.New(nil)
		status, loc := e.rawLocation(jar, http.MethodPost, "/login", url.Values{"email": {acmeUser}, "password": {password}, "next": {tt.next}})
		if status != http.StatusSeeOther || loc != tt.want {
			t.Errorf("sign in with next=%q: %d to %q, want %q", tt.next, status, loc, tt.want)
		}
	}
	for _, tt := range nextCases {
		status, loc := e.rawLocation(jar, http.MethodGet, "/login?next="+url.QueryEscape(tt.next), nil)
		if status != http.StatusSeeOther || loc != tt.want {
			t.Errorf("signed in, /login?next=%q: %d to %q, want %q", tt.next, status, loc, tt.want)
		}
	}
}

// TestSSONextStaysOnSite: the next a single sign-on link carries is kept
// through the provider as the sign-in form's is: a path of this site or /.
func TestSSONextStaysOnSite(t *testing.T) {
	alice := oidctest.DefaultUser()
	alice.Email = acmeUser
	e, p := ssoEnv(t, alice)
	for _, tt := range nextCases[:3] {
		jar, _ := cookiejar.New(nil)
		status, start := e.rawLocation(jar, http.MethodGet, "/login/sso/acme-sso?next="+url.QueryEscape(tt.next), nil)
		if status != http.StatusSeeOther {
			t.Fatalf("start with next=%q: %d", tt.next, status)
		}
		callback, err := p.LoginAs(&http.Client{Jar: jar, Timeout: 10 * time.Second}, start, alice.Username, alice.Password)
		if err != nil {
			t.Fatalf("provider login: %v", err)
		}
		u, _ := url.Parse(callback)
		if status, loc := e.rawLocation(jar, http.MethodGet, u.RequestURI(), nil); status != http.StatusSeeOther || loc != tt.want {
			t.Errorf("single sign-on with next=%q: %d to %q, want %q", tt.next, status, loc, tt.want)
		}
	}
}
