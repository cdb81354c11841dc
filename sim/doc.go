// Package sim simulates devices against an MQTT broker: a fleet of devices
// that behave like real equipment (StartFleet: readings from the physics
// models of sim/model, settings kept in their shadows, the daily operating
// program followed, back-fill after an outage), and a load generator that
// measures how many telemetry messages a broker takes and how quickly it
// acknowledges them, and how quickly Hearth answers shadow updates.
//
// RunLoad connects many devices, each with its own credentials (a client
// certificate, a secret or both, exactly as Hearth provisions them), and
// publishes Hearth's telemetry at a fixed total rate with QoS 1 for a
// bounded time. Latency is measured from writing a PUBLISH to reading its
// PUBACK and kept in a fixed-size histogram, so a long run costs no more
// memory than a short one.
//
// The package speaks MQTT 3.1.1 itself instead of using a client library:
// a load tool needs only CONNECT, PUBLISH, PUBACK, SUBSCRIBE, PINGREQ and
// DISCONNECT, and it must see the moment a PUBLISH is written, which a
// library's token hides behind its own queues. At a paced 10,000 msgs/s
// from 1,000 TLS devices eclipse/paho.mqtt.golang costs about the same CPU,
// because system calls dominate; unpaced, where the generator must not be
// what limits the measurement, paho needed about 1.5 times the CPU per
// message and reached about three quarters of the rate (BenchmarkPublish).
//
// RunShadowLoad simulates devices that keep their settings in a shadow
// through the AWS IoT shadow topics: every device subscribes to its
// update/accepted, update/rejected and update/delta topics and publishes a
// reported update at a fixed interval, while an API client PATCHes desired
// values. It measures two round trips,
// update → accepted (matched by clientToken) and PATCH → delta (matched by
// the desired value), each in its own histogram.
//
// Provision creates the devices through Hearth's HTTP API, and
// SaveCredentials and LoadCredentials keep their credentials between runs,
// because the API hands out a device's secret and key only once. For runs
// against a plain broker such as mosquitto, CA is a small certificate
// authority of the load generator's own (LoadOrCreateCA, IssueServer,
// IssueCredentials) whose certificates have the shape of Hearth's, and
// Count subscribes and counts what the broker delivers. Query reads back
// through Hearth's Prometheus API what was stored.
//
// The package connects only where it is told to, never listens, and keeps
// no state between calls. It is a program apart from the server: of Hearth
// it imports only package protocol (names, topics, documents) and its own
// sub-packages, never the server's device model, store or broker, and it
// talks to Hearth only over the network, as a device or an API client
// would.
package sim
