package ui_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/tsdb"
)

// liveEnv is the pages over a real telemetry store and event bus: append
// stores a reading and tells the bus, as ingest does.
type liveEnv struct {
	*env
	db  *tsdb.DB
	bus *events.Bus
	// last is the newest timestamp appended: each reading gets a later
	// one, so the newest value is the last appended.
	last int64
}

func newLiveEnv(t *testing.T) *liveEnv { t.Helper(); return newLiveEnvWith(t, envOptions{}) }

func newLiveEnvWith(t *testing.T, opts envOptions) *liveEnv {
	t.Helper()
	db, err := tsdb.Open(tsdb.Config{Dir: t.TempDir(), MemoryBytes: 256 << 20}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	bus := events.New()
	opts.telemetry, opts.bus = tsdbTelemetry{db}, bus
	return &liveEnv{env: newEnv(t, opts), db: db, bus: bus}
}

func (l *liveEnv) append(device, customer, site, metric string, value float64) {
	l.t.Helper()
	now := time.Now()
	l.last = max(l.last+1, now.UnixMilli())
	if err := l.db.Append(device, customer, site, []tsdb.Point{{Metric: metric, Timestamp: l.last, Value: value}}); err != nil {
		l.t.Fatal(err)
	}
	l.bus.Publish(events.TelemetryStored{Device: device, At: now, Readings: []events.Reading{{Metric: metric, Timestamp: l.last, Value: value}}})
}

// TestLiveFragments: each live route answers its page's live part for the
// person's own devices only, with an ETag; asked again with it, a 304
// while nothing changed, and the new values once a reading arrived.
func TestLiveFragments(t *testing.T) {
	l := newLiveEnv(t)
	l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", 7.25)
	l.append("globex-chiller-9", "globex", "osaka-dome", "chw_supply_c", 11.5)
	acme := l.signIn(acmeUser)
	for _, tc := range []struct{ path, want string }{
		{"/overview/live", "7.3"}, // the site's average, to one decimal
		{"/sites/acme/tokyo-tower/live", "7.3"},
		{"/devices/acme-chiller-1/live", "7.25"},
	} {
		r := l.get(acme, tc.path)
		etag := r.header.Get("ETag")
		if r.status != http.StatusOK || !strings.Contains(r.body, `data-live="`+tc.path+`"`) || !strings.Contains(r.body, ">"+tc.want+"<") {
			t.Fatalf("GET %s: %d %q; want 200 with the live part and %s", tc.path, r.status, r.body, tc.want)
		}
		if strings.Contains(r.body, "globex") || strings.Contains(r.body, "11.5") {
			t.Errorf("GET %s as acme names globex's device or value: %q", tc.path, r.body)
		}
		if etag == "" || !strings.Contains(r.header.Get("Cache-Control"), "no-cache") {
			t.Errorf("GET %s: ETag %q, Cache-Control %q; want a tag, and no-cache so that browsers revalidate", tc.path, etag, r.header.Get("Cache-Control"))
		}
		same := l.do(acme, http.MethodGet, tc.path, nil, map[string]string{"If-None-Match": `"other", W/` + etag})
		if same.status != http.StatusNotModified || same.body != "" {
			t.Errorf("GET %s with its ETag: %d %q; want 304 and no body", tc.path, same.status, same.body)
		}
	}
	// A fragment is shared for a window of 5 s: a new reading shows in
	// the next.
	first := l.get(acme, "/devices/acme-chiller-1/live")
	l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", 8.5)
	var r response
	for range 15 {
		r = l.do(acme, http.MethodGet, "/devices/acme-chiller-1/live", nil, map[string]string{"If-None-Match": first.header.Get("ETag")})
		if r.status != http.StatusNotModified {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if r.status != http.StatusOK || !strings.Contains(r.body, ">8.5<") || r.header.Get("ETag") == first.header.Get("ETag") {
		t.Errorf("after a new reading, GET with the old ETag: %d %q; want 200 with 8.5 and a new tag within 7 s", r.status, r.body)
	}
	// The operator's overview has both customers' sites.
	if r := l.get(l.signIn(opUser), "/overview/live"); r.status != http.StatusOK || !strings.Contains(r.body, "globex") || !strings.Contains(r.body, "acme") {
		t.Errorf("the operator's overview fragment: %d %q; want both customers' sites", r.status, r.body)
	}
}

// stream is one open event stream as a browser's EventSource reads it.
type stream struct {
	t      testing.TB
	res    *http.Response
	events chan sse
	cancel context.CancelFunc
}

type sse struct{ event, data string }

// openStream opens path's event stream with c's session; status is its
// answer's status; events are read until the stream ends.
func (e *env) openStream(c *http.Client, path string) (*stream, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	sc := *c
	sc.Timeout = 0
	res, err := sc.Do(req)
	if err != nil {
		cancel()
		e.t.Fatalf("open %s: %v", path, err)
	}
	s := &stream{t: e.t, res: res, events: make(chan sse, 100), cancel: cancel}
	e.t.Cleanup(s.close)
	if res.StatusCode != http.StatusOK {
		s.close()
		return s, res.StatusCode
	}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					s.events <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if ev.data != "" {
					ev.data += "\n"
				}
				ev.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s, res.StatusCode
}

func (s *stream) close() { s.cancel(); s.res.Body.Close() }

// next is the next event within d; ok is false when none came or the
// stream ended.
func (s *stream) next(d time.Duration) (sse, bool) {
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(d):
		return sse{}, false
	}
}

// until reads updates for at most d until one contains want, and returns
// every update read.
func (s *stream) until(want string, d time.Duration) ([]string, bool) {
	var seen []string
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ev, ok := s.next(time.Until(deadline))
		if !ok {
			break
		}
		if ev.event != "update" {
			continue
		}
		seen = append(seen, ev.data)
		if strings.Contains(ev.data, want) {
			return seen, true
		}
	}
	return seen, false
}

// TestLiveStream: a page's stream sends its live part at once, and again
// when one of its devices stores a reading or goes offline, coalesced;
// a customer's stream never carries another customer's device, even while
// that device is busy; another customer's device is not found; a session
// holds at most 10 streams; closing the pages ends the streams.
func TestLiveStream(t *testing.T) {
	l := newLiveEnv(t)
	l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", 7.25)
	acme := l.signIn(acmeUser)

	dev, status := l.openStream(acme, "/devices/acme-chiller-1/live")
	if status != http.StatusOK || dev.res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("the device's stream: %d %q; want 200 text/event-stream", status, dev.res.Header.Get("Content-Type"))
	}
	if seen, ok := dev.until(">7.25<", 5*time.Second); !ok {
		t.Fatalf("the device's stream's first updates %q; want the current value at once", seen)
	}
	overview, _ := l.openStream(acme, "/overview/live")
	site, _ := l.openStream(acme, "/sites/acme/tokyo-tower/live")
	for name, s := range map[string]*stream{"overview": overview, "site": site} {
		if seen, ok := s.until(">7.3<", 5*time.Second); !ok {
			t.Fatalf("the %s stream's first updates %q; want the site's value at once", name, seen)
		}
	}

	// Globex's device is busy; acme's streams hear nothing of it. Two
	// readings at once make one update with the newer; one more makes
	// the next, a window (5 s) later.
	for i := range 5 {
		l.append("globex-chiller-9", "globex", "osaka-dome", "chw_supply_c", 11.5+float64(i))
	}
	l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", 9.75)
	l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", 8.25)
	seen, ok := dev.until(">8.25<", 10*time.Second)
	if !ok {
		t.Fatalf("the device's updates after a new reading: %q; want 8.25 within 10 s", seen)
	}
	first := time.Now()
	l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", 8.75)
	more, ok := dev.until(">8.75<", 10*time.Second)
	if !ok {
		t.Fatalf("the device's updates after another reading: %q; want 8.75 within 10 s", more)
	}
	if gap := time.Since(first); gap < 4500*time.Millisecond {
		t.Errorf("two updates of one page came %v apart; want 5 s at least", gap)
	}
	for _, u := range append(seen, more...) {
		if strings.Contains(u, ">9.75<") {
			t.Errorf("an update carried a value already replaced: %q", u)
		}
	}
	for name, s := range map[string]*stream{"overview": overview, "site": site} {
		seen, ok := s.until(">8.8<", 10*time.Second)
		if !ok {
			t.Errorf("the %s stream after acme's new reading: %q; want 8.8 within 10 s", name, seen)
		}
		for _, u := range seen {
			if strings.Contains(u, "globex") || strings.Contains(u, "osaka") || strings.Contains(u, "11.5") {
				t.Errorf("acme's %s stream carried globex: %q", name, u)
			}
		}
	}

	// Going offline shows on the device's page.
	l.presence.Disconnected("acme-chiller-1", 1, "keepalive_timeout", time.Now())
	if seen, ok := dev.until("status-offline", 10*time.Second); !ok {
		t.Errorf("the device's updates after it disconnected: %q; want it shown offline", seen)
	}

	// Another customer's device is not found, and its stream not opened.
	if _, status := l.openStream(acme, "/devices/globex-chiller-9/live"); status != http.StatusNotFound {
		t.Errorf("acme opening globex's device's stream: %d; want 404", status)
	}
	if _, status := l.openStream(acme, "/sites/globex/osaka-dome/live"); status != http.StatusNotFound {
		t.Errorf("acme opening globex's site's stream: %d; want 404", status)
	}

	// 3 streams are open; 7 more fit in the session, the 11th does not,
	// while another session still opens its own.
	for i := range 7 {
		if _, status := l.openStream(acme, "/overview/live"); status != http.StatusOK {
			t.Fatalf("stream %d of the session: %d; want 200", 4+i, status)
		}
	}
	if s, status := l.openStream(acme, "/overview/live"); status != http.StatusTooManyRequests || s.res.Header.Get("Retry-After") == "" {
		t.Errorf("an 11th stream of one session: %d; want 429 with Retry-After", status)
	}
	if _, status := l.openStream(l.signIn(acmeUser), "/overview/live"); status != http.StatusOK {
		t.Errorf("a stream of another session: %d; want 200", status)
	}

	// Closing the pages ends every stream, and refuses new ones.
	l.pages.Close()
	for {
		ev, ok := dev.next(5 * time.Second)
		if !ok {
			break
		}
		if ev.event != "update" && ev.event != "ping" {
			t.Errorf("after Close the stream sent %q", ev.event)
		}
	}
	if _, ok := <-dev.events; ok {
		t.Error("the device's stream is still open 5 s after the pages closed")
	}
	if _, status := l.openStream(l.signIn(acmeUser), "/overview/live"); status != http.StatusServiceUnavailable {
		t.Errorf("a stream after Close: %d; want 503", status)
	}
}

// TestLiveNeedsSignIn: a live route without a session is refused, not
// streamed.
func TestLiveNeedsSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, path := range []string{"/overview/live", "/devices/acme-chiller-1/live", "/sites/acme/tokyo-tower/live"} {
		if _, status := e.openStream(e.browser(), path); status != http.StatusSeeOther {
			t.Errorf("%s without a session: %d; want 303 to the sign-in page", path, status)
		}
	}
}

// TestLiveStreamOutlastsWriteTimeout: over HTTP/2 and TLS, as Hearth
// serves, a stream stays open past the server's WriteTimeout (which over
// HTTP/2 would end even an idle stream) and still brings new readings.
func TestLiveStreamOutlastsWriteTimeout(t *testing.T) {
	l := newLiveEnvWith(t, envOptions{http2: true, writeTimeout: time.Second})
	l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", 7.25)
	s, status := l.openStream(l.signIn(acmeUser), "/devices/acme-chiller-1/live")
	if status != http.StatusOK || s.res.ProtoMajor != 2 {
		t.Fatalf("the stream: %d over HTTP/%d; want 200 over HTTP/2", status, s.res.ProtoMajor)
	}
	if seen, ok := s.until(">7.25<", 5*time.Second); !ok {
		t.Fatalf("the stream's first updates %q; want 7.25", seen)
	}
	time.Sleep(3 * time.Second)
	l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", 6.5)
	if seen, ok := s.until(">6.5<", 10*time.Second); !ok {
		t.Errorf("3 s past a 1 s WriteTimeout the stream brought %q; want the new reading 6.5", seen)
	}
}

// TestLiveStreamEndsForTheSignedOut: a stream re-checks its person before
// each update: signed out in another tab, or disabled by an operator, the
// next reading ends the stream with "bye" instead of an update.
func TestLiveStreamEndsForTheSignedOut(t *testing.T) {
	l := newLiveEnv(t)
	l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", 7.25)
	for i, how := range []string{"sign out", "disable"} {
		acme := l.signIn(acmeUser)
		s, status := l.openStream(acme, "/devices/acme-chiller-1/live")
		if status != http.StatusOK {
			t.Fatalf("%s: the stream: %d", how, status)
		}
		if seen, ok := s.until(`data-metric="chw_supply_c"`, 5*time.Second); !ok {
			t.Fatalf("%s: the first updates %q", how, seen)
		}
		switch how {
		case "sign out":
			if r := l.post(acme, "/logout", url.Values{}); r.status != http.StatusSeeOther {
				t.Fatalf("sign out: %d", r.status)
			}
		case "disable":
			if _, err := l.st.UpdateUser(acmeUser, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		next := fmt.Sprintf(">%g<", 9.5+float64(i))
		l.append("acme-chiller-1", "acme", "tokyo-tower", "chw_supply_c", 9.5+float64(i))
		var got []string
		for {
			ev, ok := s.next(10 * time.Second)
			if !ok {
				t.Fatalf("%s: the stream went on without a bye: %q", how, got)
			}
			got = append(got, ev.event)
			if ev.event == "update" && strings.Contains(ev.data, next) {
				t.Fatalf("%s: the stream still sent the new reading", how)
			}
			if ev.event == "bye" {
				break
			}
		}
		if how == "disable" {
			if _, err := l.st.UpdateUser(acmeUser, func(u *store.User) error { u.Disabled = false; return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
}
