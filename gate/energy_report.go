package gate

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/hearthiot/hearth/store"
)

// Comfort thresholds of the monthly report.
const (
	// CO2Limit is the indoor CO2 above which an hour counts as
	// uncomfortable (ppm; Japan's Building Sanitation Act sets 1,000).
	CO2Limit = 1000
	// co2Metric is the metric read for comfort.
	co2Metric = "co2_ppm"
)

// MonthReport is a site's monthly energy report: its days, the same
// month a year before, the last twelve months, the baseline and avoided
// energy with cost and CO2, comfort and the month's alarms.
type MonthReport struct {
	Report SiteEnergyReport // the month's days
	Site   store.Site
	Month  time.Time // first day, in the site's zone
	// Months are the twelve months up to this one.
	Months []EnergyPoint
	// Gas, Electricity, Baseline and Avoided are the month's totals; nil
	// when they do not apply. Baseline and Avoided only when every day of
	// the month had weather and use.
	Gas, Electricity, LastYearGas       *float64
	Baseline, Avoided, AvoidedUncert    *float64
	GasPerM2, ElectricityPerM2          *float64
	GasCost, ElectricityCost, SavedCost *float64
	CO2, CO2Avoided                     *float64 // kg
	// Comfort is, per device that measures CO2, the hours of the month
	// whose mean was above CO2Limit, out of the hours it reported.
	Comfort []ComfortFigure
	Alarms  []store.Alarm
}

// ComfortFigure is one device's comfort over the month.
type ComfortFigure struct {
	Device           string
	HoursOver, Hours int
	MeanCO2, PeakCO2 float64
}

// reportMonth is the first instant, in loc, of the calendar month of month
// (its year and month as given, whatever its zone), or of now's month in
// loc for the zero time.
func reportMonth(month, now time.Time, loc *time.Location) time.Time {
	if month.IsZero() {
		month = now.In(loc)
	}
	return time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, loc)
}

// SiteEnergyMonth reckons a site's monthly report for the calendar month
// of month — its year and month as given, whatever its zone — reckoned in
// the site's zone; the zero time asks for the site's current month. A
// month read in another zone (a viewer's) must not become the month
// before in the site's: 2026-11 at midnight in UTC+14 is still October
// in Tokyo.
func (s Scope) SiteEnergyMonth(ctx context.Context, customer, site string, month time.Time) (MonthReport, error) {
	st, err := s.Site(customer, site)
	if err != nil {
		return MonthReport{}, err
	}
	if _, err := s.energy(); err != nil {
		return MonthReport{}, err
	}
	loc := s.siteZone(st)
	first := reportMonth(month, s.g.now(), loc)
	next := first.AddDate(0, 1, 0)
	out := MonthReport{Site: st, Month: first}
	if out.Report, err = s.SiteEnergy(ctx, customer, site, EnergyQuery{From: first, To: next, Step: EnergyDay}); err != nil {
		return MonthReport{}, err
	}
	months, err := s.SiteEnergy(ctx, customer, site, EnergyQuery{From: first.AddDate(0, -11, 0), To: next, Step: EnergyMonth})
	if err != nil {
		return MonthReport{}, err
	}
	out.Months = months.Points
	last, err := s.SiteEnergy(ctx, customer, site, EnergyQuery{From: first.AddDate(-1, 0, 0), To: next.AddDate(-1, 0, 0), Step: EnergyMonth})
	if err != nil {
		return MonthReport{}, err
	}
	if len(last.Points) > 0 {
		out.LastYearGas = last.Points[0].GasM3
	}
	add := func(dst **float64, v *float64) {
		if v == nil {
			return
		}
		if *dst == nil {
			*dst = new(float64)
		}
		**dst += *v
	}
	complete := len(out.Report.Points) > 0
	for _, p := range out.Report.Points {
		add(&out.Gas, p.GasM3)
		add(&out.Electricity, p.ElectricityKWh)
		if p.BaselineGasM3 == nil {
			complete = false
		}
	}
	if complete {
		// The month's own figures, as the month step reckons them (the
		// uncertainty of a month is not the sum of its days').
		mo := months.Points[len(months.Points)-1]
		out.Baseline, out.Avoided, out.AvoidedUncert = mo.BaselineGasM3, mo.AvoidedGasM3, mo.AvoidedGasM3Uncertainty
	}
	set := out.Report.Settings
	mul := func(a, b *float64) *float64 {
		if a == nil || b == nil {
			return nil
		}
		v := *a * *b
		return &v
	}
	if set.FloorAreaM2 != nil && *set.FloorAreaM2 > 0 {
		inv := 1 / *set.FloorAreaM2
		out.GasPerM2, out.ElectricityPerM2 = mul(out.Gas, &inv), mul(out.Electricity, &inv)
	}
	out.GasCost, out.ElectricityCost, out.SavedCost = mul(out.Gas, set.GasPrice), mul(out.Electricity, set.ElectricityPrice), mul(out.Avoided, set.GasPrice)
	if g, e := mul(out.Gas, set.GasCO2), mul(out.Electricity, set.ElectricityCO2); g != nil || e != nil {
		var sum float64
		for _, v := range []*float64{g, e} {
			if v != nil {
				sum += *v
			}
		}
		out.CO2 = &sum
	}
	out.CO2Avoided = mul(out.Avoided, set.GasCO2)
	if out.Comfort, err = s.comfort(ctx, customer, site, first, next); err != nil {
		return MonthReport{}, err
	}
	if s.g.alarmStore != nil {
		as, err := s.Alarms(store.AlarmFilter{Customer: customer, Site: site})
		if err != nil {
			return MonthReport{}, err
		}
		for _, a := range as {
			if a.RaisedAt.Before(next) && (a.ClearedAt.IsZero() || !a.ClearedAt.Before(first)) {
				out.Alarms = append(out.Alarms, a)
			}
		}
	}
	return out, nil
}

// comfort counts, for each device of the site that stores CO2, the hours
// from from to to whose mean CO2 was above CO2Limit.
func (s Scope) comfort(ctx context.Context, customer, site string, from, to time.Time) ([]ComfortFigure, error) {
	ds, err := s.g.registry.Devices(store.DeviceFilter{Customer: customer, Site: site})
	if err != nil {
		return nil, err
	}
	var out []ComfortFigure
	for _, d := range ds {
		pts, err := s.g.telemetry.Downsample(ctx, DownsampleQuery{Device: d.Name, Customer: customer, Metric: co2Metric, Start: from, End: to, Step: time.Hour})
		if errors.Is(err, ErrTelemetryUnavailable) {
			return nil, err
		}
		if err != nil {
			return nil, err
		}
		f := ComfortFigure{Device: d.Name}
		var sum float64
		for _, p := range pts {
			if math.IsNaN(p.Avg) {
				continue
			}
			f.Hours++
			sum += p.Avg
			f.PeakCO2 = math.Max(f.PeakCO2, p.Max)
			if p.Avg > CO2Limit {
				f.HoursOver++
			}
		}
		if f.Hours == 0 {
			continue
		}
		f.MeanCO2 = sum / float64(f.Hours)
		out = append(out, f)
	}
	return out, nil
}
