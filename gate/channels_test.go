package gate_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// newPrefsGate is a gate over a store with customer acme.
func newPrefsGate(t *testing.T) *gate.Gate {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logger := slog.New(slog.DiscardHandler)
	authority, err := ca.LoadOrCreate(filepath.Join(dir, "ca"), logger)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := device.NewRegistry(st, authority, logger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateCustomer(store.Customer{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	g, err := gate.New(gate.Deps{Store: st, Registry: reg, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestOwnNotificationPrefs: a person signed in sets their own
// notification preferences, and nobody else's.
func TestOwnNotificationPrefs(t *testing.T) {
	t.Parallel()
	g := newPrefsGate(t)
	local := g.Scope(gate.Local())
	for _, u := range []gate.UserSpec{
		{Email: "fm@acme.example", Role: store.RoleCustomer, Customer: "acme"},
		{Email: "boss@acme.example", Role: store.RoleCustomer, Customer: "acme", Access: store.AccessAdmin},
	} {
		if _, _, err := local.CreateUser(u); err != nil {
			t.Fatal(err)
		}
	}
	fm := g.Scope(gate.Principal{Role: store.RoleCustomer, Customer: "acme", User: "fm@acme.example"})
	prefs := store.NotificationPrefs{Severities: []string{"critical"}, QuietHours: &store.QuietHours{From: "22:00", To: "06:30"}}
	got, err := fm.SetNotificationPrefs("FM@acme.example", prefs)
	if err != nil || got.QuietHours == nil || got.QuietHours.To != "06:30" {
		t.Fatalf("own preferences: %+v, %v", got, err)
	}
	if back, err := fm.NotificationPrefs("fm@acme.example"); err != nil || len(back.Severities) != 1 {
		t.Errorf("read back: %+v, %v", back, err)
	}
	boss := g.Scope(gate.Principal{Role: store.RoleCustomer, Customer: "acme", Access: store.AccessAdmin, User: "boss@acme.example"})
	if _, err := boss.SetNotificationPrefs("fm@acme.example", store.NotificationPrefs{}); gate.Describe(err).Kind != gate.KindForbidden {
		t.Errorf("a customer's admin set another person's preferences: %v", err)
	}
	if _, err := fm.NotificationPrefs("boss@acme.example"); gate.Describe(err).Kind != gate.KindForbidden {
		t.Errorf("a person read another's preferences: %v", err)
	}
}
