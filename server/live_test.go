package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// TestLivePageEndToEnd: on a real Hearth, a device page's event stream
// brings the reading the device just published over MQTT, through the
// event bus the server wires to the pages; and stopping Hearth ends the
// stream at once instead of waiting for it.
func TestLivePageEndToEnd(t *testing.T) {
	h := startHearth(t, t.TempDir())
	op := h.token(store.RoleOperator, "")
	h.addCustomer(op, "acme")
	d := h.addDevice(op, "meter-7", "acme")
	const email, password = "fm@acme.test", "a long enough password"
	if st := h.adminCall("POST", "/api/v1/users", map[string]string{"email": email, "role": "customer", "customer": "acme", "password": password}, nil); st != http.StatusCreated {
		t.Fatalf("create user: status %d", st)
	}
	client := *signIn(t, h.https, h.caPool, email, password)
	client.Timeout = 0 // a stream's body is read for as long as the test needs
	// As browsers reach Hearth: over HTTP/2.
	client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.caPool}, ForceAttemptHTTP2: true}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", h.https+"/devices/meter-7/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" || res.ProtoMajor != 2 {
		t.Fatalf("the stream: %d %q over HTTP/%d; want 200 text/event-stream over HTTP/2", res.StatusCode, res.Header.Get("Content-Type"), res.ProtoMajor)
	}
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// until reads the stream for at most d until a line contains want.
	until := func(want string, d time.Duration) bool {
		deadline := time.After(d)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return false
				}
				if strings.Contains(l, want) {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}
	if !until("event: update", 10*time.Second) {
		t.Fatal("the stream sent no first update")
	}

	c, _, err := h.v5("meter-7", d, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if code, err := c.publish("hearth/things/meter-7/telemetry", []byte(`{"kwh": 42.5}`)); code != 0 || err != nil {
		t.Fatalf("publish: %#x %v", code, err)
	}
	if !until(">42.5<", 15*time.Second) {
		t.Fatal("the reading published over MQTT did not reach the page's stream within 15 s")
	}

	start := time.Now()
	h.stop()
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stopping Hearth with a page's stream open took %v", took)
	}
	select {
	case _, ok := <-lines:
		for ok {
			_, ok = <-lines
		}
	case <-time.After(5 * time.Second):
		t.Error("the stream is still open 5 s after Hearth stopped")
	}
}
