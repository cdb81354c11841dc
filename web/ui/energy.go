package ui

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/energy"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/web/export"
)

// energyRoutes mounts a site's energy page and its PDF.
func (u *UI) energyRoutes(r chi.Router) {
	r.Get("/sites/{customer}/{site}/energy", u.showEnergy)
	r.Get("/sites/{customer}/{site}/energy/report.pdf", u.energyPDF)
}

// energyView is a site's energy page: the monthly report as sections, the
// same ones its PDF prints, and the links around it.
type energyView struct {
	Head                  siteHead
	SitePath, Month       string
	Prev, Next, PDF       string
	Doc                   energy.Document
	Baseline, HasBaseline bool
}

// energyMonth reads the month a request asks for (month=YYYY-MM); the
// zero time, for the site's current month, when absent. The gate reads
// the month by its year and month, in the site's zone.
func energyMonth(r *http.Request) (time.Time, error) {
	s := r.URL.Query().Get("month")
	if s == "" {
		return time.Time{}, nil
	}
	m, err := time.Parse("2006-01", s)
	if err != nil || m.Year() < 2000 || m.Year() > 2200 {
		return time.Time{}, gate.Invalid("month %.16q: a month as YYYY-MM (2026-11) is accepted", s)
	}
	return m, nil
}

// monthReport reads the month a request asks for and its report.
func (u *UI) monthReport(r *http.Request) (view, gate.MonthReport, error) {
	v := u.view(r)
	customer, site := chi.URLParam(r, "customer"), chi.URLParam(r, "site")
	sc := u.scope(r)
	st, err := sc.Site(customer, site)
	if err != nil {
		return v, gate.MonthReport{}, err
	}
	u.inSiteZone(&v, st)
	month, err := energyMonth(r)
	if err != nil {
		return v, gate.MonthReport{}, err
	}
	rep, err := sc.SiteEnergyMonth(r.Context(), customer, site, month)
	return v, rep, err
}

// showEnergy: GET /sites/{customer}/{site}/energy.
func (u *UI) showEnergy(w http.ResponseWriter, r *http.Request) {
	v, rep, err := u.monthReport(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	sitePath := "/sites/" + url.PathEscape(rep.Site.Customer) + "/" + url.PathEscape(rep.Site.Name)
	month := rep.Month.Format("2006-01")
	ev := energyView{
		Head:     siteHead{Title: cmpOr(rep.Site.DisplayName, rep.Site.Name), Address: rep.Site.Address, Zone: rep.Site.TimeZone},
		SitePath: sitePath, Month: month,
		Prev: sitePath + "/energy?month=" + rep.Month.AddDate(0, -1, 0).Format("2006-01"),
		Next: sitePath + "/energy?month=" + rep.Month.AddDate(0, 1, 0).Format("2006-01"),
		PDF:  sitePath + "/energy/report.pdf?month=" + month,
		Doc:  reportDocument(v, rep),
	}
	u.render(w, r, http.StatusOK, energyPage(v, ev))
}

// energyPDF: GET /sites/{customer}/{site}/energy/report.pdf, the monthly
// report in the reader's language.
func (u *UI) energyPDF(w http.ResponseWriter, r *http.Request) {
	v, rep, err := u.monthReport(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	err = energy.WritePDF(&buf, reportDocument(v, rep), energy.FindFont(energy.FontPaths), v.Lang != "en")
	if errors.Is(err, energy.ErrNoFont) {
		u.fail(w, r, gate.Unavailable("the report cannot be printed in this language: "+err.Error()))
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	name := export.FileName(rep.Site.Customer+"-"+rep.Site.Name+"-energy-"+rep.Month.Format("2006-01")) + ".pdf"
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// num writes v with thousands separators and d decimals; nil is "—".
func num(v *float64, d int) string {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return "—"
	}
	s := strconv.FormatFloat(math.Abs(*v), 'f', d, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if *v < 0 && s != strings.Repeat("0", len(intPart)) {
		b.WriteString("−")
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

func ptr(v float64) *float64 { return &v }

// withUnit writes v and its unit, or "—".
func withUnit(v *float64, d int, unit string) string {
	if v == nil {
		return "—"
	}
	return num(v, d) + " " + unit
}

// reportDocument is the monthly report in the reader's language: what the
// page shows and the PDF prints.
func reportDocument(v view, rep gate.MonthReport) energy.Document {
	title := cmpOr(rep.Site.DisplayName, rep.Site.Name)
	monthLabel := rep.Month.Format("2006-01")
	if v.Lang == "ja" {
		monthLabel = fmt.Sprintf("%d年%d月", rep.Month.Year(), int(rep.Month.Month()))
	}
	set := rep.Report.Settings
	cur := cmpOr(set.Currency, "")
	doc := energy.Document{
		Title:    v.T("energy.report_title", title),
		Subtitle: v.T("energy.report_subtitle", monthLabel, rep.Report.Zone.String()),
		Footer:   v.T("energy.report_footer", title, monthLabel),
	}
	// Use.
	use := energy.Section{Heading: v.T("energy.use")}
	if rep.Report.HasGas() {
		use.Rows = append(use.Rows,
			[2]string{v.T("energy.gas"), withUnit(rep.Gas, 1, "m³")},
			[2]string{v.T("energy.gas_last_year"), withUnit(rep.LastYearGas, 1, "m³")})
		if rep.Gas != nil && rep.LastYearGas != nil && *rep.LastYearGas > 0 {
			use.Rows = append(use.Rows, [2]string{v.T("energy.change"), num(ptr(100*(*rep.Gas / *rep.LastYearGas - 1)), 1) + " %"})
		}
		if rep.GasPerM2 != nil {
			use.Rows = append(use.Rows, [2]string{v.T("energy.gas_per_m2"), withUnit(rep.GasPerM2, 3, "m³/m²")})
		}
	}
	if rep.Report.HasElectricity() {
		use.Rows = append(use.Rows, [2]string{v.T("energy.electricity"), withUnit(rep.Electricity, 1, "kWh")})
		if rep.ElectricityPerM2 != nil {
			use.Rows = append(use.Rows, [2]string{v.T("energy.electricity_per_m2"), withUnit(rep.ElectricityPerM2, 2, "kWh/m²")})
		}
	}
	if rep.GasCost != nil || rep.ElectricityCost != nil {
		var total float64
		for _, c := range []*float64{rep.GasCost, rep.ElectricityCost} {
			if c != nil {
				total += *c
			}
		}
		use.Rows = append(use.Rows, [2]string{v.T("energy.cost"), withUnit(&total, 0, cur)})
	}
	if rep.CO2 != nil {
		use.Rows = append(use.Rows, [2]string{v.T("energy.co2"), withUnit(ptr(*rep.CO2/1000), 2, "t-CO2")})
	}
	if len(rep.Report.Meters) == 0 {
		use.Note = v.T("energy.no_meters")
	}
	doc.Sections = append(doc.Sections, use)
	// Savings.
	sav := energy.Section{Heading: v.T("energy.savings")}
	switch b := set.Baseline; {
	case b == nil:
		sav.Note = v.T("energy.no_baseline")
	case !b.Accepted:
		sav.Note = v.T("energy.baseline_refused", b.Refusal)
	case rep.Baseline == nil:
		sav.Note = v.T("energy.baseline_incomplete")
	default:
		sav.Rows = append(sav.Rows,
			[2]string{v.T("energy.baseline"), withUnit(rep.Baseline, 1, "m³")},
			[2]string{v.T("energy.avoided"), withUnit(rep.Avoided, 1, "m³") + " ± " + num(rep.AvoidedUncert, 1)})
		if rep.Baseline != nil && *rep.Baseline > 0 && rep.Avoided != nil {
			sav.Rows = append(sav.Rows, [2]string{v.T("energy.avoided_share"), num(ptr(100**rep.Avoided / *rep.Baseline), 1) + " %"})
		}
		if rep.SavedCost != nil {
			sav.Rows = append(sav.Rows, [2]string{v.T("energy.saved_cost"), withUnit(rep.SavedCost, 0, cur)})
		}
		if rep.CO2Avoided != nil {
			sav.Rows = append(sav.Rows, [2]string{v.T("energy.co2_avoided"), withUnit(ptr(*rep.CO2Avoided/1000), 2, "t-CO2")})
		}
		sav.Note = v.T("energy.uncertainty_note", int(energy.Confidence*100))
	}
	if b := set.Baseline; b != nil {
		verdict := v.T("energy.accepted")
		if !b.Accepted {
			verdict = v.T("energy.refused")
		}
		sav.Rows = append(sav.Rows,
			[2]string{v.T("energy.baseline_period"), b.From + " – " + b.To + " (" + strconv.Itoa(b.Days) + v.T("energy.days") + ")"},
			[2]string{"R²", num(&b.R2, 3)},
			[2]string{"CV(RMSE)", num(ptr(100*b.CVRMSE), 1) + " % (≤ " + num(ptr(100*energy.DailyLimits.MaxCVRMSE), 0) + " %)"},
			[2]string{"NMBE", num(ptr(100*b.NMBE), 2) + " % (± " + num(ptr(100*energy.DailyLimits.MaxNMBE), 0) + " %)"},
			[2]string{v.T("energy.model"), v.T("energy.model_terms", num(&b.PerHDD, 2), num(&b.HeatingBaseC, 0), num(&b.PerCDD, 2), num(&b.CoolingBaseC, 0))},
			[2]string{v.T("energy.verdict"), verdict})
	}
	doc.Sections = append(doc.Sections, sav)
	// Days and months.
	days := &energy.Bars{Unit: "m³", Legend: [2]string{v.T("energy.actual"), v.T("energy.baseline")}}
	for _, p := range rep.Report.Points {
		days.Labels = append(days.Labels, strconv.Itoa(p.Time.Day()))
		days.Values = append(days.Values, valueOr(p.GasM3))
		days.Marks = append(days.Marks, valueOr(p.BaselineGasM3))
	}
	doc.Sections = append(doc.Sections, energy.Section{Heading: v.T("energy.daily_gas"), Bars: days})
	months := &energy.Bars{Unit: "m³", Legend: [2]string{v.T("energy.actual"), v.T("energy.baseline")}}
	for _, p := range rep.Months {
		months.Labels = append(months.Labels, p.Time.Format("06-01"))
		months.Values = append(months.Values, valueOr(p.GasM3))
		months.Marks = append(months.Marks, valueOr(p.BaselineGasM3))
	}
	doc.Sections = append(doc.Sections, energy.Section{Heading: v.T("energy.monthly_gas"), Bars: months})
	// Comfort.
	com := energy.Section{Heading: v.T("energy.comfort")}
	if len(rep.Comfort) == 0 {
		com.Note = v.T("energy.no_comfort")
	} else {
		com.Table = &energy.Table{Header: []string{v.T("energy.device"), v.T("energy.hours_over", gate.CO2Limit), v.T("energy.mean_co2"), v.T("energy.peak_co2")}}
		for _, c := range rep.Comfort {
			com.Table.Rows = append(com.Table.Rows, []string{c.Device, fmt.Sprintf("%d / %d h", c.HoursOver, c.Hours),
				num(&c.MeanCO2, 0) + " ppm", num(&c.PeakCO2, 0) + " ppm"})
		}
	}
	doc.Sections = append(doc.Sections, com)
	// Alarms.
	al := energy.Section{Heading: v.T("energy.alarms")}
	if len(rep.Alarms) == 0 {
		al.Note = v.T("energy.no_alarms")
	} else {
		al.Table = &energy.Table{Header: []string{v.T("energy.device"), v.T("energy.alarm"), v.T("energy.raised"), v.T("energy.cleared")}}
		for _, a := range rep.Alarms {
			cleared := "—"
			if !a.ClearedAt.IsZero() {
				cleared = v.Time(a.ClearedAt)
			}
			al.Table.Rows = append(al.Table.Rows, []string{a.Device, cmpOr(a.RuleName, a.Rule) + " (" + a.Severity + ")", v.Time(a.RaisedAt), cleared})
		}
	}
	doc.Sections = append(doc.Sections, al)
	return doc
}

func valueOr(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// svgBar is one bar of a page's chart, in the chart's coordinates.
type svgBar struct {
	X, Y, W, H     float64
	MarkY          float64
	HasMark, HasV  bool
	Label, Title   string
	ShowLabel      bool
	LabelX, LabelY float64
}

// Chart geometry of the page's bars, in SVG units.
const (
	barChartW = 720.0
	barChartH = 160.0
)

// svgBars lays b out for the page: bars scaled to the largest value or
// mark.
func svgBars(b *energy.Bars) []svgBar {
	peak := b.Scale()
	slot := barChartW / float64(max(1, len(b.Labels)))
	out := make([]svgBar, len(b.Labels))
	for i, l := range b.Labels {
		x := float64(i) * slot
		bar := svgBar{X: x + slot*0.15, W: slot * 0.7, Label: l, LabelX: x + slot/2, LabelY: barChartH + 14,
			ShowLabel: len(b.Labels) <= 16 || i%2 == 0}
		title := l + ": "
		if v := b.Values[i]; !math.IsNaN(v) {
			bar.HasV = true
			bar.H = barChartH * v / peak
			bar.Y = barChartH - bar.H
			title += num(&v, 1) + " " + b.Unit
		} else {
			title += "—"
		}
		if i < len(b.Marks) && !math.IsNaN(b.Marks[i]) {
			bar.HasMark = true
			bar.MarkY = barChartH - barChartH*b.Marks[i]/peak
			title += " / " + b.Legend[1] + " " + num(&b.Marks[i], 1) + " " + b.Unit
		}
		bar.Title = title
		out[i] = bar
	}
	return out
}

// f1 writes an SVG coordinate.
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
