package server_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/hearthiot/hearth/notify"
)

// webhook is a receiver of Hearth's webhooks on loopback: it checks each
// request's signature with the channel's secret, parses it with the
// CloudEvents SDK and keeps the events with the time they arrived.
type webhook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	events []received
	bad    int // requests whose signature or event did not check
	notify chan struct{}
}

type received struct {
	at  time.Time
	ev  event.Event
	msg notify.Message
}

func newWebhook(t testing.TB) *webhook {
	w := &webhook{notify: make(chan struct{}, 1024)}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		if r.Header.Get("Content-Type") != "application/cloudevents+json" || r.Header.Get(notify.HeaderSignature) != notify.Sign(w.secret, body) {
			w.bad++
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		var m notify.Message
		if err == nil {
			err = ev.DataAs(&m)
		}
		if err != nil || ev.SpecVersion() != "1.0" {
			w.bad++
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.events = append(w.events, received{at: at, ev: *ev, msg: m})
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) setSecret(s string) { w.mu.Lock(); w.secret = s; w.mu.Unlock() }

// received returns a copy of what arrived, and how many requests failed
// their checks.
func (w *webhook) received() ([]received, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]received(nil), w.events...), w.bad
}
