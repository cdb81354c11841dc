// Package cli is Hearth's command line: `hearth serve` and the admin,
// health-check and load commands, their flags (each also read from a HEARTH_*
// environment variable; the flag wins) and the logger. main.go only hands
// over to Main.
package cli
