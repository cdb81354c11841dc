// Package modbus is the client side of Modbus in Hearth: register maps that
// say what a device's registers mean, the codec that turns registers into
// values and back, and the client and poller that read and write devices
// over Modbus TCP or RTU on a serial line. The gateway agent uses it to
// bring PLCs and controllers onto MQTT; Hearth's server uses it, with the
// same maps, to poll Modbus TCP equipment on its own LAN.
//
// # Register maps
//
// A map is YAML (reference: docs/modbus.md): a source (tcp: HOST:PORT, or
// rtu: with the serial line's device, baud, data bits, parity and stop
// bits; a unit id, a timeout and a default poll interval) and a list of
// points. A point is a telemetry metric, a shadow setting or both; it names
// its table (holding, input, coil, discrete), its 0-based address, its type
// (int16, uint16, int32, uint32, float32; coils and discrete inputs are
// bits), the order of its words and bytes, a scale and offset (value = raw
// × scale + offset) and its unit. Settings may be writable, within a
// minimum and maximum or by name through values ({off: 0, cooling: 1}).
//
// Parse reads a file, ParseNode a yaml.Node that is one section of a larger
// file (the agent's configuration), so that lines are that file's. Both
// refuse unknown keys, bad values and the mistakes a map can be checked
// for (duplicate names, registers past 65535 or shared by two points, a
// writable input register, a minimum above the maximum, a zero scale) and
// report every problem at once as a *MapError, each with its line:
//
//	chiller.yaml:14: point chw_supply_c: type "int17" is not one of int16, uint16, int32, uint32, float32
//
// # Reading and writing
//
// A Client holds one connection to a map's source and sends one request
// at a time (goburrow/modbus, which is not safe for concurrent use, for
// the protocol; goburrow/serial for the line). Read groups the points asked
// for into as few requests as the limits allow (contiguous registers of
// one unit and table, up to 125 registers or 2000 bits) and returns a
// Round: a Reading for each point read, a *Fault for each request that
// failed. Faults are classified (FaultTimeout, FaultException with its
// code and name, FaultCRC, FaultConnect, FaultLost, FaultInvalid) and never
// stop the other requests of a round, except that a round does not go on
// knocking at a unit that timed out or a source it cannot connect to. An
// exception to a request of several points is narrowed down to the point
// that causes it, which is read alone from then on. Write checks a value
// against the setting's rules (a *RefusedError if it breaks one, with
// nothing sent), writes it and reads it back, returning what the device
// holds. Stats are counters to export as metrics.
//
// A Poller reads each point at its interval and hands every Round to a
// callback; it has Start and Stop, and Write goes between its rounds.
//
// The package does not publish anything, hold shadows or know MQTT: it
// gives readings and takes settings, and its callers carry them. It starts
// no goroutine except a Poller's, keeps no state outside its values, and
// logs only connection changes, never a fault it also reports. It is a
// library of its own, outside the server's device model, because both
// sides use it: it imports nothing of Hearth's server (device, store,
// broker, web), so that the gateway agent links none of it.
package modbus
