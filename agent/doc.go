// Package agent is the gateway agent: it runs on a small Linux computer next
// to Modbus equipment and connects that equipment to Hearth as one device.
//
// It owns the agent's configuration file, the store-and-forward spool of
// samples on the gateway's disk, the MQTT connection to Hearth with its
// reconnect policy, the telemetry it publishes, the device events it
// raises, and the shadow side of settings: applying desired values to the
// equipment, reporting what the equipment really holds, and following the
// daily operating program while Hearth cannot be reached.
//
// It reaches the equipment only through the Equipment interface declared
// here; reading registers, decoding them and writing them belongs to the
// Modbus package behind it. It knows nothing of Hearth's server side: what
// it relies on is the device protocol (docs/device-protocol.md), whose
// names, topics and documents it takes from package protocol, the one
// package it shares with the server. It imports nothing under device/,
// store/, broker/, web/ or server/, so that the gateway binary
// (cmd/hearth-agent) links no store and no time-series engine.
package agent
