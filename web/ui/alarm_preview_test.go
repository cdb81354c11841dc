package ui_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store/tsdb"
)

// tsdbTelemetry reads the real telemetry store for the gate, as the
// server does.
type tsdbTelemetry struct{ db *tsdb.DB }

func (t tsdbTelemetry) Latest(dev, customer string) []gate.LatestValue {
	var out []gate.LatestValue
	for _, p := range t.db.Latest(dev, customer) {
		out = append(out, gate.LatestValue(p))
	}
	return out
}

func (t tsdbTelemetry) Downsample(ctx context.Context, q gate.DownsampleQuery) ([]gate.Point, error) {
	steps, err := t.db.Downsample(ctx, tsdb.DownsampleQuery{Device: q.Device, Customer: q.Customer, Metric: q.Metric, Start: q.Start, End: q.End, Step: q.Step})
	if err != nil {
		return nil, err
	}
	out := make([]gate.Point, 0, len(steps))
	for _, s := range steps {
		out = append(out, gate.Point{Timestamp: s.Timestamp, Min: s.Min, Avg: s.Avg, Max: s.Max})
	}
	return out, nil
}

func (t tsdbTelemetry) DownsampleMany(ctx context.Context, qs []gate.DownsampleQuery) ([][]gate.Point, error) {
	out := make([][]gate.Point, len(qs))
	for i, q := range qs {
		pts, err := t.Downsample(ctx, q)
		if err != nil {
			return nil, err
		}
		out[i] = pts
	}
	return out, nil
}

func (t tsdbTelemetry) ServePrometheus(w http.ResponseWriter, r *http.Request, endpoint, customer string) {
	t.db.ServePrometheus(w, r, endpoint, customer)
}

func (t tsdbTelemetry) MetricNames(ctx context.Context, customer string, limit int) ([]string, error) {
	return t.db.MetricNames(ctx, customer, limit)
}

// TestAlarmRulePreview: Preview replays the form's rule over the week's
// stored telemetry and says how often it would have fired, on which
// devices and when, without storing it; a rule that cannot be previewed
// says why next to the form.
func TestAlarmRulePreview(t *testing.T) {
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
	e.seedAlarms(time.Now())
	// Three hours of chilled water a minute apart, too warm twice: 20
	// minutes from two and a half hours ago, and 10 from an hour ago.
	start := time.Now().Truncate(time.Minute).Add(-3 * time.Hour)
	var pts []tsdb.Point
	for i := range 180 {
		v := 7.0
		if i >= 30 && i < 50 || i >= 120 && i < 130 {
			v = 10.5
		}
		pts = append(pts, tsdb.Point{Metric: "chw_supply_c", Timestamp: start.Add(time.Duration(i) * time.Minute).UnixMilli(), Value: v})
	}
	if err := db.Append("acme-chiller-1", "acme", "tokyo-tower", pts); err != nil {
		t.Fatal(err)
	}
	// globex's chiller is too warm all along: acme's preview must not see it.
	for i := range pts {
		pts[i].Value = 20
	}
	if err := db.Append("globex-chiller-9", "globex", "osaka-dome", pts); err != nil {
		t.Fatal(err)
	}
	db.Flush()

	admin := e.signIn(acmeAdmin)
	before := e.ruleCount()
	form := url.Values{"name": {"Supply too warm"}, "kind": {"telemetry"}, "severity": {"major"}, "device_type": {"chiller"},
		"condition": {"chw_supply_c > 9"}, "preview": {"1"}}
	r := e.post(admin, "/alarms/rules/new", form)
	contains(t, "the preview", r, http.StatusOK, "Preview (not saved)", "In the last 7 days this rule would have fired 2 times on 1 devices.",
		`<tr data-device="acme-chiller-1">`, `value="chw_supply_c > 9"`,
		start.Add(30*time.Minute).UTC().Format("2006-01-02 15:04:05")+" to "+start.Add(50*time.Minute).UTC().Format("2006-01-02 15:04:05"))
	if strings.Contains(r.body, "globex") {
		t.Errorf("acme's preview names globex:\n%s", excerpt(r.body))
	}
	if e.ruleCount() != before {
		t.Error("a preview stored the rule")
	}

	// Held for 15 minutes, only the first excursion fires.
	form.Set("for", "15m")
	r = e.post(admin, "/alarms/rules/new", form)
	contains(t, "the preview held 15m", r, http.StatusOK, "would have fired 1 times on 1 devices.")
	form.Set("condition", "chw_supply_c > 11")
	r = e.post(admin, "/alarms/rules/new", form)
	contains(t, "a preview that never fires", r, http.StatusOK, "would not have fired on any of the 1 devices it watches.")

	// A rule's page previews what its form says, and leaves the rule as it is.
	r = e.post(admin, "/alarms/rules/acme-supply", url.Values{"name": {"Supply too warm"}, "kind": {"telemetry"}, "severity": {"major"},
		"device": {"acme-chiller-1"}, "condition": {"chw_supply_c > 10"}, "preview": {"1"}})
	contains(t, "a stored rule's preview", r, http.StatusOK, "would have fired 2 times on 1 devices.", `value="chw_supply_c > 10"`)
	if got, _ := e.st.GetAlarmRule("acme-supply"); got.Condition != "chw_supply_c > 9" {
		t.Errorf("a preview changed the rule: %+v", got)
	}

	// What cannot be previewed says why, next to the form.
	form.Set("condition", "chw_supply_c >")
	r = e.post(admin, "/alarms/rules/new", form)
	contains(t, "a preview of a bad condition", r, http.StatusBadRequest, `No preview: field "condition"`)
	r = e.post(admin, "/alarms/rules/new", url.Values{"name": {"x"}, "kind": {"offline"}, "severity": {"minor"},
		"device": {"acme-chiller-1"}, "for": {"5m"}, "preview": {"1"}})
	contains(t, "a preview of an offline rule", r, http.StatusBadRequest, `No preview: field "kind": only telemetry rules can be previewed`)
	if e.ruleCount() != before {
		t.Error("a refused preview stored a rule")
	}
}
