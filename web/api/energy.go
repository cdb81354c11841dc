package api

import (
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
	"github.com/hearthiot/hearth/web/export"
)

// energyRoutes mounts a site's energy routes under
// /customers/{customer}/sites/{site}.
func (a *API) energyRoutes(r chi.Router) {
	r.Get("/sites/{site}/energy", a.siteEnergy)
	r.Get("/sites/{site}/energy/settings", a.siteEnergySettings)
	r.Patch("/sites/{site}/energy/settings", a.updateSiteEnergySettings)
	r.Post("/sites/{site}/energy/baseline", a.fitSiteBaseline)
}

// energyJSON is the answer of the energy route.
type energyJSON struct {
	Customer string            `json:"customer"`
	Site     string            `json:"site"`
	TimeZone string            `json:"time_zone"`
	Step     string            `json:"step"`
	From     string            `json:"from"`
	To       string            `json:"to"`
	Points   []energyPointJSON `json:"points"`
}

type energyPointJSON struct {
	Time                    string   `json:"time"`
	GasM3                   *float64 `json:"gas_m3,omitempty"`
	ElectricityKWh          *float64 `json:"electricity_kwh,omitempty"`
	BaselineGasM3           *float64 `json:"baseline_gas_m3,omitempty"`
	AvoidedGasM3            *float64 `json:"avoided_gas_m3,omitempty"`
	AvoidedGasM3Uncertainty *float64 `json:"avoided_gas_m3_uncertainty,omitempty"`
	OutdoorC                *float64 `json:"outdoor_c,omitempty"`
}

// round3 keeps three decimals, as the CSV does.
func round3(v *float64) *float64 {
	if v == nil {
		return nil
	}
	x := math.Round(*v*1000) / 1000
	return &x
}

// siteEnergy: GET /api/v1/customers/{customer}/sites/{site}/energy. The
// site's energy per step (1h, 1d or 1mo) in its zone; format=csv (or
// Accept: text/csv) answers a CSV table.
func (a *API) siteEnergy(w http.ResponseWriter, r *http.Request) {
	customer, site, err := sitePath(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	v := r.URL.Query()
	if f := v.Get("format"); f != "" && f != "csv" && f != "json" {
		a.writeError(w, r, gate.Invalid(`parameter "format" %q: "json" (the default) and "csv" are accepted`, f))
		return
	}
	q := gate.EnergyQuery{Step: v.Get("step")}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(p.name); s != "" {
			ms, err := parseTimeParam(p.name, s)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			*p.dst = time.UnixMilli(ms).UTC()
		}
	}
	rep, err := a.scope(r).SiteEnergy(r.Context(), customer, site, q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if wantsCSV(r) {
		export.EnergyCSV(w, rep)
		return
	}
	out := energyJSON{Customer: rep.Customer, Site: rep.Site, TimeZone: rep.Zone.String(), Step: rep.Step,
		From: gate.FormatTime(rep.From), To: gate.FormatTime(rep.To), Points: make([]energyPointJSON, 0, len(rep.Points))}
	for _, p := range rep.Points {
		out.Points = append(out.Points, energyPointJSON{
			Time: p.Time.In(rep.Zone).Format(time.RFC3339), GasM3: round3(p.GasM3), ElectricityKWh: round3(p.ElectricityKWh),
			BaselineGasM3: round3(p.BaselineGasM3), AvoidedGasM3: round3(p.AvoidedGasM3),
			AvoidedGasM3Uncertainty: round3(p.AvoidedGasM3Uncertainty), OutdoorC: round3(p.OutdoorC),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// siteEnergySettingsJSON is a site's energy settings and baseline.
type siteEnergySettingsJSON struct {
	Customer         string          `json:"customer"`
	Site             string          `json:"site"`
	FloorAreaM2      *float64        `json:"floor_area_m2,omitempty"`
	Currency         string          `json:"currency,omitempty"`
	GasPrice         *float64        `json:"gas_price,omitempty"`
	ElectricityPrice *float64        `json:"electricity_price,omitempty"`
	GasCO2           *float64        `json:"gas_co2_kg_per_m3,omitempty"`
	ElectricityCO2   *float64        `json:"electricity_co2_kg_per_kwh,omitempty"`
	OutdoorDevice    string          `json:"outdoor_device,omitempty"`
	Baseline         *store.Baseline `json:"baseline,omitempty"`
}

func newSiteEnergySettingsJSON(e store.SiteEnergy) siteEnergySettingsJSON {
	return siteEnergySettingsJSON{Customer: e.Customer, Site: e.Site, FloorAreaM2: e.FloorAreaM2, Currency: e.Currency,
		GasPrice: e.GasPrice, ElectricityPrice: e.ElectricityPrice, GasCO2: e.GasCO2, ElectricityCO2: e.ElectricityCO2,
		OutdoorDevice: e.OutdoorDevice, Baseline: e.Baseline}
}

// siteEnergySettings: GET /api/v1/customers/{customer}/sites/{site}/energy/settings.
func (a *API) siteEnergySettings(w http.ResponseWriter, r *http.Request) {
	customer, site, err := sitePath(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	e, err := a.scope(r).SiteEnergySettings(customer, site)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newSiteEnergySettingsJSON(e))
}

// siteEnergyChangeRequest is a PATCH of a site's energy settings; a
// number set to null is cleared.
type siteEnergyChangeRequest struct {
	FloorAreaM2      optionalNumber `json:"floor_area_m2"`
	Currency         *string        `json:"currency"`
	GasPrice         optionalNumber `json:"gas_price"`
	ElectricityPrice optionalNumber `json:"electricity_price"`
	GasCO2           optionalNumber `json:"gas_co2_kg_per_m3"`
	ElectricityCO2   optionalNumber `json:"electricity_co2_kg_per_kwh"`
	OutdoorDevice    *string        `json:"outdoor_device"`
}

// optionalNumber tells a number, null (cleared) and absent apart.
type optionalNumber struct {
	set bool
	v   *float64
}

func (o *optionalNumber) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v < 0 {
		return gate.Invalid("%v: a number not below 0 is accepted", v)
	}
	o.v = &v
	return nil
}

// change turns o into the gate's form: nil stays, a negative number clears.
func (o optionalNumber) change() *float64 {
	if !o.set {
		return nil
	}
	if o.v == nil {
		clear := -1.0
		return &clear
	}
	return o.v
}

// updateSiteEnergySettings: PATCH /api/v1/customers/{customer}/sites/{site}/energy/settings.
func (a *API) updateSiteEnergySettings(w http.ResponseWriter, r *http.Request) {
	customer, site, err := sitePath(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req siteEnergyChangeRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	e, err := a.scope(r).UpdateSiteEnergySettings(customer, site, gate.SiteEnergyChange{
		FloorAreaM2: req.FloorAreaM2.change(), GasPrice: req.GasPrice.change(), ElectricityPrice: req.ElectricityPrice.change(),
		GasCO2: req.GasCO2.change(), ElectricityCO2: req.ElectricityCO2.change(), Currency: req.Currency, OutdoorDevice: req.OutdoorDevice,
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newSiteEnergySettingsJSON(e))
}

// baselineRequest names a baseline period, local dates both included.
type baselineRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// fitSiteBaseline: POST /api/v1/customers/{customer}/sites/{site}/energy/baseline.
// The model is stored whether accepted or refused; a refused one says
// which statistic failed.
func (a *API) fitSiteBaseline(w http.ResponseWriter, r *http.Request) {
	customer, site, err := sitePath(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req baselineRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeError(w, r, err)
		return
	}
	from, err1 := time.Parse(time.DateOnly, req.From)
	to, err2 := time.Parse(time.DateOnly, req.To)
	if err1 != nil || err2 != nil {
		a.writeError(w, r, gate.Invalid(`fields "from" and "to": dates as YYYY-MM-DD are required, got %q and %q`, req.From, req.To))
		return
	}
	e, err := a.scope(r).FitSiteBaseline(r.Context(), customer, site, from, to)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newSiteEnergySettingsJSON(e))
}
