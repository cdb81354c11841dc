package store_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

// TestSiteAddressAndZone: a site keeps its address and time zone through
// create, update and read; a zone the zone database does not know, or
// "Local", is refused and nothing changes.
func TestSiteAddressAndZone(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	mustOK(t, s.CreateCustomer(store.Customer{Name: "acme"}))
	x := store.Site{Customer: "acme", Name: "tokyo", Address: "1-1 Marunouchi\nChiyoda, Tokyo", TimeZone: "Asia/Tokyo", CreatedAt: at(1)}
	mustOK(t, s.CreateSite(x))
	got, err := s.GetSite("acme", "tokyo")
	mustOK(t, err)
	if diff := cmp.Diff(x, got); diff != "" {
		t.Errorf("GetSite (-want +got):\n%s", diff)
	}

	for _, zone := range []string{"Mars/Olympus", "Local", "../etc/passwd", strings.Repeat("A", 100)} {
		wantErr(t, s.CreateSite(store.Site{Customer: "acme", Name: "bad", TimeZone: zone}), store.ErrInvalid)
		_, err := s.UpdateSite("acme", "tokyo", store.SiteChange{TimeZone: &zone})
		wantErr(t, err, store.ErrInvalid)
		if err != nil && !strings.Contains(err.Error(), "time zone") {
			t.Errorf("UpdateSite(%q) = %v, want it to name the time zone", zone, err)
		}
	}
	tab := "a\tb"
	_, err = s.UpdateSite("acme", "tokyo", store.SiteChange{Address: &tab})
	wantErr(t, err, store.ErrInvalid)
	got, err = s.GetSite("acme", "tokyo")
	mustOK(t, err)
	if diff := cmp.Diff(x, got); diff != "" {
		t.Errorf("a refused update changed the site (-want +got):\n%s", diff)
	}

	// Only the fields given change; "" clears.
	utc, none := "UTC", ""
	got, err = s.UpdateSite("acme", "tokyo", store.SiteChange{TimeZone: &utc})
	mustOK(t, err)
	if got.TimeZone != "UTC" || got.Address != x.Address {
		t.Errorf("after changing the zone: %+v", got)
	}
	got, err = s.UpdateSite("acme", "tokyo", store.SiteChange{Address: &none, DisplayName: &utc})
	mustOK(t, err)
	if got.TimeZone != "UTC" || got.Address != "" || got.DisplayName != "UTC" {
		t.Errorf("after clearing the address: %+v", got)
	}
	if _, err := s.UpdateSite("acme", "ghost", store.SiteChange{TimeZone: &utc}); err == nil {
		t.Error("UpdateSite of a missing site succeeded")
	}
}

func intp(n int) *int { return &n }

// TestMetricPresentation: a type's metrics keep their decimals, audience
// and states; each rule of their shape is refused with what was wrong.
func TestMetricPresentation(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	running := store.Metric{Name: "running", Labels: map[string]string{"en": "State", "ja": "運転状態"}, Decimals: intp(0),
		States: []store.MetricState{{Value: 0, Labels: map[string]string{"en": "Stopped", "ja": "停止"}}, {Value: 1, Labels: map[string]string{"en": "Running", "ja": "運転"}}}}
	backlog := store.Metric{Name: "agent_spool_backlog", Audience: store.AudienceOperators}
	put, err := s.PutDeviceType(store.DeviceType{Name: "chiller", Settings: []store.Setting{}, Metrics: []store.Metric{running, backlog}})
	mustOK(t, err)
	got, err := s.GetDeviceType("chiller")
	mustOK(t, err)
	if diff := cmp.Diff(put.Metrics, got.Metrics); diff != "" {
		t.Errorf("metrics (-put +got):\n%s", diff)
	}
	if !got.Metrics[1].OperatorsOnly() || got.Metrics[0].OperatorsOnly() {
		t.Errorf("OperatorsOnly: %v %v", got.Metrics[0].OperatorsOnly(), got.Metrics[1].OperatorsOnly())
	}

	for _, c := range []struct {
		name string
		m    store.Metric
		want string
	}{
		{"decimals", store.Metric{Name: "x", Decimals: intp(7)}, "decimals 7"},
		{"negative decimals", store.Metric{Name: "x", Decimals: intp(-1)}, "decimals -1"},
		{"audience", store.Metric{Name: "x", Audience: "customers"}, `audience "customers"`},
		{"twice", store.Metric{Name: "x", States: []store.MetricState{{Value: 1, Labels: map[string]string{"en": "a"}}, {Value: 1, Labels: map[string]string{"en": "b"}}}}, "state 1 is named twice"},
		{"no word", store.Metric{Name: "x", States: []store.MetricState{{Value: 1}}}, "state 1 has no word"},
		{"empty word", store.Metric{Name: "x", States: []store.MetricState{{Value: 2, Labels: map[string]string{"en": ""}}}}, "state 2 labels"},
		{"empty label", store.Metric{Name: "x", Labels: map[string]string{"ja": ""}}, "labels"},
	} {
		_, err := s.PutDeviceType(store.DeviceType{Name: "bad", Settings: []store.Setting{}, Metrics: []store.Metric{c.m}})
		wantErr(t, err, store.ErrInvalid)
		if err != nil && (!strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `metric "x"`)) {
			t.Errorf("%s: error %q does not say %q of metric \"x\"", c.name, err, c.want)
		}
	}
}
