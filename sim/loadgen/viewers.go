package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthiot/hearth/internal/tlsfile"
)

// Sign-ins are spread over loopback source addresses, this many a
// address: Hearth allows a burst of 10 sign-ins a client address.
const signInsPerAddress = 8

// viewerStats counts what the viewers saw.
type viewerStats struct {
	Mode        string  `json:"mode"`
	Viewers     int     `json:"viewers"`
	Sessions    int     `json:"sessions"`
	Connected   int64   `json:"connected"`
	Requests    int64   `json:"requests"`     // fragment requests (poll), stream opens (sse)
	Full        int64   `json:"full"`         // 200 fragments
	NotModified int64   `json:"not_modified"` // 304 answers
	Updates     int64   `json:"updates"`      // update events (sse)
	Pings       int64   `json:"pings"`        // ping events (sse)
	Errors      int64   `json:"errors"`
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
	LastError   string  `json:"last_error,omitempty"`
}

// runViewers opens live pages the way browsers do, each viewer over its own
// TLS connection with a signed-in session, and keeps them open for a
// bounded time: "sse" reads each page's event stream, "poll" asks for each
// page's fragment every -interval with If-None-Match, as a polling page
// would. It prints what it saw; the server's cost is for the caller to
// read (scripts/bench/live.sh).
func runViewers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("viewers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := fs.String("api", "https://127.0.0.1:8443", "Hearth's HTTPS URL")
	caFile := fs.String("ca", "", "CA certificate file that verifies Hearth (required)")
	email := fs.String("email", "", "e-mail of the account the viewers sign in as (required)")
	password := fs.String("password", "", "its password (better: HEARTH_LOADGEN_PASSWORD)")
	n := fs.Int("viewers", 1000, "open pages")
	perSession := fs.Int("per-session", 8, "pages a session holds open (Hearth allows 10)")
	mode := fs.String("mode", "sse", "sse (event streams) or poll (conditional fragment requests)")
	interval := fs.Duration("interval", 5*time.Second, "time between two requests of one page (poll)")
	duration := fs.Duration("duration", 90*time.Second, "how long the pages stay open")
	ready := fs.String("ready-file", "", "create this file once every page is open, so a script knows when to measure")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *mode != "sse" && *mode != "poll":
		return fmt.Errorf("viewers: -mode %q: want sse or poll", *mode)
	case *caFile == "" || *email == "":
		return errors.New("viewers: -ca and -email are required")
	case *n <= 0 || *perSession <= 0 || *interval <= 0 || *duration <= 0:
		return errors.New("viewers: -viewers, -per-session, -interval and -duration must be positive")
	}
	pool, err := tlsfile.CertPool(*caFile)
	if err != nil {
		return err
	}
	base, err := url.Parse(*api)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return fmt.Errorf("viewers: -api %q: want https://HOST:PORT", *api)
	}
	tlsConf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	sessions := (*n + *perSession - 1) / *perSession
	cookies := make([]string, sessions)
	for i := range cookies {
		// 127.0.1.1, 127.0.1.2, …: each address signs in a few times.
		src := net.IPv4(127, 0, byte(1+i/signInsPerAddress/250), byte(1+i/signInsPerAddress%250))
		if cookies[i], err = signIn(ctx, base, tlsConf, src, *email, *password); err != nil {
			return fmt.Errorf("viewers: sign-in %d: %w", i+1, err)
		}
	}
	pages, err := livePages(ctx, base, tlsConf, cookies[0])
	if err != nil {
		return err
	}
	st := viewerStats{Mode: *mode, Viewers: *n, Sessions: sessions}
	var lastErr atomic.Value
	fail := func(err error) {
		if ctx.Err() == nil {
			atomic.AddInt64(&st.Errors, 1)
			lastErr.Store(err.Error())
		}
	}
	var (
		wg     sync.WaitGroup
		opened sync.WaitGroup
	)
	start := time.Now()
	opened.Add(*n)
	for i := range *n {
		page := pages[i%len(pages)]
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf.Clone(), ForceAttemptHTTP2: true,
			MaxIdleConnsPerHost: 1, IdleConnTimeout: 2 * *interval}}
		v := viewer{client: client, url: base.JoinPath(page).String(), cookie: cookies[i / *perSession], st: &st, fail: fail}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer client.CloseIdleConnections()
			if *mode == "sse" {
				v.stream(ctx, opened.Done)
			} else {
				v.poll(ctx, *interval, opened.Done)
			}
		}()
	}
	openedC := make(chan struct{})
	go func() { opened.Wait(); close(openedC) }()
	select {
	case <-openedC:
		if *ready != "" {
			if err := os.WriteFile(*ready, nil, 0o600); err != nil {
				return fmt.Errorf("viewers: %w", err)
			}
		}
	case <-ctx.Done():
	}
	wg.Wait()
	st.Seconds = time.Since(start).Seconds()
	if s, ok := lastErr.Load().(string); ok {
		st.LastError = s
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(st)
	}
	fmt.Fprintf(stdout, "viewers %d (%s) in %d sessions over %.0f s: %d connected, %d requests, %d full, %d not modified, %d updates, %d pings, %d errors, %d KiB received\n",
		st.Viewers, st.Mode, st.Sessions, st.Seconds, st.Connected, st.Requests, st.Full, st.NotModified, st.Updates, st.Pings, st.Errors, st.Bytes/1024)
	if st.LastError != "" {
		fmt.Fprintf(stdout, "last error: %s\n", st.LastError)
	}
	return nil
}

// signIn signs in from source address src and returns the session cookie.
func signIn(ctx context.Context, base *url.URL, tlsConf *tls.Config, src net.IP, email, password string) (string, error) {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: tlsConf.Clone(), DialContext: dialer.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
	defer client.CloseIdleConnections()
	form := url.Values{"email": {email}, "password": {password}, "next": {"/"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.JoinPath("login").String(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("POST /login answered %s; want 303 (is the password right, and not one to change?)", res.Status)
	}
	if loc := res.Header.Get("Location"); loc == "/password" {
		return "", errors.New("the account must change its password first")
	}
	for _, c := range res.Cookies() {
		if strings.Contains(c.Name, "session") {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", errors.New("POST /login set no session cookie")
}

var (
	siteLink   = regexp.MustCompile(`href="(/sites/[^"/]+/[^"/]+)"`)
	deviceLink = regexp.MustCompile(`href="(/devices/[^"/]+)"`)
)

// livePages lists the live routes the viewers open, in turn: the overview,
// a site's page, a device's page, another site's, …, from the links of
// the overview and its sites' pages.
func livePages(ctx context.Context, base *url.URL, tlsConf *tls.Config, cookie string) ([]string, error) {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf.Clone()}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	get := func(path string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath(path).String(), nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Cookie", cookie)
		res, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
		if err == nil && res.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", path, res.Status)
		}
		return string(b), err
	}
	overview, err := get("/")
	if err != nil {
		return nil, err
	}
	var sites, devices []string
	for _, m := range siteLink.FindAllStringSubmatch(overview, -1) {
		sites = append(sites, html.UnescapeString(m[1]))
	}
	seen := map[string]bool{}
	for _, s := range sites {
		page, err := get(s)
		if err != nil {
			return nil, err
		}
		for _, m := range deviceLink.FindAllStringSubmatch(page, -1) {
			if d := html.UnescapeString(m[1]); !seen[d] {
				seen[d] = true
				devices = append(devices, d)
			}
		}
	}
	if len(sites) == 0 || len(devices) == 0 {
		return nil, fmt.Errorf("the overview shows %d sites with %d devices; want some of each", len(sites), len(devices))
	}
	var pages []string
	for i := range max(len(sites), len(devices)) {
		pages = append(pages, "/overview/live", sites[i%len(sites)]+"/live", devices[i%len(devices)]+"/live")
	}
	return pages, nil
}

// viewer is one open page.
type viewer struct {
	client *http.Client
	url    string
	cookie string
	st     *viewerStats
	fail   func(error)
}

func (v viewer) request(ctx context.Context, accept, etag string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Cookie", v.cookie)
	req.Header.Set("Accept", accept)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	atomic.AddInt64(&v.st.Requests, 1)
	return v.client.Do(req)
}

// poll asks for the fragment every interval, from a random start within
// the first interval, as pages opened at different times would.
func (v viewer) poll(ctx context.Context, interval time.Duration, opened func()) {
	var etag string
	first := true
	t := time.NewTimer(rand.N(interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if first {
				opened()
			}
			return
		case <-t.C:
		}
		t.Reset(interval)
		res, err := v.request(ctx, "text/html", etag)
		if err != nil {
			v.fail(err)
			continue
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		atomic.AddInt64(&v.st.Bytes, n)
		switch res.StatusCode {
		case http.StatusOK:
			atomic.AddInt64(&v.st.Full, 1)
			etag = res.Header.Get("ETag")
		case http.StatusNotModified:
			atomic.AddInt64(&v.st.NotModified, 1)
		default:
			v.fail(fmt.Errorf("GET %s: %s", v.url, res.Status))
			continue
		}
		if first {
			first = false
			atomic.AddInt64(&v.st.Connected, 1)
			opened()
		}
	}
}

// stream reads the page's event stream, and opens it again when the
// server ends it, as a browser's EventSource does.
func (v viewer) stream(ctx context.Context, opened func()) {
	first := true
	defer func() {
		if first {
			opened()
		}
	}()
	for ctx.Err() == nil {
		res, err := v.request(ctx, "text/event-stream", "")
		if err != nil {
			v.fail(err)
			sleep(ctx, time.Second)
			continue
		}
		if res.StatusCode != http.StatusOK {
			res.Body.Close()
			v.fail(fmt.Errorf("GET %s: %s", v.url, res.Status))
			sleep(ctx, 2*time.Second)
			continue
		}
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			atomic.AddInt64(&v.st.Bytes, int64(len(line)+1))
			switch line {
			case "event: update":
				atomic.AddInt64(&v.st.Updates, 1)
				if first {
					first = false
					atomic.AddInt64(&v.st.Connected, 1)
					opened()
				}
			case "event: ping":
				atomic.AddInt64(&v.st.Pings, 1)
			}
		}
		if err := sc.Err(); err != nil {
			v.fail(err)
		}
		res.Body.Close()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
