package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/hearthiot/hearth"

// TestLinksNothingOfTheServer keeps the gateway binary small: it carries
// the agent, the Modbus client and the protocol, and none of the server's
// packages or of the libraries only the server needs (the store's bbolt,
// the time-series engine, the JSON-schema checker of device types).
func TestLinksNothingOfTheServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, want := range []string{module + "/agent", module + "/modbus", module + "/protocol"} {
		if !slices.Contains(deps, want) {
			t.Fatalf("go list -deps lacks %s; the list is not the binary's:\n%s", want, out)
		}
	}
	forbidden := []string{
		"go.etcd.io/bbolt",
		"github.com/VictoriaMetrics/",
		"github.com/santhosh-tekuri/jsonschema",
		module + "/device", module + "/store", module + "/broker", module + "/web", module + "/server",
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("hearth-agent links %s", dep)
			}
		}
	}
}
