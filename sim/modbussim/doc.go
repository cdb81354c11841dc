// Package modbussim is a simulated Modbus device: a Modbus TCP slave (built
// on simonvetter/modbus's server) whose registers follow the physics models
// of package sim/model, for `hearth simulate modbus`, for the tests of
// package modbus, of the gateway agent and of Hearth's direct polling, and
// for trying a register map without a plant room.
//
// Two profiles play real equipment, each laid out by its register map,
// which ships with the package (ChillerMap, IAQMap) so that what the
// simulator serves and what a client reads are the same file:
//
//   - chiller: an absorption chiller-heater's controller. Holding
//     registers hold the mode (off, cooling, heating) and the chilled and
//     hot water set-points, which the model follows; a coil is the remote
//     start; a discrete input says whether it runs; input registers hold
//     the water temperatures, load, fault code, outside temperature, gas
//     flow and a gas meter.
//   - iaq: an RS-485 CO2, temperature and humidity sensor, with an uptime
//     counter, a CO2 alarm relay and its threshold, and a temperature
//     calibration offset.
//
// Between them the maps use every register type and both word and byte
// orders. A third profile, bare, is a register bank without a device, that
// tests fill themselves.
//
// The model steps on the simulator's clock (real time unless a test gives
// its own) when it has moved on by at least a second, so one poll round
// reads one step. Writes are checked as the device's controller would:
// registers that are not writable answer exception 2, values out of the
// map's range or values exception 3, and a refused write changes nothing.
//
// For tests there is fault injection: an exception for chosen addresses
// (Fail), answers that come late (SetDelay), bad checksums on a serial
// line (CorruptCRC), and Stop and Start for a device that goes away and
// comes back at the same address. ServeRTU serves the same device as an RTU
// slave on a serial line or a pseudo-terminal.
//
// The simulator only listens where it is told; it never connects anywhere.
// It is part of the simulator, a program apart from the server: it imports
// the register maps of package modbus and the physics of sim/model, and
// nothing of Hearth's server.
package modbussim
