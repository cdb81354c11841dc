package ui_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/store/tsdb"
)

// TestMetricsAsTheirTypeSays: the overview, the site page and the device
// page's live values show a metric under its type's label, a state as
// its word in the reader's language, and leave out for customers the
// metrics only operators see; a metric the type does not define keeps
// the pages' own look. The site page shows the site's address and its
// times in the site's zone.
func TestMetricsAsTheirTypeSays(t *testing.T) {
	db, err := tsdb.Open(tsdb.Config{Dir: t.TempDir(), MemoryBytes: 256 << 20}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	e := newEnv(t, envOptions{telemetry: tsdbTelemetry{db}})
	zero := 0
	if _, err := e.types.Put(store.DeviceType{Name: "pump", Settings: []store.Setting{}, Metrics: []store.Metric{
		{Name: "running", Labels: map[string]string{"en": "Operation", "ja": "運転状態"}, States: []store.MetricState{
			{Value: 0, Labels: map[string]string{"en": "Stopped", "ja": "停止"}},
			{Value: 1, Labels: map[string]string{"en": "Running", "ja": "運転"}},
		}},
		{Name: "flow_m3h", Unit: "m³/h", Decimals: &zero, Labels: map[string]string{"en": "Flow", "ja": "流量"}},
		{Name: "agent_spool_backlog", Audience: store.AudienceOperators, Labels: map[string]string{"en": "Spool backlog", "ja": "未送信数"}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.CreateDevice(device.DeviceSpec{Name: "acme-pump-1", Customer: "acme", Site: "tokyo-tower", Type: "pump"}); err != nil {
		t.Fatal(err)
	}
	address, zone := "4-2-8 Shibakoen\nMinato, Tokyo", "Asia/Tokyo"
	if _, err := e.st.UpdateSite("acme", "tokyo-tower", store.SiteChange{Address: &address, TimeZone: &zone}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 3, 4, 5, 0, time.UTC)
	if err := db.Append("acme-pump-1", "acme", "tokyo-tower", []tsdb.Point{
		{Metric: "running", Timestamp: at.UnixMilli(), Value: 1},
		{Metric: "flow_m3h", Timestamp: at.UnixMilli(), Value: 12.64},
		{Metric: "agent_spool_backlog", Timestamp: at.UnixMilli(), Value: 42},
		{Metric: "vibration_mm_s", Timestamp: at.UnixMilli(), Value: 2.5},
	}); err != nil {
		t.Fatal(err)
	}
	db.Flush()

	fm, op := e.signIn(acmeUser), e.signIn(opUser)
	ja := map[string]string{"Accept-Language": "ja"}
	backlog := `data-metric="agent_spool_backlog"`
	for _, path := range []string{"/", "/sites/acme/tokyo-tower", "/devices/acme-pump-1", "/devices/acme-pump-1/live"} {
		r := e.get(fm, path)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d", path, r.status)
		}
		if strings.Contains(r.body, backlog) || strings.Contains(r.body, "Spool backlog") {
			t.Errorf("%s shows the customer an operators-only metric:\n%s", path, excerpt(r.body))
		}
		for _, want := range []string{`<span class="label">Operation</span> <span class="value">Running</span>`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("%s (English) lacks %q", path, want)
			}
		}
		r = e.do(fm, http.MethodGet, path, nil, ja)
		if !strings.Contains(r.body, `<span class="label">運転状態</span> <span class="value">運転</span>`) {
			t.Errorf("%s (Japanese) lacks the state's word:\n%s", path, excerpt(r.body))
		}
	}
	r := e.get(fm, "/devices/acme-pump-1/live")
	for _, want := range []string{
		`<span class="label">Flow</span> <span class="value">13</span> <span class="unit">m³/h</span>`,
		// Not defined by the type: as before.
		`<span class="label">vibration mm s</span> <span class="value">2.5</span>`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("live values lack %q:\n%s", want, r.body)
		}
	}
	// The chart and its picker name and measure a metric as its type
	// does, and as its name says when the type does not.
	var chart struct {
		Series []struct{ Metric, Label, Unit string }
	}
	series := fmt.Sprintf("/devices/acme-pump-1/series?metrics=flow_m3h,vibration_mm_s&from=%d&to=%d", at.Add(-time.Hour).UnixMilli(), at.Add(time.Hour).UnixMilli())
	if r := e.get(fm, series); r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &chart) != nil || len(chart.Series) != 2 {
		t.Fatalf("%s: %d %s", series, r.status, r.body)
	}
	if s := chart.Series[0]; s.Label != "Flow" || s.Unit != "m³/h" {
		t.Errorf("the chart's flow line is %+v; want the type's label Flow and unit m³/h", s)
	}
	if s := chart.Series[1]; s.Unit != "mm/s" {
		t.Errorf("the chart's vibration line is %+v; want mm/s, as its name ends", s)
	}
	if r := e.get(fm, "/devices/acme-pump-1"); !strings.Contains(r.body, `value="flow_m3h"`) ||
		!regexp.MustCompile(`value="flow_m3h"[^>]*>\s*Flow\s*<small class="unit">m³/h</small>`).MatchString(r.body) {
		t.Errorf("the chart's picker does not offer the flow by its type's label and unit")
	}
	r = e.get(op, "/devices/acme-pump-1/live")
	if !strings.Contains(r.body, backlog) || !strings.Contains(r.body, "Spool backlog") {
		t.Errorf("the operator does not see the operators-only metric:\n%s", r.body)
	}

	r = e.get(fm, "/sites/acme/tokyo-tower")
	for _, want := range []string{"4-2-8 Shibakoen\nMinato, Tokyo", "Times in Asia/Tokyo"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the site page lacks %q", want)
		}
	}
}
