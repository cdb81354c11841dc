// Package upstream ingests from an external MQTT broker cluster (EMQX,
// HiveMQ, VerneMQ, mosquitto and its bridges) that devices connect to
// instead of Hearth's own broker. Hearth connects to it as one MQTT 5
// client (paho.golang with autopaho's reconnects) and:
//
//   - takes telemetry on hearth/things/+/telemetry through a shared
//     subscription ($share/GROUP/…), so that the boxes of one group split
//     the load: each message reaches one of them. It is stored exactly as
//     the embedded broker stores it (the same Ingester: decoding, registry
//     labels, the telemetry log; the same message rules) and acknowledged to the upstream broker
//     only once stored. A device this box does not have registered is
//     counted and dropped.
//   - answers shadow requests ($aws/things/+/shadow/…) of the devices whose
//     shadows it owns — registered here, and in its Partition — through a
//     subscription of its own, not shared: a shadow lives in one box's
//     bbolt file, so exactly one box may answer for it, whichever box took
//     the device's telemetry. Replies go back through the upstream broker
//     (Publish).
//   - keeps presence from the lifecycle events the broker publishes: AWS
//     IoT's $aws/events/presence/{connected|disconnected}/{client} and
//     EMQX's $SYS/brokers/{node}/clients/{client}/{connected|disconnected};
//     every message of a registered device moves its last seen.
//
// The package knows the device model only through small interfaces; it
// never touches the embedded broker.
package upstream
