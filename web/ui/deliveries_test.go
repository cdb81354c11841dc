package ui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// seedDeliveries adds deliveries to the outbox as they are, past the
// notification service, and returns them with their IDs.
func (e *env) seedDeliveries(ds ...store.Delivery) []store.Delivery {
	e.t.Helper()
	out, err := e.st.EnqueueDeliveries(ds)
	if err != nil || len(out) != len(ds) {
		e.t.Fatalf("enqueue %d deliveries: %d added, %v", len(ds), len(out), err)
	}
	return out
}

// delivery is a delivery of the outbox as stored.
func (e *env) delivery(id uint64) store.Delivery {
	e.t.Helper()
	d, err := e.st.GetDelivery(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// message is a delivery's message as the notification service stores
// it.
func message(title, device, severity string) []byte {
	return fmt.Appendf(nil, `{"key":"k","customer":"acme","state":"active","title":%q,"device":%q,"severity":%q}`, title, device, severity)
}

var deliveryRowRE = regexp.MustCompile(`data-delivery="(\d+)"`)

// listed are the IDs of the deliveries a page lists, in its order.
func listed(body string) []string {
	var out []string
	for _, m := range deliveryRowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDeliveriesPage: operators see the outbox's dead letters first,
// with their attempts, last error and deadline; filter it by status,
// customer and channel; page through it; and send a dead letter again.
func TestDeliveriesPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seedChannel(store.NotificationChannel{Customer: "acme", Name: "ops-hook", Kind: store.ChannelWebhook, URL: "https://hooks.acme.example/x", Secret: "whsec_a"})
	e.seedChannel(store.NotificationChannel{Customer: "globex", Name: "globex-hook", Kind: store.ChannelWebhook, URL: "https://hooks.globex.example/x", Secret: "whsec_g"})
	deadline := time.Date(2026, 12, 8, 1, 2, 3, 0, time.UTC)
	ds := e.seedDeliveries(
		store.Delivery{Key: "dead-1", Customer: "acme", Channel: "ops-hook", Status: store.DeliveryDead, Attempts: 7, Deadline: deadline,
			LastError: "receiver answered 503 Service Unavailable", Message: message("Supply too warm", "acme-chiller-1", store.SeverityMajor)},
		store.Delivery{Key: "pending-1", Customer: "acme", Channel: "ops-hook", Status: store.DeliveryPending, Attempts: 1, Deadline: deadline,
			NextAttempt: deadline.Add(-time.Hour), Message: message("CO2 high", "acme-sensor-2", store.SeverityMinor)},
		store.Delivery{Key: "done-1", Customer: "acme", Channel: "ops-hook", Status: store.DeliveryDelivered, Attempts: 1, Deadline: deadline,
			Note: "ops@acme.example left out: quiet hours", Message: message("Back to normal", "acme-chiller-1", store.SeverityMajor)},
		store.Delivery{Key: "dead-2", Customer: "globex", Channel: "globex-hook", Status: store.DeliveryDead, Attempts: 3, Deadline: deadline,
			LastError: "dial tcp: connection refused", Message: message("Globex boiler", "globex-chiller-9", store.SeverityCritical)},
	)
	dead1, pending1, done1, dead2 := ds[0].ID, ds[1].ID, ds[2].ID, ds[3].ID
	id := func(n uint64) string { return strconv.FormatUint(n, 10) }
	op := e.signIn(opUser)

	r := e.get(op, "/admin/alarms/deliveries")
	contains(t, "the dead letters", r, http.StatusOK, "Notification outbox", `<option value="dead" selected>Dead letters</option>`,
		"Supply too warm", "acme-chiller-1", `class="sev sev-major"`, "receiver answered 503 Service Unavailable", "Dead letter",
		"deadline 2026-12-08 01:02:03", `href="/admin/alarms/channels/acme/ops-hook"`, "Globex boiler", "connection refused",
		`action="/admin/alarms/deliveries/`+id(dead1)+`/retry"`, `action="/admin/alarms/deliveries/`+id(dead2)+`/retry"`)
	if got := strings.Join(listed(r.body), ","); got != id(dead2)+","+id(dead1) {
		t.Errorf("the dead letters list %s, want %d,%d, newest first", got, dead2, dead1)
	}
	if !regexp.MustCompile(`<td class="num">7</td>`).MatchString(r.body) {
		t.Error("the dead letter's attempts are not shown")
	}
	for _, tc := range []struct {
		query string
		want  []uint64
	}{
		{"?status=pending", []uint64{pending1}},
		{"?status=delivered", []uint64{done1}},
		{"?status=all", []uint64{dead2, done1, pending1, dead1}},
		{"?status=all&customer=globex", []uint64{dead2}},
		{"?status=all&customer=acme&channel=ops-hook", []uint64{done1, pending1, dead1}},
		{"?status=dead&channel=nothing", nil},
	} {
		r := e.get(op, "/admin/alarms/deliveries"+tc.query)
		var want []string
		for _, n := range tc.want {
			want = append(want, id(n))
		}
		if got := listed(r.body); r.status != http.StatusOK || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %d, lists %v, want %v", tc.query, r.status, got, want)
		}
	}
	r = e.get(op, "/admin/alarms/deliveries?status=pending")
	contains(t, "a pending delivery", r, http.StatusOK, "next attempt 2026-12-08 00:02:03", "Pending")
	if strings.Contains(r.body, "/retry") {
		t.Error("a pending delivery offers Retry")
	}
	contains(t, "a delivered one", e.get(op, "/admin/alarms/deliveries?status=delivered"), http.StatusOK, "Note: ops@acme.example left out: quiet hours")
	for _, bad := range []string{"?status=lost", "?before=abc", "?before=0", "?customer=nobody"} {
		if r := e.get(op, "/admin/alarms/deliveries"+bad); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, r.status)
		}
	}

	// Retry: the dead letter is pending again, said on the page it was
	// sent from.
	back := "/admin/alarms/deliveries?status=dead&customer=acme"
	r = e.post(op, "/admin/alarms/deliveries/"+id(dead1)+"/retry", url.Values{"back": {back}})
	if r.status != http.StatusSeeOther || r.location != back {
		t.Fatalf("retry: %d to %q", r.status, r.location)
	}
	if d := e.delivery(dead1); d.Status != store.DeliveryPending || d.Attempts != 0 || !d.Deadline.After(time.Now()) {
		t.Errorf("the retried delivery: %+v", d)
	}
	r = e.get(op, back)
	contains(t, "after the retry", r, http.StatusOK, "Delivery "+id(dead1)+" is pending again and is tried now.")
	if len(listed(r.body)) != 0 {
		t.Errorf("acme's dead letters after the retry: %v", listed(r.body))
	}
	r = e.post(op, "/admin/alarms/deliveries/"+id(done1)+"/retry", url.Values{"back": {"/admin/alarms/deliveries?status=delivered"}})
	if r.status != http.StatusSeeOther || r.location != "/admin/alarms/deliveries?status=delivered" {
		t.Errorf("a retry of a delivered one: %d to %q", r.status, r.location)
	}
	contains(t, "a delivered one retried", e.get(op, r.location), http.StatusOK, "Delivery "+id(done1)+" not sent again: ", "only a dead one is retried")
	if d := e.delivery(done1); d.Status != store.DeliveryDelivered {
		t.Errorf("a delivered one was retried: %+v", d)
	}
	r = e.post(op, "/admin/alarms/deliveries/"+id(dead2)+"/retry", url.Values{"back": {"https://evil.example/"}})
	if r.status != http.StatusSeeOther || r.location != "/" || e.delivery(dead2).Status != store.DeliveryPending {
		t.Errorf("a retry whose back is another site: %d to %q", r.status, r.location)
	}
	if r := e.post(op, "/admin/alarms/deliveries/abc/retry", nil); r.status != http.StatusBadRequest {
		t.Errorf("a retry of no number: %d", r.status)
	}
	if r := e.post(op, "/admin/alarms/deliveries/99999/retry", nil); r.status != http.StatusNotFound {
		t.Errorf("a retry of no delivery: %d", r.status)
	}

	// In Japanese.
	if _, err := e.st.UpdateUser(opUser, func(u *store.User) error { u.Language = "ja"; return nil }); err != nil {
		t.Fatal(err)
	}
	contains(t, "the outbox in Japanese", e.get(op, "/admin/alarms/deliveries?status=all"), http.StatusOK, "通知の送信キュー", "配信不能", "送信待ち", "配信済み", "試行回数")
}

// TestDeliveriesPaging: a page shows 50, newest first, and Older pages on
// with before=, keeping the filter, until the last.
func TestDeliveriesPaging(t *testing.T) {
	e := newEnv(t, envOptions{})
	var ds []store.Delivery
	for i := range 57 {
		ds = append(ds, store.Delivery{Key: fmt.Sprintf("k%d", i), Customer: "acme", Channel: "gone", Status: store.DeliveryDead,
			LastError: "customer acme has no notification channel named \"gone\"", Message: message(fmt.Sprintf("Alarm %d", i), "acme-chiller-1", "major")})
	}
	// One of another status in between, which the filter leaves out.
	ds = append(ds[:30], append([]store.Delivery{{Key: "p", Customer: "acme", Channel: "gone", Status: store.DeliveryDelivered}}, ds[30:]...)...)
	seeded := e.seedDeliveries(ds...)
	op := e.signIn(opUser)

	r := e.get(op, "/admin/alarms/deliveries?customer=acme")
	first := listed(r.body)
	if len(first) != 50 || first[0] != strconv.FormatUint(seeded[len(seeded)-1].ID, 10) {
		t.Fatalf("the first page lists %d, starting %v", len(first), first[:min(1, len(first))])
	}
	older := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(r.body)
	if older == nil || strings.Contains(r.body, ">Newest<") {
		t.Fatalf("the first page's links:\n%s", excerpt(r.body))
	}
	next := strings.ReplaceAll(older[1], "&amp;", "&")
	u, _ := url.Parse(next)
	if q := u.Query(); q.Get("status") != "dead" || q.Get("customer") != "acme" || q.Get("before") != first[49] {
		t.Errorf("the Older link %q does not keep the filter or start below %s", next, first[49])
	}
	r = e.get(op, next)
	second := listed(r.body)
	if len(second) != 7 || strings.Contains(r.body, `rel="next"`) || !strings.Contains(r.body, ">Newest<") {
		t.Errorf("the second page lists %d (want 7), with an Older link %v", len(second), strings.Contains(r.body, `rel="next"`))
	}
	seen := map[string]bool{}
	for _, n := range append(first, second...) {
		if seen[n] {
			t.Errorf("delivery %s is on both pages", n)
		}
		seen[n] = true
	}
	if len(seen) != 57 {
		t.Errorf("the pages list %d dead letters, want 57", len(seen))
	}
}
