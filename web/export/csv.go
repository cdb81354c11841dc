// Package export writes what Hearth's pages and REST API hand out as
// files, in one way for both, so a spreadsheet made from either reads the
// same: telemetry as CSV, one row per time, one column per metric, times
// in a named time zone.
package export

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hearthiot/hearth/gate"
)

// TelemetryCSV answers t as a CSV download named after the device. The
// first column is the time in loc, RFC 3339 with its offset, headed by the
// zone's name; each metric's column is headed by its name and unit. An
// empty cell is a step without a value.
func TelemetryCSV(w http.ResponseWriter, t gate.TelemetryTable, loc *time.Location) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", FileName(t.Device)+".csv"))
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	header := []string{"time (" + loc.String() + ")"}
	for i, m := range t.Metrics {
		col := m
		if t.Units[i] != "" {
			col += " (" + t.Units[i] + ")"
		}
		header = append(header, col)
	}
	_ = cw.Write(header)
	for i, ts := range t.Times {
		rec := make([]string, 0, 1+len(t.Metrics))
		rec = append(rec, time.UnixMilli(ts).In(loc).Format(time.RFC3339))
		for _, v := range t.Rows[i] {
			rec = append(rec, formatValue(v))
		}
		// A write error means the client went away.
		_ = cw.Write(rec)
	}
	cw.Flush()
}

// formatValue writes a value with at most three decimals, as the pages
// show it; nil is an empty cell.
func formatValue(v *float64) string {
	if v == nil {
		return ""
	}
	s := strconv.FormatFloat(*v, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// FileName keeps a name (a device's) safe as a file name.
func FileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// EnergyCSV answers a site's energy as a CSV download: one row per step,
// its start in the site's zone, then gas (m³), electricity (kWh),
// baseline and avoided gas (m³) with the avoided gas' uncertainty; an
// empty cell is a figure that does not apply.
func EnergyCSV(w http.ResponseWriter, r gate.SiteEnergyReport) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", FileName(r.Customer+"-"+r.Site)+"-energy.csv"))
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"time (" + r.Zone.String() + ")", "gas (m³)", "electricity (kWh)", "baseline gas (m³)", "avoided gas (m³)", "avoided gas uncertainty (m³, 90 %)", "outdoor (°C)"})
	for _, p := range r.Points {
		_ = cw.Write([]string{p.Time.In(r.Zone).Format(time.RFC3339), formatValue(p.GasM3), formatValue(p.ElectricityKWh),
			formatValue(p.BaselineGasM3), formatValue(p.AvoidedGasM3), formatValue(p.AvoidedGasM3Uncertainty), formatValue(p.OutdoorC)})
	}
	cw.Flush()
}
