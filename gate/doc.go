// Package gate is the one way into Hearth's state for people and API
// clients: every operation a person or an API token may do, on the REST
// API, the pages and the command line alike. A Scope, made for one
// Principal, decides who may do an operation (role, access level, tenancy)
// and then does it through the device registry, the shadow service, the
// device types, the store and the telemetry engine. Channels decode a
// request, make one call to a Scope and encode the answer; Describe is the
// one place that decides how a refusal is answered, so a page and a REST
// request obey the same rules and give the same messages.
//
// Tenancy: a customer principal sees only its own customer's records, and
// another customer's record answers exactly like one that does not exist.
// Visibility is decided before the role, so a refusal never tells a
// customer that another customer's record exists.
//
// The gate knows nothing of HTTP routing, sessions or templates (the web
// packages own those), and nothing of MQTT (the broker): it never imports
// them. It reaches telemetry through the Telemetry interface it declares,
// so it does not link the engine. Later parts (the scheduler, alarms,
// jobs) add their operations here.
package gate
