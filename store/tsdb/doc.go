// Package tsdb stores telemetry in an embedded VictoriaMetrics storage and
// answers queries through VictoriaMetrics' own MetricsQL engine.
//
// It owns the time series of every device: appending samples (labelled
// __name__, device, customer and site), the latest value of every metric of
// every device, one metric of one device downsampled for a chart (minimum,
// average and maximum per step, read in one pass from the storage's search:
// Downsample), range and instant MetricsQL queries, the
// Prometheus-compatible query API that Grafana reads (restricted to one
// customer's series when asked), retention and size statistics. Callers ask
// by meaning (Latest, Downsample) and need not write MetricsQL.
//
// VictoriaMetrics is built as a program: it keeps its configuration in flags
// on flag.CommandLine and its storage, caches and logger in package-level
// variables. This package is the only place in Hearth that touches them, so
// that the rest of the program sees an ordinary value (*DB) with a
// constructor and a Close. Consequences callers must know:
//
//   - Only one DB can be open in a process at a time (Open returns
//     ErrAlreadyOpen otherwise). Open, Close and Open again on the same or
//     another directory works in one process, which tests rely on.
//   - Open sets VictoriaMetrics' flags with flag.Set and marks
//     flag.CommandLine as parsed without reading os.Args, so Hearth's own
//     command line must use its own flag.FlagSet.
//   - The memory limit for VictoriaMetrics' caches is fixed by the first Open
//     in a process; later Opens keep it.
//   - VictoriaMetrics' own log messages (warnings and errors only) are
//     forwarded to the logger given to Open.
//
// Durability: Close writes everything. A crash (or kill -9) loses the samples
// of the last few seconds that VictoriaMetrics still held in memory (it
// writes them every 5 s), and the latest-value updates since the last write
// of the latest-value file (every 10 s while values change); Latest then
// shows slightly older values until devices send again.
//
// Backups: Snapshot is the stored telemetry at one instant, taken with
// VictoriaMetrics' own snapshots (hard links, no copy) while appends and
// queries go on; StoredFiles is the same for a directory no process has
// open. Laid out as their file names say, either is a storage directory
// that opens. Open deletes snapshots an interrupted backup left behind.
//
// This package must not know about MQTT, devices' payloads, users or HTTP
// routing: it receives decoded points and already-authorised requests.
package tsdb
