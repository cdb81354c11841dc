// Package events is Hearth's in-process event bus: typed events about
// devices (connected, disconnected, telemetry rejected, shadow updated,
// delta pending) that rules, alarms and pages subscribe to.
//
// Publishing never blocks and never fails: the device path must not slow
// down because nobody listens or a listener is slow. Each subscriber has a
// bounded buffer; an event that does not fit is dropped for that subscriber
// alone and counted, so a slow listener loses events rather than holding up
// devices or other listeners.
package events
