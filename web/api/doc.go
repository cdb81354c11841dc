// Package api serves Hearth's machine interfaces over HTTP: the JSON REST API
// under /api/v1 (customers, sites, devices and their credentials, telemetry,
// device shadows and their history, API tokens, users, single sign-on,
// register maps, the audit log) and the Prometheus-compatible query API
// under /prometheus/api/v1 that Grafana reads as a data source. The JSON
// API is described by an OpenAPI 3.1 document, openapi.yaml, served as
// JSON at /api/v1/openapi.json without a token; tests hold every route and
// every answer to it, and the Go client in apiclient is generated from it.
//
// Every handler decodes the request, makes one call to the gate (which
// decides who may do it, then does it) and encodes the answer; the router
// decides nothing about access. Handler authenticates API tokens (Bearer,
// or the password of Basic authentication); LocalHandler serves the same
// routes as the local operator for the admin socket, where file
// permissions are the authentication. Every error is written as
// {"error":{"code":…,"message":…}} from one function, writeError, as
// gate.Describe decides.
//
// Telemetry history is asked for one metric at a time:
// GET /api/v1/devices/{name}/telemetry?metric=M answers
// {"device","metric","from","to","step","points":[{"ts","avg","min","max"}]};
// several metric parameters are refused, so the answer has one shape.
package api
