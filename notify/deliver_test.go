package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/store"
)

// TestWebhookCloudEvent delivers an alarm and its clearing to a TLS
// receiver that parses them with the CloudEvents SDK and checks the
// signature with the channel's secret.
func TestWebhookCloudEvent(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	rcv := newReceiver(t)
	rcv.secret = "whsec_test_secret"
	addChannel(t, st, store.NotificationChannel{Name: "hook", Kind: store.ChannelWebhook, URL: rcv.srv.URL + "/hearth", Secret: rcv.secret})
	cfg := fastConfig()
	cfg.TLS = trust(rcv.srv)
	svc := start(t, cfg, st)

	active := alarm("alarm-1-active", "chiller-1", notify.StateActive, "hook")
	active.Data[notify.DataValue] = 12.5
	cleared := alarm("alarm-1-cleared", "chiller-1", notify.StateCleared, "hook")
	if err := svc.Enqueue(context.Background(), active, cleared); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "both events delivered", func() bool { return rcv.delivered() == 2 })
	rcv.check()
	_, events := rcv.snapshot()
	byID := map[string]int{}
	for i, e := range events {
		byID[e.ID()] = i
	}
	e := events[byID["alarm-1-active"]]
	if e.SpecVersion() != "1.0" || e.Source() != "hearth" || e.Type() != "io.hearth.alarm.active" || e.Subject() != "chiller-1" {
		t.Errorf("event attributes: specversion %q source %q type %q subject %q", e.SpecVersion(), e.Source(), e.Type(), e.Subject())
	}
	if !e.Time().Equal(active.Time) || e.DataContentType() != "application/json" {
		t.Errorf("event time %v, datacontenttype %q", e.Time(), e.DataContentType())
	}
	var data notify.Message
	if err := e.DataAs(&data); err != nil {
		t.Fatal(err)
	}
	if data.Device != "chiller-1" || data.Rule != "offline" || data.Severity != "critical" || data.Site != "marunouchi" ||
		data.Data[notify.DataValue] != 12.5 || data.Link != "https://hearth.example:8443/devices/chiller-1" {
		t.Errorf("event data %+v", data)
	}
	if c := events[byID["alarm-1-cleared"]]; c.Type() != "io.hearth.alarm.cleared" {
		t.Errorf("cleared event type %q", c.Type())
	}
	// Enqueued again, a key is not sent again.
	if err := svc.Enqueue(context.Background(), active); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := rcv.hits.Load(); n != 2 {
		t.Errorf("receiver got %d requests after a key was enqueued again, want 2", n)
	}
	if s := svc.Stats(); s.Delivered != 2 || s.Enqueued != 2 || s.FailedAttempts != 0 {
		t.Errorf("stats %+v", s)
	}
	// A receiver checking signatures refuses a wrong secret.
	rcv.secret = "another secret"
	res := svc.Test(context.Background(), store.NotificationChannel{Customer: customer, Name: "hook", Kind: store.ChannelWebhook, URL: rcv.srv.URL, Secret: "whsec_test_secret"})
	if res.Delivered || res.Status != http.StatusUnauthorized {
		t.Errorf("test with a wrong secret: %+v", res)
	}
	rcv.mu.Lock()
	rcv.errs = nil // that refusal was the point
	rcv.mu.Unlock()
}

// TestSlackBlockKit posts to a Slack-shaped endpoint that checks the
// Block Kit document the way Slack reads it.
func TestSlackBlockKit(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	slack := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" || r.URL.Path != "/services/T000/B000/XXXX" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "invalid_payload")
			return
		}
		var doc struct {
			Text   string           `json:"text"`
			Blocks []map[string]any `json:"blocks"`
		}
		if err := json.Unmarshal(body, &doc); err != nil || doc.Text == "" || len(doc.Blocks) == 0 {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "invalid_blocks")
			return
		}
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(slack.Close)
	addChannel(t, st, store.NotificationChannel{Name: "ops-slack", Kind: store.ChannelSlack, URL: slack.URL + "/services/T000/B000/XXXX"})
	cfg := fastConfig()
	cfg.TLS = trust(slack)
	svc := start(t, cfg, st)
	m := alarm("co2-1", "sensor-<7>", notify.StateActive, "ops-slack")
	m.Rule, m.Severity, m.Title = "co2-high", "warning", "CO2 above 1000 ppm"
	m.Data[notify.DataValue], m.Data[notify.DataUnit] = 1250, "ppm"
	if err := svc.Enqueue(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the Slack message", func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) == 1 })
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	var doc struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string `json:"type"`
			Text     *text  `json:"text"`
			Fields   []text `json:"fields"`
			Elements []struct {
				Type string          `json:"type"`
				Text json.RawMessage `json:"text"`
				URL  string          `json:"url"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(bodies[0], &doc); err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for _, b := range doc.Blocks {
		kinds = append(kinds, b.Type)
	}
	if strings.Join(kinds, ",") != "header,section,section,actions,context" {
		t.Fatalf("blocks %v, want header,section,section,actions,context:\n%s", kinds, bodies[0])
	}
	if h := doc.Blocks[0].Text; h.Type != "plain_text" || !strings.Contains(h.Text, "WARNING: CO2 above 1000 ppm") {
		t.Errorf("header %+v", h)
	}
	var fields []string
	for _, f := range doc.Blocks[1].Fields {
		if f.Type != "mrkdwn" {
			t.Errorf("field type %q", f.Type)
		}
		fields = append(fields, f.Text)
	}
	want := []string{"*Severity*\nwarning", "*Device*\n<https://hearth.example:8443/devices/sensor-%3C7%3E|sensor-&lt;7&gt;>",
		"*Site*\nMarunouchi Office Tower", "*Value*\n1250 ppm", "*Rule*\nco2-high"}
	if strings.Join(fields, "|") != strings.Join(want, "|") {
		t.Errorf("fields\n%q\nwant\n%q", fields, want)
	}
	if b := doc.Blocks[3].Elements[0]; b.Type != "button" || b.URL != "https://hearth.example:8443/devices/sensor-%3C7%3E" {
		t.Errorf("button %+v", b)
	}
	if c := doc.Blocks[4].Elements[0]; c.Type != "mrkdwn" || !strings.Contains(string(c.Text), "Hearth") {
		t.Errorf("context %+v", c)
	}
}

// TestRetriesAndDeadLetters: a receiver that answers 500, one that is
// down and one that refuses the address are retried with growing waits
// or given up at once, and each ends a dead letter; a slow receiver holds
// up none of the other channels; a dead letter retried is delivered.
func TestRetriesAndDeadLetters(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	failing, slow, fine, gone := newReceiver(t), newReceiver(t), newReceiver(t), newReceiver(t)
	failing.status.Store(http.StatusInternalServerError)
	slow.delay.Store(int64(30 * time.Second))
	gone.status.Store(http.StatusGone)
	down := httptest.NewTLSServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	for name, url := range map[string]string{"failing": failing.srv.URL, "slow": slow.srv.URL, "fine": fine.srv.URL, "gone": gone.srv.URL, "down": downURL} {
		addChannel(t, st, store.NotificationChannel{Name: name, Kind: store.ChannelWebhook, URL: url})
	}
	cfg := fastConfig()
	cfg.Timeout = time.Second
	cfg.RetryFor = 1500 * time.Millisecond
	cfg.TLS = trust(failing.srv, slow.srv, fine.srv, gone.srv)
	svc := start(t, cfg, st)

	ctx := context.Background()
	// The slow one first, so that its worker is busy while the others'
	// messages arrive.
	if err := svc.Enqueue(ctx, alarm("s1", "d1", notify.StateActive, "slow")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the slow receiver's first request", func() bool { return slow.hits.Load() == 1 })
	t0 := time.Now()
	var msgs []notify.Message
	for _, k := range []string{"a", "b", "c"} {
		msgs = append(msgs, alarm(k, "d-"+k, notify.StateActive, "failing", "fine", "gone", "down", "slow"))
	}
	if err := svc.Enqueue(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the healthy channel's messages", func() bool { return fine.delivered() == 3 })
	if d := time.Since(t0); d > time.Second {
		t.Errorf("the healthy channel took %s beside a slow one", d)
	}
	waitFor(t, 10*time.Second, "the failing channels' dead letters", func() bool {
		return len(deliveries(t, st, "failing", store.DeliveryDead)) == 3 && len(deliveries(t, st, "down", store.DeliveryDead)) == 3 &&
			len(deliveries(t, st, "gone", store.DeliveryDead)) == 3
	})
	for _, d := range deliveries(t, st, "failing", store.DeliveryDead) {
		if d.Attempts < 3 || !strings.Contains(d.LastError, "500") {
			t.Errorf("failing delivery %s: %d attempts, last error %q", d.Key, d.Attempts, d.LastError)
		}
	}
	for _, d := range deliveries(t, st, "gone", store.DeliveryDead) {
		if d.Attempts != 1 || !strings.Contains(d.LastError, "410") {
			t.Errorf("a 410 is not worth retrying: %s after %d attempts, %q", d.Key, d.Attempts, d.LastError)
		}
	}
	for _, d := range deliveries(t, st, "down", store.DeliveryDead) {
		if d.Attempts < 3 || !strings.Contains(d.LastError, "connect") {
			t.Errorf("down delivery %s: %d attempts, last error %q", d.Key, d.Attempts, d.LastError)
		}
	}
	// The waits between attempts to the failing receiver grow.
	failing.mu.Lock()
	times := append([]time.Time(nil), failing.times...)
	failing.mu.Unlock()
	var first, last time.Duration
	var perKey int
	for i := 3; i+3 < len(times); i += 3 { // three deliveries, each attempt of the three together
		gap := times[i+3].Sub(times[i])
		if first == 0 {
			first = gap
		}
		last = gap
		perKey++
	}
	if perKey < 2 || last <= first {
		t.Errorf("waits between attempts did not grow: first %s, last %s over %d gaps (%d requests)", first, last, perKey, len(times))
	}
	if s := svc.Stats(); s.Dead < 9 || s.FailedAttempts < 15 || s.Delivered < 3 {
		t.Errorf("stats %+v", s)
	}

	// The receiver is fixed; an operator retries the dead letters.
	failing.status.Store(0)
	for _, d := range deliveries(t, st, "failing", store.DeliveryDead) {
		if _, err := svc.Retry(d.ID); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "retried dead letters delivered", func() bool { return failing.delivered() == 3 })
	waitFor(t, 2*time.Second, "recorded", func() bool { return len(deliveries(t, st, "failing", store.DeliveryDelivered)) == 3 })
	fine.check()
	failing.check()
}

// TestRestartExactlyOnce stops the service with messages in the outbox,
// reopens the store, starts a new service over it, and counts what the
// receiver got: every message, once.
func TestRestartExactlyOnce(t *testing.T) {
	t.Parallel()
	st, path := openStore(t)
	rcv := newReceiver(t)
	rcv.delay.Store(int64(5 * time.Millisecond))
	other := newReceiver(t)
	addChannel(t, st, store.NotificationChannel{Name: "hook", Kind: store.ChannelWebhook, URL: rcv.srv.URL})
	addChannel(t, st, store.NotificationChannel{Name: "other", Kind: store.ChannelWebhook, URL: other.srv.URL})
	cfg := fastConfig()
	cfg.TLS = trust(rcv.srv, other.srv)
	cfg.Rate, cfg.Burst = 200, 1 // about 5 ms a message: the stop comes mid-way

	svc, err := notify.New(cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	var msgs []notify.Message
	for i := range n {
		msgs = append(msgs, alarm("k"+strconv.Itoa(i), "dev-"+strconv.Itoa(i), notify.StateActive, "hook", "other"))
	}
	if err := svc.Enqueue(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a third delivered", func() bool { return rcv.delivered() >= n/3 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	before := rcv.delivered()
	if before >= n {
		t.Fatalf("all %d delivered before the stop; the test proves nothing", before)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st2.Close() })
	pending := len(deliveries(t, st2, "hook", store.DeliveryPending))
	if pending == 0 || pending != n-before {
		t.Errorf("%d pending after the stop, %d delivered: want %d pending", pending, before, n-before)
	}
	start(t, cfg, st2)
	waitFor(t, 20*time.Second, "every message delivered", func() bool { return rcv.delivered() >= n && other.delivered() >= n })
	time.Sleep(200 * time.Millisecond) // time for a message sent twice to arrive
	for _, r := range []*receiver{rcv, other} {
		keys, _ := r.snapshot()
		if len(keys) != n {
			t.Errorf("%d distinct keys, want %d", len(keys), n)
		}
		for k, c := range keys {
			if c != 1 {
				t.Errorf("key %s delivered %d times", k, c)
			}
		}
		r.check()
	}
	t.Logf("delivered %d before the stop, %d after", before, n-before)
}

// TestStorm: a thousand devices of one building go offline within the
// group window, then come back: the channel gets the first device's
// message at once, then one message carrying the other 999, and the same
// for their return.
func TestStorm(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	rcv := newReceiver(t)
	addChannel(t, st, store.NotificationChannel{Name: "hook", Kind: store.ChannelWebhook, URL: rcv.srv.URL})
	cfg := fastConfig()
	cfg.TLS = trust(rcv.srv)
	// Wide enough that the ten bursts fall in one window on a busy machine.
	cfg.GroupWindow = 2 * time.Second
	svc := start(t, cfg, st)
	ctx := context.Background()
	storm := func(state string) {
		// In ten bursts, as a fleet's disconnects arrive.
		for b := range 10 {
			var msgs []notify.Message
			for i := range 100 {
				m := alarm(state+"-"+strconv.Itoa(b*100+i), "dev-"+strconv.Itoa(b*100+i), state, "hook")
				m.Group = "acme/marunouchi/offline"
				msgs = append(msgs, m)
			}
			if err := svc.Enqueue(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
		}
	}
	storm(notify.StateActive)
	waitFor(t, 5*time.Second, "the storm's messages", func() bool { return rcv.delivered() >= 2 })
	time.Sleep(cfg.GroupWindow + 200*time.Millisecond)
	storm(notify.StateCleared)
	waitFor(t, 5*time.Second, "the back online messages", func() bool { return rcv.delivered() >= 4 })
	time.Sleep(cfg.GroupWindow + 200*time.Millisecond)
	_, events := rcv.snapshot()
	if len(events) != 4 {
		t.Fatalf("a 1,000-device storm and its clearing made %d messages, want 4", len(events))
	}
	for i, want := range []struct {
		typ, title string
		count      float64
	}{
		{"io.hearth.alarm.active", "", 0},
		{"io.hearth.alarm.group.active", "Marunouchi Office Tower: 999 devices offline", 999},
		{"io.hearth.alarm.cleared", "", 0},
		{"io.hearth.alarm.group.cleared", "Marunouchi Office Tower: 999 devices back online", 999},
	} {
		var m notify.Message
		if err := events[i].DataAs(&m); err != nil {
			t.Fatal(err)
		}
		if events[i].Type() != want.typ {
			t.Errorf("message %d: type %q, want %q", i, events[i].Type(), want.typ)
		}
		if want.count == 0 {
			if m.Device != "dev-0" {
				t.Errorf("message %d is of %q, want the storm's first device at once", i, m.Device)
			}
			continue
		}
		if m.Title != want.title || m.Data["count"] != want.count {
			t.Errorf("message %d: title %q count %v", i, m.Title, m.Data["count"])
		}
		if ds, _ := m.Data["devices"].([]any); len(ds) != 100 {
			t.Errorf("message %d names %d devices, want the first 100", i, len(ds))
		}
	}
	// Every member is recorded as delivered with the message that carried
	// it.
	if n := len(deliveries(t, st, "hook", store.DeliveryDelivered)); n != 2002 {
		t.Errorf("%d deliveries recorded delivered, want 2000 messages and 2 groups", n)
	}
	if s := svc.Stats(); s.Grouped != 1998 || s.Delivered != 4 {
		t.Errorf("stats %+v", s)
	}

	// A few of a group: the first at once, the others of its window as one.
	for i := range 3 {
		m := alarm("few-"+strconv.Itoa(i), "dev-"+strconv.Itoa(i), notify.StateActive, "hook")
		m.Group = "acme/other-site/offline"
		if err := svc.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "one single message and one of two", func() bool { return rcv.delivered() == 6 })
	time.Sleep(cfg.GroupWindow)
	if n := rcv.delivered(); n != 6 {
		t.Errorf("%d messages after three of a group, want 6", n)
	}
	rcv.check()
}

// TestRateLimit: a channel gets no more than its rate, beyond its burst.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	rcv := newReceiver(t)
	addChannel(t, st, store.NotificationChannel{Name: "hook", Kind: store.ChannelWebhook, URL: rcv.srv.URL})
	cfg := fastConfig()
	cfg.TLS = trust(rcv.srv)
	cfg.Rate, cfg.Burst = 20, 2
	svc := start(t, cfg, st)
	var msgs []notify.Message
	for i := range 12 {
		msgs = append(msgs, alarm("r"+strconv.Itoa(i), "d", notify.StateActive, "hook"))
	}
	t0 := time.Now()
	if err := svc.Enqueue(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "all delivered", func() bool { return rcv.delivered() == 12 })
	if d := time.Since(t0); d < 450*time.Millisecond {
		t.Errorf("12 messages at 20/s with a burst of 2 took %s, want at least 500ms", d)
	}
}

// TestSelfRefused: an address that reaches Hearth is refused when the
// channel is checked, and again when a name resolves to it at dial time.
func TestSelfRefused(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	hearth := newReceiver(t) // stands for Hearth's own listener
	_, port, _ := net.SplitHostPort(hearth.srv.Listener.Addr().String())
	cfg := fastConfig()
	cfg.TLS = trust(hearth.srv)
	// Hearth knows itself by its loopback addresses and port; the name
	// localhost is left for the dialer to catch.
	cfg.Self = func(host, p string) bool {
		ip := net.ParseIP(host)
		return ip != nil && ip.IsLoopback() && p == port
	}
	svc := start(t, cfg, st)
	c := store.NotificationChannel{Customer: customer, Name: "loop", Kind: store.ChannelWebhook, URL: "https://127.0.0.1:" + port + "/api/v1/devices"}
	if err := svc.CheckChannel(c); err == nil || !strings.Contains(err.Error(), "Hearth itself") {
		t.Errorf("channel at Hearth's own address: %v", err)
	}
	c.URL = "https://localhost:" + port + "/api/v1/devices"
	if err := svc.CheckChannel(c); err != nil {
		t.Fatalf("the name passes the check (the dialer is the second line): %v", err)
	}
	res := svc.Test(context.Background(), c)
	if res.Delivered || !strings.Contains(res.Error, "Hearth itself") {
		t.Errorf("test through a name for Hearth: %+v", res)
	}
	if n := hearth.hits.Load(); n != 0 {
		t.Errorf("Hearth's listener got %d requests", n)
	}
}
