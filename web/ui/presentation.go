package ui

import (
	"math"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/gate"
)

// presenter writes one device's latest values as its type says to: under
// the type's label in the reader's language, with its unit and decimals,
// a state as its word, and metrics only operators see left out for
// everyone else. A metric the type does not define keeps the pages' own
// label, unit and rounding.
type presenter struct {
	v view
	p gate.Presentation
}

// presenter reads how d's type presents its metrics; a type that cannot
// be read is logged and the pages' own look is used.
func (u *UI) presenter(v view, sc gate.Scope, d gate.DeviceView) presenter {
	p, err := sc.PresentationOf(d)
	if err != nil {
		u.logger.Warn("cannot read the device type's metrics", "device", d.Name, "type", d.Type, "error", err)
	}
	return presenter{v: v, p: p}
}

// hidden reports whether the reader must not see metric.
func (pr presenter) hidden(metric string) bool { return pr.p.Hidden(metric, pr.v.Operator) }

// visible drops from values the metrics the reader must not see.
func (pr presenter) visible(values map[string]float64) {
	for m := range values {
		if pr.hidden(m) {
			delete(values, m)
		}
	}
}

// label is the metric's name for the reader.
func (pr presenter) label(metric string) string {
	if l := settings.MetricLabel(pr.p[metric], pr.v.Lang); l != "" {
		return l
	}
	return metricLabel(pr.v.Lang, metric)
}

// unit is the metric's unit: the type's, else the one Hearth knows or
// its name ends in.
func (pr presenter) unit(metric string) string {
	if u := pr.p[metric].Unit; u != "" {
		return u
	}
	return chartUnit(metric)
}

// state is the word for val of metric, when its type names one.
func (pr presenter) state(metric string, val float64) (string, bool) {
	return settings.StateLabel(pr.p[metric], val, pr.v.Lang)
}

// reading is val of metric as a page shows it; round is the pages' own
// rounding, used when the type sets no decimals.
func (pr presenter) reading(metric string, val float64, round func(float64) string) reading {
	if word, ok := pr.state(metric, val); ok {
		return reading{Metric: metric, Label: pr.label(metric), Value: word, Band: metricBand(metric, val)}
	}
	return reading{Metric: metric, Label: pr.label(metric), Value: settings.FormatMetric(pr.p[metric], val, round),
		Unit: pr.unit(metric), Band: metricBand(metric, val)}
}

// roundTenth is the pages' rounding of a summary value: one decimal.
func roundTenth(val float64) string { return formatValue(math.Round(val*10) / 10) }
