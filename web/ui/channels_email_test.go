package ui_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hearthiot/hearth/notify/mailtest"
	"github.com/hearthiot/hearth/store"
)

// TestChannelSendTestEmail: Send test on an e-mail channel goes through
// a real SMTP server to each address, and the page lists them.
func TestChannelSendTestEmail(t *testing.T) {
	mp := mailtest.Start(t, true)
	e := newEnv(t, envOptions{smtp: mp.SMTP()})
	e.seedAlarms(time.Now().Add(-time.Hour))
	e.seedChannel(store.NotificationChannel{Customer: "acme", Name: "facility", Kind: store.ChannelEmail, To: []string{"fm@acme.example", "night@acme.example"}})
	admin := e.signIn(acmeAdmin)

	r := e.post(admin, "/alarms/channels/facility/test", nil)
	contains(t, "a test e-mail", r, http.StatusOK, `data-delivered="true"`, "Sent to", "<div>fm@acme.example</div>", "<div>night@acme.example</div>")
	if got := mailRecipients(t, mp); !slices.Equal(got, []string{"fm@acme.example", "night@acme.example"}) {
		t.Errorf("mailpit received mail for %v", got)
	}
}

// mailRecipients lists to whom the mail mailpit received was sent.
func mailRecipients(t *testing.T, mp *mailtest.Mailpit) []string {
	t.Helper()
	var out []string
	for _, m := range mp.Messages(t) {
		for _, to := range m.To {
			out = append(out, to.Address)
		}
	}
	slices.Sort(out)
	return out
}
