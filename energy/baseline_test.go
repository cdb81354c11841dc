package energy_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/energy"
)

// synthetic makes a year of days from known parameters: a seasonal outdoor
// temperature, weekdays and weekends, and normal noise of sd m³.
func synthetic(seed uint64, sd float64) []energy.Day {
	rng := rand.New(rand.NewPCG(seed, 1))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []energy.Day
	for i := range 365 {
		d := start.AddDate(0, 0, i)
		t := 16 - 11*math.Cos(2*math.Pi*float64(i-20)/365) + 3*rng.NormFloat64()
		typ, base := "weekday", 120.0
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			typ, base = "weekend", 60.0
		}
		use := base + 9*math.Max(0, 15-t) + 14*math.Max(0, t-21) + sd*rng.NormFloat64()
		out = append(out, energy.Day{Date: d.Format(time.DateOnly), DayType: typ, OutdoorC: t, Use: use})
	}
	return out
}

// The fit recovers the parameters the days were made with: bases within
// 1 °C, slopes within 10 %, intercepts within 5 %.
func TestFitRecoversKnownParameters(t *testing.T) {
	m, err := energy.Fit(synthetic(7, 5), energy.DailyLimits)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Accepted {
		t.Fatalf("refused: %s", m.Refusal)
	}
	near := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.3f, want %.3f ± %.3f", name, got, want, tol)
		}
	}
	near("heating base", m.HeatingBaseC, 15, 1)
	near("cooling base", m.CoolingBaseC, 21, 1)
	near("per HDD", m.PerHDD, 9, 0.9)
	near("per CDD", m.PerCDD, 14, 1.4)
	near("weekday intercept", m.Intercepts["weekday"], 120, 6)
	near("weekend intercept", m.Intercepts["weekend"], 60, 3)
	if m.R2 < 0.9 || m.CVRMSE > 0.1 || math.Abs(m.NMBE) > 1e-9 {
		t.Errorf("statistics R² %.3f CV(RMSE) %.3f NMBE %.2g: want a close fit and no bias (OLS with intercepts)", m.R2, m.CVRMSE, m.NMBE)
	}
	if u := m.SavingsUncertainty(3000, 30); !(u > 0) || u > 300 {
		t.Errorf("uncertainty of a month's savings on 3000 m³: %.1f", u)
	}
}

// Noise larger than the signal fails CV(RMSE), and the refusal says so
// with the figure and the limit.
func TestFitRefusesNamingTheStatistic(t *testing.T) {
	m, err := energy.Fit(synthetic(8, 80), energy.DailyLimits)
	if err != nil {
		t.Fatal(err)
	}
	if m.Accepted || !strings.Contains(m.Refusal, "CV(RMSE)") || !strings.Contains(m.Refusal, "25 %") {
		t.Fatalf("accepted %v, refusal %q: want refused for CV(RMSE) above 25 %%", m.Accepted, m.Refusal)
	}
	if _, err := energy.Fit(synthetic(9, 5)[:10], energy.DailyLimits); err == nil || !strings.Contains(err.Error(), "at least 30") {
		t.Errorf("ten days: %v, want refused for too few days", err)
	}
}
