package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hearthiot/hearth/alarm"
	"github.com/hearthiot/hearth/sim"
	"github.com/hearthiot/hearth/store"
)

// demoFaultAfter is when the demo's hotel chiller faults after a start, so
// that an alarm is raised within the demo's first hour rather than once a
// month.
const demoFaultAfter = 20 * time.Minute

// demoRules are the alarm rules the demo customer starts with, each
// created only when missing so that changes survive a restart.
func demoRules() []store.AlarmRule {
	chiller, _ := sim.DeviceType(sim.KindChiller)
	iaq, _ := sim.DeviceType(sim.KindIAQ)
	return []store.AlarmRule{
		{ID: "demo-chiller-fault", Name: "Chiller fault", DeviceType: chiller, Severity: store.SeverityMajor,
			Condition: "fault > 0", ClearCondition: "fault == 0"},
		{ID: "demo-chilled-water", Name: "Chilled water off set-point", DeviceType: chiller, Severity: store.SeverityMinor,
			// Cooling: the hot water is not made, so it is below 35 °C.
			Condition: "running == 1 && hw_supply_c < 35 && chw_supply_c > chw_setpoint_c + 2", For: "10m",
			ClearCondition: "chw_supply_c < chw_setpoint_c + 1", ClearFor: "5m"},
		{ID: "demo-hot-water", Name: "Hot water off set-point", DeviceType: chiller, Severity: store.SeverityMinor,
			Condition: "running == 1 && hw_supply_c >= 35 && hw_supply_c < hw_setpoint_c - 5", For: "10m",
			ClearCondition: "hw_supply_c > hw_setpoint_c - 3", ClearFor: "5m"},
		{ID: "demo-co2", Name: "CO2 over 1,000 ppm", DeviceType: iaq, Severity: store.SeverityWarning,
			Condition: "co2_ppm > 1000", For: "15m", ClearCondition: "co2_ppm < 900", ClearFor: "5m"},
		{ID: "demo-chiller-offline", Name: "Chiller offline", DeviceType: chiller, Kind: alarm.KindOffline, For: "10m", Severity: store.SeverityMajor},
		{ID: "demo-sensor-offline", Name: "Sensor offline", DeviceType: iaq, Kind: alarm.KindOffline, For: "10m", Severity: store.SeverityMinor},
		{ID: "demo-schedule", Name: "Day's program not taken", DeviceType: chiller, Kind: alarm.KindSchedule, Severity: store.SeverityMinor},
	}
}

// seedDemoRules gives the demo customer its alarm rules.
func (s *Server) seedDemoRules(ctx context.Context) error {
	scope := s.gate.Scope(demoPrincipal)
	have, err := scope.AlarmRules(demoCustomer)
	if err != nil {
		return fmt.Errorf("list alarm rules: %w", err)
	}
	for _, r := range demoRules() {
		if slices.ContainsFunc(have, func(h store.AlarmRule) bool { return h.ID == r.ID }) {
			continue
		}
		r.Customer = demoCustomer
		if _, _, err := scope.PutAlarmRule(ctx, r); err != nil {
			return fmt.Errorf("create demo alarm rule %q: %w", r.ID, err)
		}
	}
	return nil
}
