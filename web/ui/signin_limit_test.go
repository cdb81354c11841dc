package ui_test

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fromAddress is a browser whose connections come from ip, a loopback
// address of its own, as a guesser with many addresses would be.
func (e *env) fromAddress(ip string) *http.Client {
	c := e.browser()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c.Transport = &http.Transport{DialContext: d.DialContext}
	return c
}

// TestSignInDelayedPerAccount: guesses at one account spread over many
// addresses reach the password check a few times only; the rest are
// answered 429 with Retry-After, for a stored address and an unknown one
// alike, while other accounts sign in.
func TestSignInDelayedPerAccount(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, email := range []string{acmeUser, "nobody@acme.example"} {
		checked, delayed := 0, 0
		for i := range 200 {
			c := e.fromAddress(fmt.Sprintf("127.0.%d.%d", len(email), 2+i%20))
			r := e.post(c, "/login", url.Values{"email": {email}, "password": {fmt.Sprintf("guess %d", i)}})
			switch r.status {
			case http.StatusUnauthorized:
				checked++
			case http.StatusTooManyRequests:
				delayed++
				secs, err := strconv.Atoi(r.header.Get("Retry-After"))
				if err != nil || secs < 1 || secs > 60 {
					t.Fatalf("guess %d at %s: Retry-After %q, want 1 to 60 seconds", i, email, r.header.Get("Retry-After"))
				}
				if !strings.Contains(r.body, "Too many failed sign-ins for this e-mail address") {
					t.Fatalf("guess %d at %s: the page does not say why:\n%s", i, email, r.body)
				}
			default:
				t.Fatalf("guess %d at %s: %d", i, email, r.status)
			}
		}
		if checked > 5 || checked+delayed != 200 {
			t.Errorf("200 guesses at %s from 20 addresses: %d checked, %d delayed; want at most 5 checked", email, checked, delayed)
		}
	}
	// The right password waits too, so that guessing on is no use.
	c := e.fromAddress("127.0.1.2")
	if r := e.post(c, "/login", url.Values{"email": {acmeUser}, "password": {password}}); r.status != http.StatusTooManyRequests {
		t.Errorf("the right password while the account waits: %d, want 429", r.status)
	}
	e.signIn(globexUser)
}

// lines is a log that counts what it is given.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) count() (int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Count(l.buf.Bytes(), []byte("\n")), l.buf.String()
}

// slowSignIn sends a sign-in whose body never arrives in full, waits
// until the server gives up on it and returns the status line it answered,
// or "" when it closed the connection without one.
func slowSignIn(t *testing.T, addr string) string {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=fm%%40acme.example&pass", addr, addr)
	var answer bytes.Buffer
	_, _ = bufio.NewReader(conn).WriteTo(&answer)
	status, _, _ := strings.Cut(answer.String(), "\r\n")
	if status != "HTTP/1.1 408 Request Timeout" {
		t.Log(answer.String())
	}
	return status
}

// TestHostileSignInsLogBounded: sign-ins anyone can send by the thousand
// (bodies that never arrive, wrong passwords, attempts refused by the
// limits) write a bounded number of log lines at the default level, with
// summaries of what was held back, not one line each.
func TestHostileSignInsLogBounded(t *testing.T) {
	const slow, wrong = 200, 1000
	var log lines
	e := newEnv(t, envOptions{
		logger:      slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo})),
		readTimeout: 300 * time.Millisecond,
	})
	before, _ := log.count()
	addr := e.srv.Listener.Addr().String()
	var wg sync.WaitGroup
	for range slow {
		wg.Go(func() {
			// A form that never arrives is not a sign-in with empty
			// fields (a 401 or, worse, an empty 200).
			if status := slowSignIn(t, addr); status != "HTTP/1.1 408 Request Timeout" {
				t.Errorf("a sign-in whose body stalls is answered %q, want 408", status)
			}
		})
	}
	wg.Wait()
	for i := range wrong {
		c := e.fromAddress(fmt.Sprintf("127.0.2.%d", 2+i%50))
		r := e.post(c, "/login", url.Values{"email": {fmt.Sprintf("guess%d@acme.example", i%7)}, "password": {"guess"}})
		if r.status != http.StatusUnauthorized && r.status != http.StatusTooManyRequests {
			t.Fatalf("wrong password %d: %d", i, r.status)
		}
	}
	n, text := log.count()
	n -= before
	t.Logf("%d slow sign-ins and %d wrong passwords wrote %d log lines", slow, wrong, n)
	if testing.Verbose() {
		t.Log(text)
	}
	if n > 40 {
		t.Errorf("%d hostile sign-ins wrote %d log lines, want at most 40:\n%s", slow+wrong, n, text)
	}
	if strings.Contains(text, "level=ERROR") {
		t.Errorf("hostile sign-ins logged errors:\n%s", text)
	}
	// A minute on, the next line comes after a summary of what was held
	// back.
	e.clock.add(time.Minute)
	e.post(e.fromAddress("127.0.3.2"), "/login", url.Values{"email": {acmeUser}, "password": {"guess"}})
	_, text = log.count()
	for _, want := range []string{`msg="log lines held back" message="sign-in attempts limited"`, `msg="log lines held back" message="sign-in refused"`} {
		if !strings.Contains(text, want) {
			t.Errorf("no summary %s:\n%s", want, text)
		}
	}
}

// TestPasswordChangeDelayedPerAccount: a session guessing its account's
// current password, from many addresses, reaches the password check a
// few times only; the rest are answered 429 with Retry-After, the right
// password too, and the account's sign-ins wait with it, since both
// count the same failures. The log tells operators once, not per guess.
func TestPasswordChangeDelayedPerAccount(t *testing.T) {
	var log lines
	e := newEnv(t, envOptions{logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	session := e.signIn(acmeUser)
	next := "a new and longer passphrase"
	checked, delayed := 0, 0
	for i := range 50 {
		c := e.fromAddress(fmt.Sprintf("127.0.4.%d", 2+i%20))
		c.Jar = session.Jar
		r := e.post(c, "/password", url.Values{"current": {fmt.Sprintf("guess %d", i)}, "new": {next}, "again": {next}})
		switch r.status {
		case http.StatusBadRequest:
			checked++
			if !strings.Contains(r.body, "The current password is wrong.") {
				t.Fatalf("guess %d: 400 without saying the password is wrong:\n%s", i, r.body)
			}
		case http.StatusTooManyRequests:
			delayed++
			secs, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || secs < 1 || secs > 60 {
				t.Fatalf("guess %d: Retry-After %q, want 1 to 60 seconds", i, r.header.Get("Retry-After"))
			}
			if !strings.Contains(r.body, "Too many wrong passwords for this account") {
				t.Fatalf("guess %d: the page does not say why:\n%s", i, r.body)
			}
		default:
			t.Fatalf("guess %d: %d", i, r.status)
		}
	}
	if checked > 5 || checked+delayed != 50 {
		t.Errorf("50 guesses at the current password from 20 addresses: %d checked, %d delayed; want at most 5 checked", checked, delayed)
	}
	c := e.fromAddress("127.0.5.2")
	c.Jar = session.Jar
	if r := e.post(c, "/password", url.Values{"current": {password}, "new": {next}, "again": {next}}); r.status != http.StatusTooManyRequests {
		t.Errorf("the right current password while the account waits: %d, want 429", r.status)
	}
	if r := e.post(e.fromAddress("127.0.5.3"), "/login", url.Values{"email": {acmeUser}, "password": {password}}); r.status != http.StatusTooManyRequests {
		t.Errorf("signing in while the account's password changes wait: %d, want 429", r.status)
	}
	if u, err := e.st.GetUser(acmeUser); err != nil || u.MustChangePassword || u.PasswordHash == "" {
		t.Fatalf("user after the guesses: %+v, %v", u, err)
	}
	e.signIn(globexUser)

	n, text := log.count()
	if got := strings.Count(text, `msg="password changes of an account delayed after failures"`); got != 1 || !strings.Contains(text, "user="+acmeUser) {
		t.Errorf("the log says %d times that the account's password changes wait, want once with the user:\n%s", got, text)
	}
	if n > 40 {
		t.Errorf("50 guesses wrote %d log lines, want at most 40:\n%s", n, text)
	}
}
