// Package web is the root of Hearth's HTTP side: the pages customers and
// operators use in a browser, and the interfaces machines use. Its
// sub-packages hold the pieces:
//
//   - web/api: the JSON REST API under /api/v1 and the Prometheus-compatible
//     query API under /prometheus that Grafana reads;
//   - web/auth: password hashing and API token primitives shared by every
//     way of signing in.
//
// The web tree reads and changes Hearth's state only through the device
// registry, the store and small interfaces it declares itself; it never
// touches the broker, the scheduler or the telemetry engine directly.
package web
