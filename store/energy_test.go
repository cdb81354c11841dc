package store_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// A site's energy settings: checked, kept across an upgrade from the
// schema before them, and removed with their site.
func TestSiteEnergy(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth.db")
	old, err := store.OpenAtSchemaVersion(path, store.LatestSchemaVersion()-1)
	mustOK(t, err)
	mustOK(t, old.CreateCustomer(store.Customer{Name: "a"}))
	mustOK(t, old.CreateSite(store.Site{Customer: "a", Name: "hq"}))
	mustOK(t, old.Close())
	s, err := store.Open(path, store.Options{})
	mustOK(t, err)
	defer s.Close()
	e, err := s.GetSiteEnergy("a", "hq")
	mustOK(t, err)
	if e.FloorAreaM2 != nil || e.Baseline != nil {
		t.Errorf("a site without settings: %+v", e)
	}
	area := 1200.0
	_, err = s.UpdateSiteEnergy("a", "hq", func(e *store.SiteEnergy) error {
		e.FloorAreaM2, e.Currency = &area, "JPY"
		e.Baseline = &store.Baseline{From: "2026-01-01", To: "2026-03-31", Accepted: true, Intercepts: map[string]float64{"weekday": 100}}
		return nil
	})
	mustOK(t, err)
	e, err = s.GetSiteEnergy("a", "hq")
	mustOK(t, err)
	if e.FloorAreaM2 == nil || *e.FloorAreaM2 != 1200 || e.Currency != "JPY" || e.Baseline == nil || e.Baseline.Intercepts["weekday"] != 100 {
		t.Errorf("stored: %+v", e)
	}
	for name, bad := range map[string]func(*store.SiteEnergy){
		"negative price":  func(e *store.SiteEnergy) { v := -1.0; e.GasPrice = &v },
		"zero floor area": func(e *store.SiteEnergy) { v := 0.0; e.FloorAreaM2 = &v },
		"currency":        func(e *store.SiteEnergy) { e.Currency = "yen" },
	} {
		_, err := s.UpdateSiteEnergy("a", "hq", func(e *store.SiteEnergy) error { bad(e); return nil })
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if e, _ := s.GetSiteEnergy("a", "hq"); e.Currency != "JPY" {
		t.Errorf("a refused change was written: %+v", e)
	}
	if _, err := s.GetSiteEnergy("a", "nowhere"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another site: %v", err)
	}
	mustOK(t, s.DeleteSite("a", "hq"))
	mustOK(t, s.CreateSite(store.Site{Customer: "a", Name: "hq"}))
	if e, _ := s.GetSiteEnergy("a", "hq"); e.FloorAreaM2 != nil {
		t.Errorf("a site made again kept the old one's settings: %+v", e)
	}
}

// A metric's energy declaration must match its unit.
func TestMetricEnergy(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	for _, c := range []struct {
		m  store.Metric
		ok bool
	}{
		{store.Metric{Name: "g", Unit: "m³", Energy: &store.MetricEnergy{Fuel: "gas", Kind: "counter"}}, true},
		{store.Metric{Name: "g", Unit: "m³/h", Energy: &store.MetricEnergy{Fuel: "gas", Kind: "rate"}}, true},
		{store.Metric{Name: "e", Unit: "kWh", Energy: &store.MetricEnergy{Fuel: "electricity", Kind: "counter"}}, true},
		{store.Metric{Name: "e", Unit: "kW", Energy: &store.MetricEnergy{Fuel: "electricity", Kind: "rate"}}, true},
		{store.Metric{Name: "t", Unit: "°C", Outdoor: true}, true},
		{store.Metric{Name: "g", Unit: "L", Energy: &store.MetricEnergy{Fuel: "gas", Kind: "counter"}}, false},
		{store.Metric{Name: "g", Unit: "m³", Energy: &store.MetricEnergy{Fuel: "oil", Kind: "counter"}}, false},
		{store.Metric{Name: "g", Unit: "m³", Energy: &store.MetricEnergy{Fuel: "gas", Kind: "gauge"}}, false},
		{store.Metric{Name: "t", Unit: "K", Outdoor: true}, false},
	} {
		_, err := s.PutDeviceType(store.DeviceType{Name: "meter", Settings: []store.Setting{}, Metrics: []store.Metric{c.m}})
		if (err == nil) != c.ok {
			t.Errorf("%+v: %v, want ok %v", c.m, err, c.ok)
		}
	}
}
