// Package protocol is the part of Hearth's device protocol that the server
// and the programs that run elsewhere (the gateway agent, the simulator)
// share: which names a device may have, the topics under that name
// (telemetry and its rejections, events, shadows), and the documents both
// sides read and write on them (a device event, a telemetry sample; the
// daily operating program in package protocol/program).
//
// It is the one definition of these rules: the server's device model and
// broker apply them to what devices send, the programs build what they send
// with them. What the server alone decides (which topics a device may
// publish or subscribe to, how telemetry is decoded and stored, shadow
// semantics) stays in package device.
//
// The package is pure and small on purpose: it imports only the standard
// library, so that a gateway binary linking it carries nothing of the
// server (no store, no bbolt, no time-series engine), and it never reads
// the clock or keeps state.
package protocol
