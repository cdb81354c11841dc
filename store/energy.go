package store

import (
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketSiteEnergy holds each site's energy settings and baseline:
// customer NUL site → SiteEnergy.
const bucketSiteEnergy = "site_energy"

// createSiteEnergyBucket adds the bucket of sites' energy settings.
func createSiteEnergyBucket(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists([]byte(bucketSiteEnergy)); err != nil {
		return fmt.Errorf("create bucket %q: %w", bucketSiteEnergy, err)
	}
	return nil
}

// SiteEnergy is what a site's energy figures are reckoned with besides
// its telemetry: its floor area, prices, emission factors, where its
// outdoor temperature comes from, and its baseline model. Every field is
// optional; a figure that needs a missing one is left out.
type SiteEnergy struct {
	Customer string `json:"customer"`
	Site     string `json:"site"`
	// FloorAreaM2 is the conditioned floor area, for figures per m².
	FloorAreaM2 *float64 `json:"floor_area_m2,omitempty"`
	// Currency names the prices' currency (ISO 4217, "JPY").
	Currency string `json:"currency,omitempty"`
	// GasPrice is per m³, ElectricityPrice per kWh.
	GasPrice         *float64 `json:"gas_price,omitempty"`
	ElectricityPrice *float64 `json:"electricity_price,omitempty"`
	// GasCO2 is kg CO2 per m³ of gas, ElectricityCO2 kg CO2 per kWh.
	GasCO2         *float64 `json:"gas_co2_kg_per_m3,omitempty"`
	ElectricityCO2 *float64 `json:"electricity_co2_kg_per_kwh,omitempty"`
	// OutdoorDevice names the device whose outdoor temperature metric
	// (one its type marks as outdoor) stands for the site's weather;
	// empty takes the first such device of the site.
	OutdoorDevice string `json:"outdoor_device,omitempty"`
	// Baseline is the model fitted on the baseline period, when one was.
	Baseline  *Baseline `json:"baseline,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Baseline is a site's fitted daily gas model: use per day from the day's
// heating and cooling degree-days and its day type. Accepted is whether it
// met the statistical limits; a refused model is kept, so that people see
// why, but no savings are reckoned from it.
type Baseline struct {
	From string `json:"from"` // first day, YYYY-MM-DD in the site's zone
	To   string `json:"to"`   // last day, inclusive
	// HeatingBaseC and CoolingBaseC are the degree-days' base
	// temperatures.
	HeatingBaseC float64 `json:"heating_base_c"`
	CoolingBaseC float64 `json:"cooling_base_c"`
	// Intercepts is the use on a day without degree-days, by day type.
	Intercepts map[string]float64 `json:"intercepts"`
	// PerHDD and PerCDD are the use per heating and cooling degree-day.
	PerHDD float64 `json:"per_hdd"`
	PerCDD float64 `json:"per_cdd"`
	// Days is how many days the model was fitted on, Params its
	// parameters.
	Days   int `json:"days"`
	Params int `json:"params"`
	// R2, CVRMSE and NMBE are the fit's statistics (fractions, not per
	// cent); Autocorrelation is the lag-1 autocorrelation of its residuals.
	R2              float64 `json:"r2"`
	CVRMSE          float64 `json:"cv_rmse"`
	NMBE            float64 `json:"nmbe"`
	Autocorrelation float64 `json:"autocorrelation"`
	MeanDaily       float64 `json:"mean_daily"`
	Accepted        bool    `json:"accepted"`
	// Refusal says which statistic failed which limit, when not
	// accepted.
	Refusal  string    `json:"refusal,omitempty"`
	FittedAt time.Time `json:"fitted_at"`
}

// GetSiteEnergy returns a site's energy settings; a site without any has
// an empty record, a site that does not exist is ErrNotFound.
func (s *Store) GetSiteEnergy(customer, site string) (SiteEnergy, error) {
	out := SiteEnergy{Customer: customer, Site: site}
	err := s.db.View(func(tx *bolt.Tx) error {
		key := siteKey(customer, site)
		if tx.Bucket([]byte(bucketSites)).Get(key) == nil {
			return siteNotFound(tx, customer)
		}
		_, err := getJSON(tx.Bucket([]byte(bucketSiteEnergy)), key, &out)
		return err
	})
	if err != nil {
		return SiteEnergy{}, fmt.Errorf("get energy settings of site %q of customer %q: %w", site, customer, err)
	}
	return out, nil
}

// UpdateSiteEnergy changes a site's energy settings with fn in one
// transaction and returns them as stored.
func (s *Store) UpdateSiteEnergy(customer, site string, fn func(*SiteEnergy) error) (SiteEnergy, error) {
	var out SiteEnergy
	err := s.update(func(tx *bolt.Tx) error {
		key := siteKey(customer, site)
		if tx.Bucket([]byte(bucketSites)).Get(key) == nil {
			return siteNotFound(tx, customer)
		}
		b := tx.Bucket([]byte(bucketSiteEnergy))
		out = SiteEnergy{}
		if _, err := getJSON(b, key, &out); err != nil {
			return err
		}
		if err := fn(&out); err != nil {
			return err
		}
		out.Customer, out.Site = customer, site
		if err := checkSiteEnergy(out); err != nil {
			return err
		}
		out.UpdatedAt = now()
		return putJSON(b, key, out)
	})
	if err != nil {
		return SiteEnergy{}, fmt.Errorf("update energy settings of site %q of customer %q: %w", site, customer, err)
	}
	return out, nil
}

func checkSiteEnergy(e SiteEnergy) error {
	for _, f := range []struct {
		name string
		v    *float64
		max  float64
	}{
		{"floor_area_m2", e.FloorAreaM2, 1e7},
		{"gas_price", e.GasPrice, 1e6},
		{"electricity_price", e.ElectricityPrice, 1e6},
		{"gas_co2_kg_per_m3", e.GasCO2, 100},
		{"electricity_co2_kg_per_kwh", e.ElectricityCO2, 100},
	} {
		if f.v != nil && (math.IsNaN(*f.v) || *f.v < 0 || *f.v > f.max) {
			return fmt.Errorf("%s %v: a number from 0 to %g is accepted: %w", f.name, *f.v, f.max, ErrInvalid)
		}
	}
	if e.FloorAreaM2 != nil && *e.FloorAreaM2 == 0 {
		return fmt.Errorf("floor_area_m2 0: a floor area above 0 is accepted (leave it out when unknown): %w", ErrInvalid)
	}
	if e.Currency != "" && !isCurrency(e.Currency) {
		return fmt.Errorf("currency %q: three capital letters (ISO 4217, \"JPY\") are accepted: %w", e.Currency, ErrInvalid)
	}
	if e.OutdoorDevice != "" {
		if err := checkText("outdoor_device", e.OutdoorDevice, maxNameLen, true); err != nil {
			return err
		}
	}
	return nil
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
