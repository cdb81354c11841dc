package notify_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/store"
)

const customer = "acme"

// openStore opens a store in a temporary directory with customer acme.
func openStore(t testing.TB) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hearth.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.CreateCustomer(store.Customer{Name: customer}); err != nil {
		t.Fatal(err)
	}
	return st, path
}

// fastConfig retries within a test's patience.
func fastConfig() notify.Config {
	return notify.Config{
		RetryFor: 2 * time.Second, FirstRetry: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Timeout: 2 * time.Second, GroupWindow: 300 * time.Millisecond, Rate: 1000, Burst: 1000,
		Poll: 50 * time.Millisecond, PublicURL: "https://hearth.example:8443",
	}
}

// start builds and starts a service over st, stopped when the test ends.
func start(t testing.TB, cfg notify.Config, st notify.Store) *notify.Service {
	t.Helper()
	svc, err := notify.New(cfg, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
	})
	return svc
}

// receiver is a webhook receiver over TLS: it parses each request with the
// CloudEvents SDK, checks its signature and counts the keys it got.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string

	status atomic.Int32 // answered; 0 is 204
	delay  atomic.Int64 // nanoseconds each answer waits
	hits   atomic.Int64 // requests, answered or not

	mu     sync.Mutex
	keys   map[string]int // keys of requests answered 2xx
	events []event.Event
	times  []time.Time // of every request
	errs   []string
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t, keys: map[string]int{}}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.hits.Add(1)
	body, err := io.ReadAll(req.Body)
	if err != nil {
		r.fail("read body: %v", err)
		return
	}
	r.mu.Lock()
	r.times = append(r.times, time.Now())
	r.mu.Unlock()
	if d := time.Duration(r.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-req.Context().Done():
			return
		}
	}
	if ct := req.Header.Get("Content-Type"); ct != notify.ContentTypeCE {
		r.fail("Content-Type %q, want %q", ct, notify.ContentTypeCE)
	}
	if r.secret != "" {
		want := notify.Sign(r.secret, body)
		if got := req.Header.Get(notify.HeaderSignature); !hmac.Equal([]byte(got), []byte(want)) {
			r.fail("signature %q, want %q", got, want)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	ev, err := cehttp.NewEventFromHTTPRequest(req)
	if err != nil {
		r.fail("not a CloudEvent: %v\n%s", err, body)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if got := req.Header.Get(notify.HeaderIdempotencyKey); got != ev.ID() {
		r.fail("Idempotency-Key %q differs from the event id %q", got, ev.ID())
	}
	status := int(r.status.Load())
	if status == 0 {
		status = http.StatusNoContent
	}
	if status < 300 {
		r.mu.Lock()
		r.keys[ev.ID()]++
		r.events = append(r.events, *ev)
		r.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (r *receiver) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// check fails the test for anything the receiver found wrong.
func (r *receiver) check() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		r.t.Error("receiver: " + e)
	}
}

func (r *receiver) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (r *receiver) snapshot() (map[string]int, []event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make(map[string]int, len(r.keys))
	for k, v := range r.keys {
		keys[k] = v
	}
	return keys, append([]event.Event(nil), r.events...)
}

// trust is a TLS configuration that trusts the receivers' test CA.
func trust(srvs ...*httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	for _, s := range srvs {
		pool.AddCert(s.Certificate())
	}
	return &tls.Config{RootCAs: pool}
}

// addChannel stores a channel of acme.
func addChannel(t testing.TB, st *store.Store, c store.NotificationChannel) store.NotificationChannel {
	t.Helper()
	c.Customer = customer
	out, err := st.CreateNotificationChannel(c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deliveries lists acme's deliveries of a status.
func deliveries(t testing.TB, st *store.Store, channel, status string) []store.Delivery {
	t.Helper()
	var all []store.Delivery
	q := store.DeliveryQuery{Customer: customer, Channel: channel, Status: status, Limit: store.MaxHistoryLimit}
	for {
		ds, err := st.Deliveries(q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ds...)
		if len(ds) < q.Limit {
			return all
		}
		q.Before = ds[len(ds)-1].ID
	}
}

// alarm is a message of acme's device to channels.
func alarm(key, device, state string, channels ...string) notify.Message {
	return notify.Message{
		Key: key, Customer: customer, Site: "marunouchi", Device: device, Rule: "offline", Severity: "critical",
		State: state, Title: device + " is offline", Text: "No message for 5 minutes.",
		Time: time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC), Channels: channels,
		Data: map[string]any{notify.DataSiteName: "Marunouchi Office Tower", notify.DataValue: 0, notify.DataOffline: true},
	}
}
