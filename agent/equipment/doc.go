// Package equipment connects the gateway agent to Modbus equipment: it
// implements the agent's Equipment interface with a register map and a
// client of package modbus, which own the registers, their
// decoding, the fault classification and the checked writes.
//
// It only translates: it adds no Modbus behaviour of its own beyond
// choosing which points are due at each poll.
package equipment
