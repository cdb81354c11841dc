package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"

	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/gate"
)

// The live parts of the overview, a site's page and a device's page are
// served by one route each that answers in two ways:
//
//   - a browser's EventSource (Accept: text/event-stream) gets a stream:
//     the fragment at once, then again when it changed, at the start of
//     the next liveEvery window after the event bus said that one of the
//     page's devices stored telemetry, connected, disconnected or had an
//     alarm raised or cleared;
//   - any other GET gets the fragment once, with an ETag, and a 304 when
//     it has not changed since the If-None-Match the client sent. The
//     pages use the stream; the fragment serves scripts and the benchmark
//     that compares the two (docs/benchmarks.md).
const (
	// liveEvery is the length of the windows live fragments are rendered
	// in: a page gets at most one update a window.
	liveEvery = 5 * time.Second
	// livePing is how often a stream with nothing new says it is alive,
	// so that the page can tell a quiet stream from a broken one.
	livePing = 15 * time.Second
	// liveRefresh is how often a stream renders its fragment even when no
	// event woke it: what no event announces (a device renamed, an event
	// the bus dropped) shows within it.
	liveRefresh = time.Minute
	// liveLifetime is how long one stream lasts. The page then reconnects
	// at once, which checks the session and the person's role again.
	liveLifetime = 5 * time.Minute
	// liveWriteDeadline is how long a stream may go without a write that
	// completes: a ping is due every livePing.
	liveWriteDeadline = livePing + 45*time.Second
	// liveRetry is how soon a browser reconnects after losing a stream.
	liveRetry = 2 * time.Second
	// maxStreamsPerSession bounds the streams one session holds open: a
	// person with many tabs has a few, a stolen cookie in a loop cannot
	// hold thousands.
	maxStreamsPerSession = 10
	// maxStreams bounds the streams of the whole server.
	maxStreams = 10_000
)

// liveWatch says which devices' events wake a stream: all of them (an
// operator's overview), or those named.
type liveWatch struct {
	all     bool
	devices []string
}

// liveFragment builds a page's live fragment for the request's person and
// says which devices it shows.
type liveFragment func(r *http.Request) (templ.Component, liveWatch, error)

// liveHub hands the event bus's news to the streams that watch the device
// it is about. A stream's wake channel holds one signal: many events
// between two updates coalesce into one.
type liveHub struct {
	mu      sync.Mutex
	all     map[*liveWatcher]struct{}
	by      map[string]map[*liveWatcher]struct{}
	open    int
	session map[string]int
	done    chan struct{}
	closed  bool
	sub     *events.Subscription
}

type liveWatcher struct {
	wake  chan struct{}
	watch liveWatch
}

func newLiveHub(bus *events.Bus) *liveHub {
	h := &liveHub{
		all:     map[*liveWatcher]struct{}{},
		by:      map[string]map[*liveWatcher]struct{}{},
		session: map[string]int{},
		done:    make(chan struct{}),
	}
	if bus == nil {
		return h
	}
	h.sub = bus.SubscribeFunc(4096, func(e events.Event) bool {
		switch e.(type) {
		case events.TelemetryStored, events.DeviceConnected, events.DeviceDisconnected, events.AlarmChanged:
			return true
		}
		return false
	})
	go func() {
		for e := range h.sub.C() {
			h.changed(e.DeviceName())
		}
	}()
	return h
}

// changed wakes every stream that shows device.
func (h *liveHub) changed(device string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.all {
		w.poke()
	}
	for w := range h.by[device] {
		w.poke()
	}
}

func (w *liveWatcher) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// admit counts a new stream of session, or refuses it when the session or
// the server has as many as allowed, or the pages are closing.
func (h *liveHub) admit(session string) (release func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, errLiveClosed
	case h.open >= maxStreams:
		return nil, fmt.Errorf("%d live pages are open on this server, the most it serves: %w", h.open, errTooManyStreams)
	case h.session[session] >= maxStreamsPerSession:
		return nil, fmt.Errorf("this session has %d live pages open, the most one may: %w", h.session[session], errTooManyStreams)
	}
	h.open++
	h.session[session]++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.open--
			if h.session[session]--; h.session[session] <= 0 {
				delete(h.session, session)
			}
		})
	}, nil
}

var (
	errTooManyStreams = errors.New("too many live pages")
	errLiveClosed     = errors.New("the server is stopping")
)

// watch registers w for what it watches now, replacing what it watched.
func (h *liveHub) watch(w *liveWatcher, lw liveWatch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forget(w)
	w.watch = lw
	if lw.all {
		h.all[w] = struct{}{}
		return
	}
	for _, d := range lw.devices {
		set := h.by[d]
		if set == nil {
			set = map[*liveWatcher]struct{}{}
			h.by[d] = set
		}
		set[w] = struct{}{}
	}
}

func (h *liveHub) unwatch(w *liveWatcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forget(w)
}

func (h *liveHub) forget(w *liveWatcher) {
	delete(h.all, w)
	for _, d := range w.watch.devices {
		if set := h.by[d]; set != nil {
			delete(set, w)
			if len(set) == 0 {
				delete(h.by, d)
			}
		}
	}
}

// close ends every stream and refuses new ones.
func (h *liveHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	close(h.done)
	if h.sub != nil {
		h.sub.Close()
	}
}

// Close ends the live pages' streams and refuses new ones, so that the
// HTTP server's graceful shutdown need not wait for them; the pages
// reconnect to the next server.
func (u *UI) Close() { u.live.close() }

// serveLive answers a live route: a stream to an EventSource, else the
// fragment, conditionally.
func (u *UI) serveLive(build liveFragment) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if wantsStream(r) {
			u.stream(w, r, build)
			return
		}
		e, err := u.shared(r, build)
		if err != nil {
			u.failLive(w, r, err)
			return
		}
		etag := `"` + hex.EncodeToString(e.sum[:12]) + `"`
		h := w.Header()
		h.Set("ETag", etag)
		// Kept, but asked again each time: a browser revalidates with
		// If-None-Match instead of showing a stale copy.
		h.Set("Cache-Control", "private, no-cache")
		h.Set("Vary", "Cookie, Accept")
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(e.body)
	}
}

// liveCache shares a live fragment among the pages that show the same
// thing: the same route, for the same audience (role, customer, access,
// language, time zone), in the same liveEvery window. Streams update at
// the windows' starts, so a thousand open pages of one site cost one
// render per window, not a thousand; a fragment asked for by polling is
// at most one window old.
type liveCache struct {
	mu    sync.Mutex
	m     map[string]*liveEntry
	swept time.Time
}

type liveEntry struct {
	window time.Time
	ready  chan struct{}
	body   []byte
	sum    [32]byte
	watch  liveWatch
	err    error
}

// shared builds r's fragment, or waits for the one being built or built
// already in this window for the same audience.
func (u *UI) shared(r *http.Request, build liveFragment) (*liveEntry, error) {
	p, _ := r.Context().Value(principalKey{}).(gate.Principal)
	v := u.view(r)
	key := strings.Join([]string{p.Role, p.Customer, p.Level(), v.Lang, v.loc.String(), r.URL.Path}, "\x00")
	now := time.Now()
	window := now.Truncate(liveEvery)
	c := &u.liveCache
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*liveEntry{}
	}
	if now.Sub(c.swept) > liveEvery {
		c.swept = now
		for k, e := range c.m {
			if e.window.Before(window) {
				delete(c.m, k)
			}
		}
	}
	e := c.m[key]
	if e != nil && e.window.Equal(window) {
		c.mu.Unlock()
		<-e.ready
		return e, e.err
	}
	e = &liveEntry{window: window, ready: make(chan struct{})}
	c.m[key] = e
	c.mu.Unlock()
	defer close(e.ready)
	// Built for everyone waiting: the first asker leaving does not end it.
	ctx := context.WithoutCancel(r.Context())
	comp, watch, err := build(r.WithContext(ctx))
	if err != nil {
		e.err = err
		return e, err
	}
	var buf bytes.Buffer
	if err := comp.Render(ctx, &buf); err != nil {
		e.err = fmt.Errorf("render %s: %w", r.URL.Path, err)
		return e, e.err
	}
	e.body, e.sum, e.watch = buf.Bytes(), sha256.Sum256(buf.Bytes()), watch
	return e, nil
}

// failLive answers a live page or fragment that cannot be built.
func (u *UI) failLive(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errNoSite) {
		u.notFound(w, r)
		return
	}
	u.fail(w, r, err)
}

// wantsStream tells an EventSource's request, which accepts
// text/event-stream, from a fragment's.
func wantsStream(r *http.Request) bool {
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, _ := strings.Cut(strings.TrimSpace(a), ";"); strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
			return true
		}
	}
	return false
}

// etagMatches reads an If-None-Match header: "*" or a list of tags, weak
// ones compared by their opaque part, as RFC 9110 has it for GET.
func etagMatches(header, etag string) bool {
	header = strings.TrimSpace(header)
	if header == "" {
		return false
	}
	if header == "*" {
		return true
	}
	for _, t := range strings.Split(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == etag {
			return true
		}
	}
	return false
}

// stillSignedIn reports whether the person a stream began for may still
// see it: their session is still stored (not signed out or expired), and
// they are who the stream began for (not disabled, deleted, or given
// another role, customer or access level since).
func (u *UI) stillSignedIn(r *http.Request) bool {
	ctx := r.Context()
	if _, found, err := u.sessions.Store.Find(u.sessions.Token(ctx)); err != nil || !found {
		return false
	}
	a, err := u.sessionAccount(ctx)
	if err != nil {
		return false
	}
	was, _ := ctx.Value(principalKey{}).(gate.Principal)
	return a.Role == was.Role && a.Customer == was.Customer && a.Level() == was.Level()
}

// stream sends a page's live fragment as server-sent events: "update"
// with the fragment's HTML when it changed, "ping" when nothing did for
// livePing, and "bye" before the stream ends after liveLifetime, so that
// the page reconnects at once rather than as after a failure.
func (u *UI) stream(w http.ResponseWriter, r *http.Request, build liveFragment) {
	release, err := u.live.admit(u.sessions.Token(r.Context()))
	switch {
	case errors.Is(err, errTooManyStreams):
		w.Header().Set("Retry-After", "30")
		http.Error(w, err.Error(), http.StatusTooManyRequests)
		return
	case err != nil:
		w.Header().Set("Retry-After", "5")
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer release()
	first, err := u.shared(r, build)
	if err != nil {
		u.failLive(w, r, err)
		return
	}
	watcher := &liveWatcher{wake: make(chan struct{}, 1)}
	u.live.watch(watcher, first.watch)
	defer u.live.unwatch(watcher)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	ctx := r.Context()
	var (
		last  [32]byte
		wrote time.Time
	)
	// send writes one event, and moves the write deadline past the next
	// one: the server's WriteTimeout is meant for whole answers, which a
	// stream is not, yet a client that stops reading must not hold it for
	// ever. Over HTTP/2 the deadline ends the stream even while it is
	// idle, so it must outlast the pause until the next ping.
	send := func(event string, data []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(liveWriteDeadline))
		var b bytes.Buffer
		b.WriteString("event: " + event + "\n")
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			b.WriteString("data: ")
			b.Write(bytes.TrimSuffix(line, []byte("\r")))
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
		if _, err := w.Write(b.Bytes()); err != nil {
			return false
		}
		wrote = time.Now()
		return rc.Flush() == nil
	}
	update := func(e *liveEntry) bool {
		if e.sum == last {
			return true
		}
		last = e.sum
		return send("update", e.body)
	}
	// The browser comes back this soon after a broken connection.
	_ = rc.SetWriteDeadline(time.Now().Add(liveWriteDeadline))
	if _, err := w.Write([]byte("retry: " + strconv.Itoa(int(liveRetry/time.Millisecond)) + "\n\n")); err != nil || !update(first) {
		return
	}
	ping := time.NewTicker(livePing)
	defer ping.Stop()
	refresh := time.NewTicker(liveRefresh)
	defer refresh.Stop()
	end := time.NewTimer(liveLifetime)
	defer end.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.live.done:
			return
		case <-end.C:
			send("bye", nil)
			return
		case <-ping.C:
			if time.Since(wrote) >= livePing-time.Second && !send("ping", nil) {
				return
			}
			continue
		case <-watcher.wake:
		case <-refresh.C:
		}
		// Coalesce: whatever else arrives before the next window starts
		// rides along with this, and every page of the same audience
		// shares the window's fragment.
		if wait := time.Until(time.Now().Truncate(liveEvery).Add(liveEvery)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-u.live.done:
				t.Stop()
				return
			case <-t.C:
			}
		}
		select {
		case <-watcher.wake:
		default:
		}
		if !u.stillSignedIn(r) {
			// Signed out, disabled, deleted or given another role: the
			// page learns it when it reconnects.
			send("bye", nil)
			return
		}
		e, err := u.shared(r, build)
		if err != nil {
			// The device is gone, or no longer the person's to see: the
			// page says so when it reconnects.
			send("bye", nil)
			return
		}
		u.live.watch(watcher, e.watch)
		if !update(e) {
			return
		}
	}
}
