package gate_test

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/ca"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// newSitesGate is a gate over a real store with the built-in types, two
// customers, acme's device acme-chiller of the built-in chiller type and
// globex's globex-iaq.
func newSitesGate(t *testing.T) *gate.Gate {
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
	types := device.NewDeviceTypes(st, reg.Type)
	if _, err := types.SeedBuiltin(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"acme", "globex"} {
		if _, err := reg.CreateCustomer(store.Customer{Name: c}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []device.DeviceSpec{{Name: "acme-chiller", Customer: "acme", Type: "chiller"}, {Name: "globex-iaq", Customer: "globex", Type: "iaq"}} {
		if _, err := reg.CreateDevice(d); err != nil {
			t.Fatal(err)
		}
	}
	g, err := gate.New(gate.Deps{Store: st, Registry: reg, Types: types, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestSiteZone: the gate refuses a time zone the zone database does not
// know naming the field, on create and on change, and writes nothing;
// only operators change sites, and a customer reads only its own.
func TestSiteZone(t *testing.T) {
	g := newSitesGate(t)
	op := g.Scope(gate.Local())
	fm := g.Scope(gate.Principal{Role: store.RoleCustomer, Customer: "acme", User: "fm@acme.example"})

	_, err := op.CreateSite(store.Site{Customer: "acme", Name: "osaka", TimeZone: "Asia/Osaka"})
	wantInvalid(t, err, `field "time_zone"`, `"Asia/Osaka"`)
	if _, err := op.Site("acme", "osaka"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused site was stored: %v", err)
	}
	s, err := op.CreateSite(store.Site{Customer: "acme", Name: "osaka", Address: "Umeda", TimeZone: "Asia/Tokyo"})
	if err != nil || s.TimeZone != "Asia/Tokyo" || s.Address != "Umeda" || s.CreatedAt.IsZero() {
		t.Fatalf("CreateSite = %+v, %v", s, err)
	}
	bad := "Asia/Nowhere"
	_, err = op.UpdateSite("acme", "osaka", store.SiteChange{TimeZone: &bad})
	wantInvalid(t, err, `field "time_zone"`)
	_, err = op.UpdateSite("acme", "osaka", store.SiteChange{})
	wantInvalid(t, err, "nothing to change")
	utc := "UTC"
	if _, err := fm.UpdateSite("acme", "osaka", store.SiteChange{TimeZone: &utc}); gate.Describe(err).Kind != gate.KindForbidden {
		t.Errorf("a customer changed its site: %v", err)
	}
	if got, err := fm.Site("acme", "osaka"); err != nil || got.TimeZone != "Asia/Tokyo" {
		t.Errorf("the customer reads its site as %+v, %v", got, err)
	}
	if _, err := fm.Site("globex", store.DefaultSite); gate.Describe(err).Kind != gate.KindNotFound {
		t.Errorf("a customer read another's site: %v", err)
	}
}

// TestPresentationOf: a customer reads how its own devices' metrics are
// presented, which tells operators-only metrics apart, and nothing of
// another customer's device.
func TestPresentationOf(t *testing.T) {
	g := newSitesGate(t)
	fm := g.Scope(gate.Principal{Role: store.RoleCustomer, Customer: "acme", User: "fm@acme.example"})
	op := g.Scope(gate.Local())
	d, err := fm.Device("acme-chiller")
	if err != nil {
		t.Fatal(err)
	}
	p, err := fm.PresentationOf(d)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Hidden("agent_spool_backlog", false) || p.Hidden("agent_spool_backlog", true) || p.Hidden("chw_supply_c", false) || p.Hidden("not_defined", false) {
		t.Errorf("Hidden: backlog %v/%v, supply %v, undefined %v", p.Hidden("agent_spool_backlog", false), p.Hidden("agent_spool_backlog", true),
			p.Hidden("chw_supply_c", false), p.Hidden("not_defined", false))
	}
	if len(p["running"].States) != 2 {
		t.Errorf("running has states %v, want Stopped and Running", p["running"].States)
	}
	other, err := op.Device("globex-iaq")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fm.PresentationOf(other); gate.Describe(err).Kind != gate.KindNotFound {
		t.Errorf("a customer read another customer's device's presentation: %v", err)
	}
}
