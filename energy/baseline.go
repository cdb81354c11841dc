package energy

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Day is one day's figures: its date (YYYY-MM-DD in the site's zone), the
// operating calendar's day type, the mean outdoor temperature and the use.
type Day struct {
	Date     string
	DayType  string
	OutdoorC float64
	Use      float64
}

// Limits a baseline must meet to be a basis for savings. Guideline 14
// states CV(RMSE) and NMBE limits for monthly (15 %, ±5 %) and hourly
// (30 %, ±10 %) data; for a model of daily data Hearth takes 25 % and
// ±5 %, between the two and the monthly bias limit, as documented in
// docs/energy.md.
type Limits struct {
	MaxCVRMSE float64 // fraction
	MaxNMBE   float64 // fraction, either sign
	MinDays   int
}

// DailyLimits are the limits Hearth applies to a daily baseline model.
var DailyLimits = Limits{MaxCVRMSE: 0.25, MaxNMBE: 0.05, MinDays: 30}

// Model is a fitted baseline: use = intercept[day type] + PerHDD·HDD +
// PerCDD·CDD, with HDD = max(0, HeatingBaseC − T) and CDD = max(0, T −
// CoolingBaseC) for a day's mean outdoor temperature T.
type Model struct {
	HeatingBaseC, CoolingBaseC float64
	Intercepts                 map[string]float64
	PerHDD, PerCDD             float64
	Days, Params               int
	R2, CVRMSE, NMBE           float64
	Autocorrelation            float64 // lag-1, of the residuals
	MeanDaily                  float64
	// Accepted is whether the model met the limits; Refusal names the
	// statistic that failed, with its value and the limit.
	Accepted bool
	Refusal  string
}

// Base temperatures tried by Fit: the pair that fits best is kept, as a
// variable-base degree-day model does.
var (
	heatingBases = []float64{12, 13, 14, 15, 16, 17, 18, 19, 20}
	coolingBases = []float64{16, 17, 18, 19, 20, 21, 22, 23, 24}
)

// ErrTooFewDays is a baseline period with too few complete days.
var ErrTooFewDays = errors.New("too few days")

// Fit fits the model on days by ordinary least squares and checks it
// against limits. Days without use or temperature (NaN) are left out.
// Each base-temperature pair is fitted; the one with the smallest
// residual sum of squares among those whose degree-day coefficients are
// not negative is kept.
func Fit(days []Day, limits Limits) (Model, error) {
	days = slices.DeleteFunc(slices.Clone(days), func(d Day) bool {
		return math.IsNaN(d.Use) || math.IsNaN(d.OutdoorC) || math.IsInf(d.Use, 0) || math.IsInf(d.OutdoorC, 0)
	})
	if len(days) < max(limits.MinDays, 3) {
		return Model{}, fmt.Errorf("%w: %d days with both gas use and outdoor temperature, at least %d are needed", ErrTooFewDays, len(days), max(limits.MinDays, 3))
	}
	var types []string
	for _, d := range days {
		if !slices.Contains(types, d.DayType) {
			types = append(types, d.DayType)
		}
	}
	slices.Sort(types)
	best := Model{}
	bestSSE := math.Inf(1)
	for _, hb := range heatingBases {
		for _, cb := range coolingBases {
			if cb < hb {
				continue
			}
			m, sse, ok := fitBases(days, types, hb, cb)
			if ok && sse < bestSSE {
				best, bestSSE = m, sse
			}
		}
	}
	if math.IsInf(bestSSE, 1) {
		return Model{}, errors.New("no model could be fitted: the days' figures are degenerate")
	}
	best.check(limits)
	return best, nil
}

// fitBases fits the model for one pair of base temperatures. Degree-day
// columns that are zero on every day are left out (a baseline period
// without heating days has no heating slope).
func fitBases(days []Day, types []string, hb, cb float64) (Model, float64, bool) {
	n := len(days)
	useHDD, useCDD := false, false
	for _, d := range days {
		useHDD = useHDD || hdd(d.OutdoorC, hb) > 0
		useCDD = useCDD || cdd(d.OutdoorC, cb) > 0
	}
	p := len(types)
	col := map[string]int{}
	for i, t := range types {
		col[t] = i
	}
	hCol, cCol := -1, -1
	if useHDD {
		hCol = p
		p++
	}
	if useCDD {
		cCol = p
		p++
	}
	if n <= p {
		return Model{}, 0, false
	}
	x := mat.NewDense(n, p, nil)
	y := mat.NewVecDense(n, nil)
	for i, d := range days {
		x.Set(i, col[d.DayType], 1)
		if hCol >= 0 {
			x.Set(i, hCol, hdd(d.OutdoorC, hb))
		}
		if cCol >= 0 {
			x.Set(i, cCol, cdd(d.OutdoorC, cb))
		}
		y.SetVec(i, d.Use)
	}
	var qr mat.QR
	qr.Factorize(x)
	var beta mat.VecDense
	if err := qr.SolveVecTo(&beta, false, y); err != nil {
		return Model{}, 0, false
	}
	m := Model{HeatingBaseC: hb, CoolingBaseC: cb, Intercepts: map[string]float64{}, Days: n, Params: p}
	for i, t := range types {
		m.Intercepts[t] = beta.AtVec(i)
	}
	if hCol >= 0 {
		m.PerHDD = beta.AtVec(hCol)
	}
	if cCol >= 0 {
		m.PerCDD = beta.AtVec(cCol)
	}
	if m.PerHDD < 0 || m.PerCDD < 0 {
		return Model{}, 0, false
	}
	obs := make([]float64, n)
	res := make([]float64, n)
	var sse, sum float64
	for i, d := range days {
		pred, _ := m.Predict(d.DayType, d.OutdoorC)
		obs[i] = d.Use
		res[i] = d.Use - pred
		sse += res[i] * res[i]
		sum += res[i]
	}
	mean := stat.Mean(obs, nil)
	m.MeanDaily = mean
	var sst float64
	for _, v := range obs {
		sst += (v - mean) * (v - mean)
	}
	if sst > 0 {
		m.R2 = 1 - sse/sst
	}
	dof := float64(n - p)
	if mean != 0 {
		m.CVRMSE = math.Sqrt(sse/dof) / mean
		m.NMBE = sum / (dof * mean)
	} else {
		m.CVRMSE, m.NMBE = math.Inf(1), math.Inf(1)
	}
	m.Autocorrelation = lag1(res)
	return m, sse, true
}

// check sets Accepted, or Refusal with the first statistic that failed.
func (m *Model) check(l Limits) {
	switch {
	case !(m.MeanDaily > 0):
		m.Refusal = "mean daily use is 0: there is nothing to save against"
	case m.CVRMSE > l.MaxCVRMSE:
		m.Refusal = fmt.Sprintf("CV(RMSE) %.1f %% is above the limit of %.0f %%", 100*m.CVRMSE, 100*l.MaxCVRMSE)
	case math.Abs(m.NMBE) > l.MaxNMBE:
		m.Refusal = fmt.Sprintf("NMBE %.2f %% is beyond the limit of ±%.0f %%", 100*m.NMBE, 100*l.MaxNMBE)
	default:
		m.Accepted = true
	}
}

// Predict is the model's use on a day of a day type at a mean outdoor
// temperature; ok is false for a day type the baseline period had none
// of.
func (m Model) Predict(dayType string, outdoorC float64) (float64, bool) {
	a, ok := m.Intercepts[dayType]
	if !ok || math.IsNaN(outdoorC) {
		return math.NaN(), false
	}
	return a + m.PerHDD*hdd(outdoorC, m.HeatingBaseC) + m.PerCDD*cdd(outdoorC, m.CoolingBaseC), true
}

// Confidence is the level at which savings uncertainty is stated.
const Confidence = 0.90

// SavingsUncertainty is the absolute uncertainty, at Confidence, of
// savings reckoned over m reporting days whose adjusted baseline adds up
// to baseline: ASHRAE Guideline 14's fractional savings uncertainty
// (Reddy and Claridge's approximation) times the savings,
//
//	ΔE = t · 1.26 · CV(RMSE) · E_baseline · √( (n/n′) · (1 + 2/n′) · 1/m )
//
// with n the baseline days, n′ = n·(1−ρ)/(1+ρ) for the residuals' lag-1
// autocorrelation ρ, and t Student's t for n − p degrees of freedom.
func (m Model) SavingsUncertainty(baseline float64, days int) float64 {
	if days <= 0 || m.Days <= m.Params {
		return math.NaN()
	}
	n := float64(m.Days)
	nEff := n
	if rho := m.Autocorrelation; rho > 0 && rho < 1 {
		nEff = n * (1 - rho) / (1 + rho)
	}
	nEff = max(nEff, 1)
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(m.Days - m.Params)}.Quantile(1 - (1-Confidence)/2)
	return t * 1.26 * m.CVRMSE * math.Abs(baseline) * math.Sqrt((n/nEff)*(1+2/nEff)/float64(days))
}

func hdd(t, base float64) float64 { return math.Max(0, base-t) }
func cdd(t, base float64) float64 { return math.Max(0, t-base) }

// lag1 is the lag-1 autocorrelation of xs.
func lag1(xs []float64) float64 {
	if len(xs) < 3 {
		return 0
	}
	mean := stat.Mean(xs, nil)
	var num, den float64
	for i, v := range xs {
		den += (v - mean) * (v - mean)
		if i > 0 {
			num += (v - mean) * (xs[i-1] - mean)
		}
	}
	if den == 0 {
		return 0
	}
	return num / den
}
