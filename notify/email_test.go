package notify_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/notify/mailtest"
	"github.com/hearthiot/hearth/store"
)

// TestEmail sends through mailpit with STARTTLS: a Japanese user reads
// Japanese, a stranger English, a user in quiet hours and one who wants
// other severities nothing; a test message reaches them all.
func TestEmail(t *testing.T) {
	t.Parallel()
	mp := mailtest.Start(t, true)
	st, _ := openStore(t)
	now := time.Now().UTC()
	users := []store.User{
		{Email: "kanri@acme.example", Role: store.RoleCustomer, Customer: customer, Language: "ja", TimeZone: "Asia/Tokyo"},
		{Email: "night@acme.example", Role: store.RoleCustomer, Customer: customer, Notifications: &store.NotificationPrefs{
			QuietHours: &store.QuietHours{From: now.Add(-time.Hour).Format("15:04"), To: now.Add(time.Hour).Format("15:04"), TimeZone: "UTC"}}},
		{Email: "warnings@acme.example", Role: store.RoleCustomer, Customer: customer, Notifications: &store.NotificationPrefs{Severities: []string{"warning"}}},
	}
	for _, u := range users {
		if err := st.CreateUser(u); err != nil {
			t.Fatal(err)
		}
	}
	addChannel(t, st, store.NotificationChannel{Name: "facility", Kind: store.ChannelEmail,
		To: []string{"kanri@acme.example", "night@acme.example", "warnings@acme.example", "ext@partner.example"}})
	cfg := fastConfig()
	cfg.SMTP = mp.SMTP()
	svc := start(t, cfg, st)

	m := alarm("boiler-7-active", "boiler-7", notify.StateActive, "facility")
	m.Data[notify.DataValue], m.Data[notify.DataUnit] = 92.5, "°C"
	if err := svc.Enqueue(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the e-mail delivered", func() bool { return len(deliveries(t, st, "facility", store.DeliveryDelivered)) == 1 })
	d := deliveries(t, st, "facility", store.DeliveryDelivered)[0]
	if !strings.Contains(d.Note, "night@acme.example (quiet hours)") || !strings.Contains(d.Note, "warnings@acme.example (severity critical not wanted)") {
		t.Errorf("delivery note %q", d.Note)
	}
	if want := []string{"ext@partner.example", "kanri@acme.example"}; !slices.Equal(slices.Sorted(slices.Values(d.Sent)), want) {
		t.Errorf("sent to %v, want %v", d.Sent, want)
	}
	got := map[string]mailtest.Mail{}
	for _, msg := range mp.Messages(t) {
		if len(msg.To) != 1 {
			t.Fatalf("message to %v: one recipient a message", msg.To)
		}
		got[msg.To[0].Address] = msg
	}
	if len(got) != 2 {
		t.Fatalf("mailpit received mail for %d recipients, want 2: %v", len(got), got)
	}
	ja, en := got["kanri@acme.example"], got["ext@partner.example"]
	if ja.Subject != "[Hearth] 重大: boiler-7 is offline" || !strings.Contains(ja.Text, "機器: boiler-7") ||
		!strings.Contains(ja.Text, "値: 92.5 °C") || !strings.Contains(ja.Text, "JST") {
		t.Errorf("Japanese mail: %q\n%s", ja.Subject, ja.Text)
	}
	if en.Subject != "[Hearth] CRITICAL: boiler-7 is offline" || !strings.Contains(en.Text, "Site: Marunouchi Office Tower") ||
		!strings.Contains(en.Text, "Open in Hearth: https://hearth.example:8443/devices/boiler-7") {
		t.Errorf("English mail: %q\n%s", en.Subject, en.Text)
	}
	if k := en.Headers["X-Hearth-Key"]; len(k) != 1 || k[0] != "boiler-7-active" {
		t.Errorf("X-Hearth-Key %v", k)
	}

	// A test message goes to everyone, quiet hours or not.
	c, err := st.GetNotificationChannel(customer, "facility")
	if err != nil {
		t.Fatal(err)
	}
	res := svc.Test(context.Background(), c)
	if !res.Delivered || len(res.Recipients) != 4 {
		t.Errorf("test: %+v", res)
	}
	if n := len(mp.Messages(t)); n != 6 {
		t.Errorf("mailpit has %d messages after the test, want 6", n)
	}

	// Without STARTTLS nothing is sent: a server that does not offer it
	// is refused before any message or password goes over the wire.
	insecure := mailtest.Start(t, false)
	cfg.SMTP.Port = insecure.SMTPPort
	plain := start(t, cfg, st)
	if res := plain.Test(context.Background(), c); res.Delivered || !strings.Contains(res.Error, "STARTTLS") {
		t.Errorf("send to a server without STARTTLS: %+v", res)
	}
	if n := len(insecure.Messages(t)); n != 0 {
		t.Errorf("the server without STARTTLS received %d messages", n)
	}
}
