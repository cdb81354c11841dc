// Package shadow holds the semantics of device shadows as AWS IoT Core's
// Device Shadow service defines them, as pure functions: parsing an update
// request, merging it into the stored document, computing the delta, and
// encoding the accepted, delta, documents, get, delete and error messages.
//
// Firmware written with AWS IoT Device SDKs talks to Hearth unchanged, so the
// wire format and the merge rules follow AWS's documentation ("Device Shadow
// service documents", "Device Shadow MQTT topics", "Device Shadow error
// messages"). Where AWS does not document a behaviour, the choice made here
// is written on the function that makes it.
//
// The package does no I/O, keeps no state and never reads the clock: the
// caller passes the time in. It also parses the MQTT request topics
// (ParseTopic), whose names and thing-name rule are package protocol's;
// storage, publishing and history records are built on top of it in
// package device. Classic and named shadows share these
// semantics; only their names differ (see ValidName).
package shadow
