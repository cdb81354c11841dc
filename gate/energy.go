package gate

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/hearthiot/hearth/energy"
	"github.com/hearthiot/hearth/scheduler"
	"github.com/hearthiot/hearth/store"
)

// EnergyEngine computes energy use from stored telemetry with the query
// engine; the server adapts the time-series store to it, so the gate
// links no engine.
type EnergyEngine interface {
	// Use returns, for each device of a site that stored the metric, its
	// energy in each step ending at Start+Step, Start+2·Step, … up to End:
	// the increase of a counter (resets and roll-overs counted from zero)
	// or the integral of a rate per hour.
	Use(ctx context.Context, q EnergyUseQuery) ([]EnergyUseSeries, error)
}

// EnergyUseQuery asks for one energy metric of a site's devices.
type EnergyUseQuery struct {
	Customer, Site, Metric string
	Kind                   string // store.EnergyCounter or store.EnergyRate
	Start, End             time.Time
	Step                   time.Duration
}

// EnergyUseSeries is one device's use per step; a step without data is
// left out.
type EnergyUseSeries struct {
	Device     string
	Timestamps []int64 // unix milliseconds, the step's end
	Values     []float64
}

// Energy steps.
const (
	EnergyHour  = "1h"
	EnergyDay   = "1d"
	EnergyMonth = "1mo"
)

// Bounds of an energy request.
const (
	// maxEnergyHours bounds the hours one request reads (ten years).
	maxEnergyHours = 10 * 366 * 24
	// maxEnergyPoints bounds the points of one answer.
	maxEnergyPoints = 11000
	// energyLead is how far before a range the engine is asked from, so
	// that a counter's reading before a gap across the range's start is
	// in its sight.
	energyLead = 24 * time.Hour
	// energyChunk is how many hours one engine query covers.
	energyChunk = 200 * 24 * time.Hour
)

// EnergyQuery asks for a site's energy from From to To (zero To: now; zero
// From: 7 days before To for hours and days, 12 months for months) in
// steps of Step (EnergyDay when empty). Times are cut to the step's
// boundaries in the site's zone.
type EnergyQuery struct {
	From, To time.Time
	Step     string
}

// EnergyPoint is a site's energy in one step starting at Time. A field is
// nil when it does not apply: no metric of that fuel, no data in the
// step, no accepted baseline.
type EnergyPoint struct {
	Time           time.Time
	GasM3          *float64
	ElectricityKWh *float64
	// BaselineGasM3 is the baseline adjusted to the step's weather and day
	// types, AvoidedGasM3 baseline − actual, AvoidedGasM3Uncertainty its
	// uncertainty at energy.Confidence. Steps of days and months only.
	BaselineGasM3           *float64
	AvoidedGasM3            *float64
	AvoidedGasM3Uncertainty *float64
	// OutdoorC is the mean outdoor temperature, days and months only.
	OutdoorC *float64
}

// EnergyMeter is one metric a site's energy is reckoned from.
type EnergyMeter struct {
	Device, Metric, Fuel, Kind, Unit string
}

// SiteEnergyReport is a site's energy over a range.
type SiteEnergyReport struct {
	Customer, Site string
	Zone           *time.Location
	Step           string
	From, To       time.Time
	Meters         []EnergyMeter
	// OutdoorDevice and OutdoorMetric are where the weather came from.
	OutdoorDevice, OutdoorMetric string
	Settings                     store.SiteEnergy
	Points                       []EnergyPoint
}

// HasGas and HasElectricity say whether the site has meters of the fuel.
func (r SiteEnergyReport) HasGas() bool         { return r.hasFuel(store.FuelGas) }
func (r SiteEnergyReport) HasElectricity() bool { return r.hasFuel(store.FuelElectricity) }

func (r SiteEnergyReport) hasFuel(f string) bool {
	return slices.ContainsFunc(r.Meters, func(m EnergyMeter) bool { return m.Fuel == f })
}

// energy is the engine, or why there is none.
func (s Scope) energy() (EnergyEngine, error) {
	if s.g.energy == nil || s.g.telemetry == nil || s.g.types == nil {
		return nil, Unavailable("energy figures are not available on this server")
	}
	return s.g.energy, nil
}

// siteZone is the zone a site's days are reckoned in: its own, else the
// server's, else the calendars' default.
func (s Scope) siteZone(site store.Site) *time.Location {
	name := site.TimeZone
	if name == "" && s.g.zone != nil {
		return s.g.zone
	}
	if name == "" {
		name = scheduler.DefaultTimeZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// SiteEnergySettings returns a site's energy settings.
func (s Scope) SiteEnergySettings(customer, site string) (store.SiteEnergy, error) {
	if _, err := s.Site(customer, site); err != nil {
		return store.SiteEnergy{}, err
	}
	return s.g.store.GetSiteEnergy(customer, site)
}

// SiteEnergyChange is a change of a site's energy settings; nil fields
// stay. A pointer to a negative number clears a number.
type SiteEnergyChange struct {
	FloorAreaM2, GasPrice, ElectricityPrice, GasCO2, ElectricityCO2 *float64
	Currency, OutdoorDevice                                         *string
}

// UpdateSiteEnergySettings changes a site's energy settings; operators
// and a customer's admins may.
func (s Scope) UpdateSiteEnergySettings(customer, site string, c SiteEnergyChange) (store.SiteEnergy, error) {
	if _, err := s.Site(customer, site); err != nil {
		return store.SiteEnergy{}, err
	}
	if err := s.requireSiteAdmin(); err != nil {
		return store.SiteEnergy{}, err
	}
	if c.OutdoorDevice != nil && *c.OutdoorDevice != "" {
		d, err := s.g.registry.Device(*c.OutdoorDevice)
		if err != nil || d.Customer != customer || d.Site != site {
			return store.SiteEnergy{}, Invalid(`field "outdoor_device" %q: no device of that name at this site`, *c.OutdoorDevice)
		}
	}
	set := func(dst **float64, v *float64) {
		switch {
		case v == nil:
		case *v < 0:
			*dst = nil
		default:
			x := *v
			*dst = &x
		}
	}
	return s.g.store.UpdateSiteEnergy(customer, site, func(e *store.SiteEnergy) error {
		set(&e.FloorAreaM2, c.FloorAreaM2)
		set(&e.GasPrice, c.GasPrice)
		set(&e.ElectricityPrice, c.ElectricityPrice)
		set(&e.GasCO2, c.GasCO2)
		set(&e.ElectricityCO2, c.ElectricityCO2)
		if c.Currency != nil {
			e.Currency = *c.Currency
		}
		if c.OutdoorDevice != nil {
			e.OutdoorDevice = *c.OutdoorDevice
		}
		return nil
	})
}

// requireSiteAdmin lets operators who may change settings set a site's
// energy settings and fit its baseline: the energy-service provider
// measures the savings it is paid for, as IPMVP has it; customers read
// them.
func (s Scope) requireSiteAdmin() error {
	if err := s.operatorOnly("changing a site's energy settings or baseline"); err != nil {
		return err
	}
	if !s.p.MayChangeSettings() {
		return Forbidden("changing a site's energy settings or baseline needs an operator who may change settings")
	}
	return nil
}

// siteMeters lists the energy metrics of a site's devices and where its
// outdoor temperature comes from.
func (s Scope) siteMeters(customer, site string, set store.SiteEnergy) (meters []EnergyMeter, outDev, outMetric string, devices []string, err error) {
	ds, err := s.g.registry.Devices(store.DeviceFilter{Customer: customer, Site: site})
	if err != nil {
		return nil, "", "", nil, err
	}
	types := map[string]store.DeviceType{}
	for _, d := range ds {
		devices = append(devices, d.Name)
		t, ok := types[d.Type]
		if !ok && d.Type != "" {
			t, err = s.g.types.Get(d.Type)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, "", "", nil, err
			}
			types[d.Type] = t
		}
		for _, m := range t.Metrics {
			switch {
			case m.Energy != nil:
				meters = append(meters, EnergyMeter{Device: d.Name, Metric: m.Name, Fuel: m.Energy.Fuel, Kind: m.Energy.Kind, Unit: m.Unit})
			case m.Outdoor && (set.OutdoorDevice == d.Name || set.OutdoorDevice == "" && outDev == ""):
				outDev, outMetric = d.Name, m.Name
			}
		}
	}
	return meters, outDev, outMetric, devices, nil
}

// SiteEnergy reckons a site's energy use per step with the engine, and,
// for days and months with an accepted baseline, the baseline adjusted
// to the weather and the energy avoided.
func (s Scope) SiteEnergy(ctx context.Context, customer, siteName string, q EnergyQuery) (SiteEnergyReport, error) {
	site, err := s.Site(customer, siteName)
	if err != nil {
		return SiteEnergyReport{}, err
	}
	if _, err := s.energy(); err != nil {
		return SiteEnergyReport{}, err
	}
	set, err := s.g.store.GetSiteEnergy(customer, siteName)
	if err != nil {
		return SiteEnergyReport{}, err
	}
	loc := s.siteZone(site)
	from, to, err := energyRange(q, s.g.now(), loc)
	if err != nil {
		return SiteEnergyReport{}, err
	}
	if q.Step == "" {
		q.Step = EnergyDay
	}
	meters, outDev, outMetric, _, err := s.siteMeters(customer, siteName, set)
	if err != nil {
		return SiteEnergyReport{}, err
	}
	rep := SiteEnergyReport{Customer: customer, Site: siteName, Zone: loc, Step: q.Step, From: from, To: to,
		Meters: meters, OutdoorDevice: outDev, OutdoorMetric: outMetric, Settings: set}
	starts := stepStarts(from, to, q.Step)
	if len(starts) > maxEnergyPoints {
		return SiteEnergyReport{}, Invalid("the range has %d steps of %s; at most %d are answered", len(starts), q.Step, maxEnergyPoints)
	}
	hours, err := s.hourlyUse(ctx, customer, siteName, meters, from, to)
	if err != nil {
		return SiteEnergyReport{}, err
	}
	rep.Points = make([]EnergyPoint, len(starts))
	for i, t := range starts {
		rep.Points[i].Time = t
	}
	idx := func(t time.Time) int {
		i, _ := slices.BinarySearchFunc(starts, t, func(a, b time.Time) int { return a.Compare(b) })
		if i < len(starts) && starts[i].Equal(t) {
			return i
		}
		return i - 1
	}
	for _, h := range hours {
		i := idx(h.start)
		if i < 0 || i >= len(starts) {
			continue
		}
		p := &rep.Points[i]
		dst := &p.GasM3
		if h.fuel == store.FuelElectricity {
			dst = &p.ElectricityKWh
		}
		if *dst == nil {
			*dst = new(float64)
		}
		**dst += h.value
	}
	if q.Step != EnergyHour && set.Baseline != nil && set.Baseline.Accepted && rep.HasGas() {
		if err := s.addBaseline(ctx, &rep, customer); err != nil {
			return SiteEnergyReport{}, err
		}
	}
	return rep, nil
}

// energyRange cuts a query's range to the step's boundaries in loc.
func energyRange(q EnergyQuery, now time.Time, loc *time.Location) (time.Time, time.Time, error) {
	switch q.Step {
	case "", EnergyHour, EnergyDay, EnergyMonth:
	default:
		return time.Time{}, time.Time{}, Invalid(`parameter "step" %q: %q, %q or %q is accepted`, q.Step, EnergyHour, EnergyDay, EnergyMonth)
	}
	to := q.To
	if to.IsZero() {
		to = now
	}
	from := q.From
	to = to.In(loc)
	if from.IsZero() {
		if q.Step == EnergyMonth {
			from = to.AddDate(-1, 0, 0)
		} else {
			from = to.AddDate(0, 0, -7)
		}
	}
	from = from.In(loc)
	switch q.Step {
	case EnergyHour:
		from = from.Truncate(time.Hour)
	case EnergyMonth:
		from = time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, loc)
	default:
		from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	}
	if !to.After(from) {
		return time.Time{}, time.Time{}, Invalid(`the range ends (%s) before it starts (%s)`, FormatTime(to), FormatTime(from))
	}
	if to.Sub(from) > maxEnergyHours*time.Hour {
		return time.Time{}, time.Time{}, Invalid("the range spans %d days; at most %d are answered", int(to.Sub(from).Hours()/24), maxEnergyHours/24)
	}
	return from, to, nil
}

// stepStarts lists the starts of the steps from from to to in from's
// zone: hours, local days or local months.
func stepStarts(from, to time.Time, step string) []time.Time {
	var out []time.Time
	for t := from; t.Before(to); t = stepEnd(t, step) {
		out = append(out, t)
		if len(out) > maxEnergyPoints {
			break
		}
	}
	return out
}

// stepEnd is the start of the step after the one starting at t.
func stepEnd(t time.Time, step string) time.Time {
	switch step {
	case EnergyHour:
		return t.Add(time.Hour)
	case EnergyMonth:
		return t.AddDate(0, 1, 0)
	default:
		return t.AddDate(0, 0, 1)
	}
}

// hourUse is one device's use of one fuel in the hour starting at start.
type hourUse struct {
	start time.Time
	fuel  string
	value float64
}

// hourlyUse asks the engine for each metric's use per hour from from to
// to, in chunks, keeping the devices that declare the metric.
func (s Scope) hourlyUse(ctx context.Context, customer, site string, meters []EnergyMeter, from, to time.Time) ([]hourUse, error) {
	type group struct{ metric, kind, fuel string }
	byGroup := map[group]map[string]bool{}
	var order []group
	for _, m := range meters {
		g := group{m.Metric, m.Kind, m.Fuel}
		if byGroup[g] == nil {
			byGroup[g] = map[string]bool{}
			order = append(order, g)
		}
		byGroup[g][m.Device] = true
	}
	var out []hourUse
	for _, g := range order {
		for start := from; start.Before(to); start = start.Add(energyChunk) {
			end := minTime(start.Add(energyChunk), to)
			// The first step ends an hour after the start; a last hour
			// cut short by to is answered as far as it goes.
			last := end
			if d := end.Sub(start) % time.Hour; d != 0 {
				last = end.Add(time.Hour - d)
			}
			// The engine reads samples from a little before its first
			// step: a counter's last reading before a gap that spans the
			// range's start would be out of its sight, and the use across
			// the gap lost. Asking from a day earlier keeps it in sight
			// for gaps up to a day; the steps before start are dropped.
			series, err := s.g.energy.Use(ctx, EnergyUseQuery{Customer: customer, Site: site, Metric: g.metric, Kind: g.kind,
				Start: start.Add(time.Hour - energyLead), End: last, Step: time.Hour})
			if err != nil {
				return nil, err
			}
			for _, sr := range series {
				if !byGroup[g][sr.Device] {
					continue
				}
				for i, ts := range sr.Timestamps {
					if ts <= start.UnixMilli() {
						continue
					}
					v := sr.Values[i]
					if math.IsNaN(v) || math.IsInf(v, 0) {
						continue
					}
					out = append(out, hourUse{start: time.UnixMilli(ts).Add(-time.Hour).In(from.Location()), fuel: g.fuel, value: v})
				}
			}
		}
	}
	return out, nil
}

// dailyOutdoor returns the mean outdoor temperature of each local day from
// from to to, by date; days without readings are absent.
func (s Scope) dailyOutdoor(ctx context.Context, customer, dev, metric string, from, to time.Time) (map[string]float64, error) {
	if dev == "" {
		return nil, nil
	}
	sums := map[string][2]float64{}
	for start := from; start.Before(to); start = start.Add(energyChunk) {
		end := minTime(start.Add(energyChunk), to)
		pts, err := s.g.telemetry.Downsample(ctx, DownsampleQuery{Device: dev, Customer: customer, Metric: metric, Start: start, End: end, Step: time.Hour})
		if err != nil {
			return nil, err
		}
		for _, p := range pts {
			day := time.UnixMilli(p.Timestamp).Add(-time.Hour).In(from.Location()).Format(time.DateOnly)
			if math.IsNaN(p.Avg) {
				continue
			}
			v := sums[day]
			sums[day] = [2]float64{v[0] + p.Avg, v[1] + 1}
		}
	}
	out := make(map[string]float64, len(sums))
	for d, v := range sums {
		out[d] = v[0] / v[1]
	}
	return out, nil
}

// dayTypes resolves each date from from to to with the operating calendar
// of the site's first device that has one; without one, Saturdays and
// Sundays are "weekend" and other days "weekday".
func (s Scope) dayTypes(customer, site string, from, to time.Time) (func(date time.Time) string, error) {
	if s.g.scheduler != nil {
		ds, err := s.g.registry.Devices(store.DeviceFilter{Customer: customer, Site: site})
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if c, ok := s.g.scheduler.CalendarOf(d.Name); ok {
				return func(date time.Time) string { return c.Resolve(date).DayType }, nil
			}
		}
	}
	return func(date time.Time) string {
		if wd := date.Weekday(); wd == time.Saturday || wd == time.Sunday {
			return "weekend"
		}
		return "weekday"
	}, nil
}

// SiteDays returns a site's daily gas use, mean outdoor temperature and
// day type from from to to (local dates, to included).
func (s Scope) siteDays(ctx context.Context, customer, site string, from, to time.Time) ([]energy.Day, error) {
	rep, err := s.SiteEnergy(ctx, customer, site, EnergyQuery{From: from, To: to, Step: EnergyDay})
	if err != nil {
		return nil, err
	}
	outdoor, err := s.dailyOutdoor(ctx, customer, rep.OutdoorDevice, rep.OutdoorMetric, rep.From, rep.To)
	if err != nil {
		return nil, err
	}
	typeOf, err := s.dayTypes(customer, site, rep.From, rep.To)
	if err != nil {
		return nil, err
	}
	out := make([]energy.Day, 0, len(rep.Points))
	for _, p := range rep.Points {
		date := p.Time.Format(time.DateOnly)
		d := energy.Day{Date: date, DayType: typeOf(p.Time), Use: math.NaN(), OutdoorC: math.NaN()}
		if p.GasM3 != nil {
			d.Use = *p.GasM3
		}
		if t, ok := outdoor[date]; ok {
			d.OutdoorC = t
		}
		out = append(out, d)
	}
	return out, nil
}

// addBaseline fills in the baseline, avoided energy and its uncertainty
// of each day or month of rep that has gas use and weather.
func (s Scope) addBaseline(ctx context.Context, rep *SiteEnergyReport, customer string) error {
	b := rep.Settings.Baseline
	m := modelOf(b)
	outdoor, err := s.dailyOutdoor(ctx, customer, rep.OutdoorDevice, rep.OutdoorMetric, rep.From, rep.To)
	if err != nil {
		return err
	}
	typeOf, err := s.dayTypes(customer, rep.Site, rep.From, rep.To)
	if err != nil {
		return err
	}
	for i := range rep.Points {
		p := &rep.Points[i]
		// A step the range ends inside (today, this month) has only part
		// of its use: a whole step's baseline against it would overstate
		// what was avoided, so it gets none.
		end := stepEnd(p.Time, rep.Step)
		complete := !end.After(rep.To)
		var base, tsum float64
		days := 0
		for d := p.Time; d.Before(end); d = d.AddDate(0, 0, 1) {
			t, ok := outdoor[d.Format(time.DateOnly)]
			if !ok {
				complete = false
				continue
			}
			v, ok := m.Predict(typeOf(d), t)
			if !ok {
				complete = false
				continue
			}
			base += v
			tsum += t
			days++
		}
		if days > 0 {
			mean := tsum / float64(days)
			p.OutdoorC = &mean
		}
		if !complete || days == 0 || p.GasM3 == nil {
			continue
		}
		avoided := base - *p.GasM3
		unc := m.SavingsUncertainty(base, days)
		p.BaselineGasM3, p.AvoidedGasM3 = &base, &avoided
		if !math.IsNaN(unc) {
			p.AvoidedGasM3Uncertainty = &unc
		}
	}
	return nil
}

func modelOf(b *store.Baseline) energy.Model {
	return energy.Model{HeatingBaseC: b.HeatingBaseC, CoolingBaseC: b.CoolingBaseC, Intercepts: b.Intercepts,
		PerHDD: b.PerHDD, PerCDD: b.PerCDD, Days: b.Days, Params: b.Params, R2: b.R2, CVRMSE: b.CVRMSE, NMBE: b.NMBE,
		Autocorrelation: b.Autocorrelation, MeanDaily: b.MeanDaily, Accepted: b.Accepted, Refusal: b.Refusal}
}

// FitSiteBaseline fits a site's baseline on the days from from to to
// (local dates, both included) and stores it, accepted or refused: a
// refused model is kept with the statistic that failed, and no savings
// are reckoned from it.
func (s Scope) FitSiteBaseline(ctx context.Context, customer, site string, from, to time.Time) (store.SiteEnergy, error) {
	st, err := s.Site(customer, site)
	if err != nil {
		return store.SiteEnergy{}, err
	}
	if err := s.requireSiteAdmin(); err != nil {
		return store.SiteEnergy{}, err
	}
	if _, err := s.energy(); err != nil {
		return store.SiteEnergy{}, err
	}
	loc := s.siteZone(st)
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	end := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, 1)
	if !end.After(from) {
		return store.SiteEnergy{}, Invalid("the baseline period ends (%s) before it starts (%s)", to.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	if end.After(s.g.now()) {
		return store.SiteEnergy{}, Invalid("the baseline period ends on %s, a day not yet over; a baseline is fitted on past days", to.Format(time.DateOnly))
	}
	if end.Sub(from) > 3*366*24*time.Hour {
		return store.SiteEnergy{}, Invalid("the baseline period spans more than three years")
	}
	days, err := s.siteDays(ctx, customer, site, from, end)
	if err != nil {
		return store.SiteEnergy{}, err
	}
	m, err := energy.Fit(days, energy.DailyLimits)
	if err != nil {
		return store.SiteEnergy{}, Invalid("the baseline cannot be fitted: %v", err)
	}
	b := &store.Baseline{From: from.Format(time.DateOnly), To: end.AddDate(0, 0, -1).Format(time.DateOnly),
		HeatingBaseC: m.HeatingBaseC, CoolingBaseC: m.CoolingBaseC, Intercepts: m.Intercepts, PerHDD: m.PerHDD, PerCDD: m.PerCDD,
		Days: m.Days, Params: m.Params, R2: m.R2, CVRMSE: m.CVRMSE, NMBE: m.NMBE, Autocorrelation: m.Autocorrelation,
		MeanDaily: m.MeanDaily, Accepted: m.Accepted, Refusal: m.Refusal, FittedAt: s.g.now().UTC()}
	return s.g.store.UpdateSiteEnergy(customer, site, func(e *store.SiteEnergy) error {
		e.Baseline = b
		return nil
	})
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
