package settings

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hearthiot/hearth/store"
)

// checkMetrics refuses metric and state labels whose languages are not
// BCP 47 tags in their canonical form; the store has checked the rest of
// their shape.
func checkMetrics(ms []store.Metric) error {
	for _, m := range ms {
		if err := checkLanguages("labels", m.Labels); err != nil {
			return fmt.Errorf("metric %q: %w", m.Name, err)
		}
		for _, st := range m.States {
			if err := checkLanguages(fmt.Sprintf("state %v labels", st.Value), st.Labels); err != nil {
				return fmt.Errorf("metric %q: %w", m.Name, err)
			}
		}
	}
	return nil
}

// MetricLabel is what a person reading lang calls the metric: its label
// in that language, else in English, else "" (the caller's own name for
// it then).
func MetricLabel(m store.Metric, lang string) string { return pick(m.Labels, lang) }

// StateLabel is the word for value v of the metric in lang, else in
// English; false when the metric names no state of that value.
func StateLabel(m store.Metric, v float64, lang string) (string, bool) {
	for _, st := range m.States {
		if st.Value == v {
			if l := pick(st.Labels, lang); l != "" {
				return l, true
			}
			for _, k := range slices.Sorted(maps.Keys(st.Labels)) {
				return st.Labels[k], true
			}
		}
	}
	return "", false
}

// FormatMetric writes value v of the metric as its decimals say, or with
// format when it has none set; trailing zeros of a decimal fraction are
// kept, since a fixed count of decimals is what was asked for.
func FormatMetric(m store.Metric, v float64, format func(float64) string) string {
	if m.Decimals == nil {
		return format(v)
	}
	s := fmt.Sprintf("%.*f", *m.Decimals, v)
	if strings.TrimLeft(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-") // no "-0.0"
	}
	return s
}
