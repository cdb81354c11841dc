package settings_test

import (
	"errors"
	"testing"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/store"
)

func TestMetricPresentation(t *testing.T) {
	two := 2
	m := store.Metric{Name: "running", Decimals: &two, Labels: map[string]string{"en": "Operation", "ja": "運転状態"},
		States: []store.MetricState{{Value: 1, Labels: map[string]string{"en": "Running", "ja": "運転"}}, {Value: 2, Labels: map[string]string{"fr": "Dégivrage"}}}}
	for _, c := range []struct {
		lang string
		v    float64
		want string
		ok   bool
	}{
		{"ja", 1, "運転", true}, {"ja-JP", 1, "運転", true}, {"en", 1, "Running", true}, {"de", 1, "Running", true},
		{"en", 2, "Dégivrage", true}, {"en", 0, "", false},
	} {
		if got, ok := settings.StateLabel(m, c.v, c.lang); got != c.want || ok != c.ok {
			t.Errorf("StateLabel(%v, %s) = %q %v, want %q %v", c.v, c.lang, got, ok, c.want, c.ok)
		}
	}
	if got := settings.MetricLabel(m, "ja"); got != "運転状態" {
		t.Errorf("MetricLabel ja = %q", got)
	}
	if got := settings.MetricLabel(store.Metric{}, "ja"); got != "" {
		t.Errorf("MetricLabel of a metric without labels = %q, want empty", got)
	}
	own := func(float64) string { return "own" }
	if got := settings.FormatMetric(m, 7.126, own); got != "7.13" {
		t.Errorf("FormatMetric with 2 decimals = %q", got)
	}
	if got := settings.FormatMetric(m, -0.001, own); got != "0.00" {
		t.Errorf("FormatMetric of a tiny negative = %q, want 0.00", got)
	}
	if got := settings.FormatMetric(store.Metric{}, 7.126, own); got != "own" {
		t.Errorf("FormatMetric without decimals = %q, want the pages' own", got)
	}

	// A state's language must be a BCP 47 tag.
	_, err := settings.Compile(store.DeviceType{Name: "x", Metrics: []store.Metric{{Name: "m", States: []store.MetricState{{Value: 1, Labels: map[string]string{"EN": "On"}}}}}})
	if !errors.Is(err, settings.ErrInvalid) {
		t.Errorf("Compile with a state labelled EN = %v, want a refusal", err)
	}
}
