// Package remotewrite mirrors the stored telemetry to Prometheus remote
// write receivers (a VictoriaMetrics cluster's vminsert, a single-node
// VictoriaMetrics, Prometheus, Grafana Mimir): each remote reads the
// telemetry write-ahead log from its own position, kept on disk, and sends
// every sample, in order, as snappy-compressed protobuf batches of the
// remote write 1.0 specification, labelled __name__, device, customer and
// site as the time-series store labels it, with the operator's extra
// labels.
//
// A remote holds the log's segments it has not sent, so a receiver that is
// down for hours loses nothing and is caught up in order; what it holds is
// bounded by a disk budget, past which its oldest segments are dropped,
// counted and reported. Server errors, 429 and network errors are retried
// with a backoff; other 4xx answers drop the batch, counted, since sending
// it again would be refused again.
//
// It knows the log and the wire format only: no device model, no event
// bus (the server hands its drops on), no VictoriaMetrics flags or
// globals.
package remotewrite
