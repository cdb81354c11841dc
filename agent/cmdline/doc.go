// Package cmdline is the gateway agent's command line: the one code path
// behind both `hearth agent` (in Hearth's own binary) and the small
// hearth-agent binary for gateways (cmd/hearth-agent). It reads the flags
// (each also a HEARTH_* environment variable), checks the configuration
// file and its register map in one pass, and runs the agent with a Modbus
// client until it is stopped.
//
// It only wires: the agent's behaviour is package agent's, the Modbus work
// package modbus's and agent/equipment joins the two. Like them it imports
// nothing of Hearth's server, so that a gateway binary built from it links
// no store, no time-series engine and no JSON-schema library.
package cmdline
