package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/hearthiot/hearth/notify"
)

// TestNotifications: a webhook channel made through the API, refused at
// Hearth's own listener, receives a signed CloudEvent from the test route
// and from the outbox, and the counters show on /metrics.
func TestNotifications(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token("operator", "")
	h.addCustomer(op, "acme")

	var (
		mu     sync.Mutex
		secret string
		got    []string // event ids whose signature verified
		links  []string
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get(notify.HeaderSignature) != notify.Sign(secret, body) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var m notify.Message
		if err := ev.DataAs(&m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got, links = append(got, ev.ID()), append(links, m.Link)
	}))
	t.Cleanup(rcv.Close)

	_, port, _ := strings.Cut(strings.TrimPrefix(h.https, "https://"), ":")
	for _, self := range []string{h.https + "/api/v1/devices", "https://localhost:" + port + "/", "http://127.0.0.1:" + port} {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		st := h.apiCall(op, "POST", "/api/v1/notification-channels", map[string]any{"name": "loop", "customer": "acme", "kind": "webhook", "url": self}, &e)
		if st != http.StatusBadRequest || !strings.Contains(e.Error.Message, "Hearth itself") {
			t.Errorf("a channel at %s: %d %q", self, st, e.Error.Message)
		}
	}
	var created struct {
		Secret string `json:"secret"`
	}
	if st := h.apiCall(op, "POST", "/api/v1/notification-channels", map[string]any{"name": "ops", "customer": "acme", "kind": "webhook", "url": rcv.URL + "/in"}, &created); st != http.StatusCreated {
		t.Fatalf("create channel: %d", st)
	}
	mu.Lock()
	secret = created.Secret
	mu.Unlock()
	var res notify.Result
	if st := h.apiCall(op, "POST", "/api/v1/notification-channels/ops/test?customer=acme", nil, &res); st != http.StatusOK || !res.Delivered {
		t.Fatalf("test: %d %+v", st, res)
	}
	err := h.srv.Notifications().Enqueue(context.Background(), notify.Message{Key: "acme-dev-1-offline", Customer: "acme", Device: "dev-1",
		State: notify.StateActive, Severity: "critical", Title: "dev-1 offline", Channels: []string{"ops"}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the enqueued message delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	mu.Lock()
	if got[1] != "acme-dev-1-offline" || links[1] != h.https+"/devices/dev-1" && !strings.HasSuffix(links[1], ":"+port+"/devices/dev-1") {
		t.Errorf("delivered %v with links %v", got, links)
	}
	mu.Unlock()
	var list struct {
		Deliveries []struct {
			Key    string `json:"key"`
			Status string `json:"status"`
		} `json:"deliveries"`
	}
	eventually(t, "the delivery recorded", func() bool {
		st := h.apiCall(op, "GET", "/api/v1/notification-deliveries?status=delivered&customer=acme", nil, &list)
		return st == http.StatusOK && len(list.Deliveries) == 1 && list.Deliveries[0].Key == "acme-dev-1-offline"
	})
	resp, err := h.client.Get(h.https + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"hearth_notifications_enqueued_total 1", "hearth_notifications_delivered_total 1", "hearth_notifications_dead_total 0"} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
