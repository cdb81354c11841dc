// Package loadgen is the load generator, `hearth simulate load`: it drives
// package sim from a shell. It issues certificates for runs against a plain
// broker, provisions devices on Hearth, runs a bounded MQTT load of
// telemetry or of device shadow traffic, and counts what a broker delivers.
//
//	loadgen certs     -dir D -devices N            CA, server certificate, device and subscriber credentials
//	loadgen provision -api URL -creds D -devices N create devices on Hearth, save their credentials
//	loadgen run       -broker H:P -creds D         publish telemetry, print throughput and latency
//	loadgen shadow    -broker H:P -creds D -api URL  update shadows, PATCH desired values, print round trips
//	loadgen count     -broker H:P -filter F        subscribe and count deliveries
//	loadgen viewers   -api URL -ca F -email E      open live pages as signed-in browsers (sse or poll)
//
// Every flag can also be set as HEARTH_LOADGEN_<FLAG> (upper case, dashes as
// underscores), e.g. HEARTH_LOADGEN_TOKEN; a flag on the command line wins.
//
// Like package sim it is a program apart from the server: it talks to
// Hearth only over MQTT and HTTPS, and the certificates of "certs" come
// from the simulator's own CA (sim.CA), not from Hearth's. Only its tests
// start a real Hearth, in process, to run the shadow load against it.
package loadgen
