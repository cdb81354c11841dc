// Package api serves Hearth's machine interfaces over HTTP: the JSON REST API
// under /api/v1 (customers, sites, devices and their credentials, telemetry,
// device shadows and their history, API tokens, users) and the Prometheus-compatible query API under
// /prometheus/api/v1 that Grafana reads as a data source.
//
// Every request acts as a Principal: an operator, who may do everything, or
// a customer, who may read only that customer's records. Handler
// authenticates API bearer tokens; LocalHandler serves the same routes as a
// local operator for the admin socket, where file permissions are the
// authentication. Tenancy is decided in one place per kind of record
// (scopeCustomer, scopeDevice, the device list filter, the Prometheus
// customer scope), and a customer asking for another customer's record is
// told it does not exist.
//
// The package changes state only through the device registry, the shadow
// service and the store, and reads telemetry through the Telemetry interface it declares,
// so that it never links the telemetry engine itself. It writes every error
// as {"error":{"code":…,"message":…}} from one function, writeError.
//
// Telemetry history is asked for one metric at a time:
// GET /api/v1/devices/{name}/telemetry?metric=M answers
// {"device","metric","from","to","step","points":[{"ts","avg","min","max"}]};
// several metric parameters are refused, so the answer has one shape.
package api
