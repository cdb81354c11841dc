// Command hearth is a self-hosted IoT platform for energy services: an MQTT
// broker with device shadows, a time-series store, an API and pages, in one
// binary. See the README.
package main

import (
	"os"
	// The pages show times in a configured zone (--timezone); the
	// container image has no zoneinfo, so the binary carries it.
	_ "time/tzdata"

	"github.com/hearthiot/hearth/server/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}
