// Package tsdb stores telemetry in an embedded VictoriaMetrics storage and
// answers queries through VictoriaMetrics' own MetricsQL engine.
package tsdb

import (
	_ "github.com/VictoriaMetrics/VictoriaMetrics/app/vmselect/prometheus"
	_ "github.com/VictoriaMetrics/VictoriaMetrics/app/vmstorage"
)
