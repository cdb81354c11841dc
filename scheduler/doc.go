// Package scheduler runs yearly operating calendars: it says what program
// each device runs on any date (from day types, a weekly pattern,
// seasons, public holidays, closures and exceptions, strongest first:
// exception, closure, holiday, season, weekly), writes each device's
// program of the day to its classic shadow's desired.program at the
// calendar's local push time through the shadow service (recorded as the
// scheduler), and checks that the device took it: at once when the device
// reports it, and at checks that back off, sending it again while the
// device is online; a device that is away is checked when it returns.
// What happens to each device's push of each day is kept in the store, so
// a restart resumes pending checks and catches up a push time it missed; a
// push that fails for good is an event on the bus.
//
// Calendars live in the store; the gate checks who may change them and
// tells the scheduler. The scheduler knows nothing of MQTT or HTTP: it
// reaches devices through the shadow service, presence and the event bus.
// Its clock comes from outside, so tests move it through days, a new year
// and daylight-saving changes.
package scheduler
