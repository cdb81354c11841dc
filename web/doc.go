// Package web is the root of Hearth's HTTP side: the pages customers and
// operators use in a browser, and the interfaces machines use. Its
// sub-packages hold the pieces:
//
//   - web/api: the JSON REST API under /api/v1 and the Prometheus-compatible
//     query API under /prometheus that Grafana reads;
//   - web/ui: the pages (templ, htmx), sign-in and sessions;
//   - web/auth: the OpenID Connect relying party of single sign-on;
//   - web/audit: the middleware that writes operators' changes to the
//     audit log, for the API and the pages alike;
//   - web/export: files both hand out (telemetry as CSV).
//
// The web tree is HTTP only: every handler decodes a request, makes one
// call to the gate (which decides who may do it, then does it) and encodes
// the answer. It reads and changes Hearth's state only through the gate;
// it never touches the broker, the poller, the Modbus codec, the scheduler
// or the telemetry engine (server/deps_test.go keeps it so).
package web
