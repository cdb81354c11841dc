package store

import (
	"fmt"
	"strings"
)

// Bounds of the charts a person keeps per device type.
const (
	// MaxChartMetrics bounds the metrics one chart shows.
	MaxChartMetrics = 8
	// maxChartTypes bounds the device types a person keeps a choice for.
	maxChartTypes = 64
	// maxMetricNameLen bounds a metric name kept in a choice.
	maxMetricNameLen = 128
)

// checkChartMetrics checks the shape of a user's chart choices: device
// type to the metrics charted on its devices' pages. Whether a device has
// such a metric is the pages' question; the store keeps short names only.
func checkChartMetrics(m map[string][]string) error {
	if len(m) > maxChartTypes {
		return fmt.Errorf("chart_metrics: at most %d device types, got %d: %w", maxChartTypes, len(m), ErrInvalid)
	}
	for typ, ms := range m {
		if err := checkText("chart_metrics device type", typ, maxSlugLen, true); err != nil {
			return err
		}
		if len(ms) == 0 || len(ms) > MaxChartMetrics {
			return fmt.Errorf("chart_metrics[%q]: 1 to %d metrics, got %d: %w", typ, MaxChartMetrics, len(ms), ErrInvalid)
		}
		for _, name := range ms {
			if name == "" || len(name) > maxMetricNameLen || strings.ContainsAny(name, ", \t\r\n") {
				return fmt.Errorf("chart_metrics[%q]: %q is not a metric name: %w", typ, name, ErrInvalid)
			}
		}
	}
	return nil
}
