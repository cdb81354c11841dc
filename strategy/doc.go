// Package strategy runs the energy-saving strategies a site or a device
// switches on: the chilled- and hot-water set-point reset, CO2-based
// demand-controlled ventilation and optimum start. It watches the event
// bus's telemetry (off the ingest path, like the alarm engine), applies
// the control laws of package protocol/control at most once per interval
// per device, bounds what they ask for by the device type's settings, and
// writes it through the shadow service as actor "strategy:NAME", so that
// the change is checked, recorded in the shadow's history and sent to the
// device like any other.
//
// People win: when a setting a strategy wrote has since been changed by
// someone else, the strategy yields and leaves that setting alone until
// its own value would change (the next strategy change); then it writes
// again. What each strategy did and yielded to is kept in the store's
// strategy changes, listed on the site's and device's pages.
//
// It does not decide who may switch a strategy (the gate does) and it
// never talks to a device except through the shadow service.
package strategy
