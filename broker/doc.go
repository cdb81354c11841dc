// Package broker is Hearth's embedded MQTT broker: the TLS and plain TCP
// listeners devices connect to, and the mochi-mqtt hooks that decide who may
// connect, which topics each device may use, and where telemetry goes.
//
// Every rule about names and topics comes from package device (ValidName,
// MayPublish, MaySubscribe, IsTelemetryTopic); this package applies them to
// MQTT sessions and answers with the reason codes MQTT 3.1.1 and 5 define.
// Credentials are checked through the small Authenticator interface and
// telemetry is handed to an Ingester, both declared here and implemented by
// device; the broker itself keeps no records and writes nothing to disk.
// Retained messages and persistent sessions live in memory only.
//
// A device connects with client id = its name, either with a client
// certificate issued by Hearth's CA or with username = its name and its
// secret as the password. It may publish and subscribe only under its own
// topics; telemetry on hearth/things/{name}/telemetry is stored before the
// PUBACK is sent, so an acknowledged message is a stored one, but the
// connection is read on while it is being stored (see ackQueue). Server-side
// publishes go through an Outbound, made before the broker so that the
// services the broker routes to can be built with it and handed to New;
// they bypass the topic rules, and are refused with ErrNotRunning while the
// broker does not run.
//
// Shadow requests ($aws/things/{name}/shadow[/name/{shadow}]/get|update|delete)
// go to the ShadowService in Deps and are not delivered to subscribers; the
// rest of the shadow topics (accepted, rejected, delta, documents) only the
// server publishes. A device that subscribes to its delta topic while a
// delta is pending receives it right after the SUBACK.
//
// The package must not import web, scheduler or server, and must not log a
// password or secret: CONNECT packets never reach a log line.
package broker
