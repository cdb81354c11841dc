// Command hearth-agent is Hearth's gateway agent on its own, for gateways:
// it polls Modbus equipment and connects it to Hearth as one device, as
// `hearth-agent --config FILE` says. It runs the same code as `hearth agent`
// in Hearth's own binary (package agent/cmdline) but links nothing of the
// server, so it is a fraction of its size. See docs/agent.md.
package main

import (
	"os"
	"path/filepath"

	// The daily operating program names its time zone; a gateway's
	// system may have no zoneinfo, so the binary carries it.
	_ "time/tzdata"

	"github.com/hearthiot/hearth/agent/cmdline"
)

// version is the binary's version, set when it is built:
// go build -ldflags "-X main.version=1.4.0" ./cmd/hearth-agent
var version = "dev"

func main() {
	// The binary an update-agent job replaces is this one.
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		exe = ""
	}
	os.Exit(cmdline.Main(os.Args[1:], cmdline.IO{Stdout: os.Stdout, Stderr: os.Stderr, Version: version, Executable: exe}))
}
