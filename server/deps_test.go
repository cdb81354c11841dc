package server_test

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/hearthiot/hearth"

// pkg is one package of the module as go list sees it: its own imports and
// everything it links.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// rel is the path of p inside the module ("" for main).
func (p pkg) rel() string { return rel(p.ImportPath) }

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// listPackages runs go list over the module once per test binary.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// under reports whether a module-relative path is one of trees or inside
// one of them.
func under(path string, trees ...string) bool {
	for _, t := range trees {
		if path == t || strings.HasPrefix(path, t+"/") {
			return true
		}
	}
	return false
}

// rule is one thing a part of Hearth must never do. Packages names the
// parts it applies to; never lists module trees they must not import;
// neverLink lists module trees and outside modules they must not link,
// even through another package; only, when set, lists all they may import
// from the module.
type rule struct {
	name      string
	packages  []string
	never     []string
	neverLink []string
	only      []string
	stdlib    bool // imports nothing but the standard library and the module
}

// serverSide is everything of the server that a program running elsewhere
// must not link.
var serverSide = []string{"device", "store", "broker", "gate", "web", "server", "scheduler", "alarm", "notify", "jobs", "rules"}

var rules = []rule{
	{name: "the store knows no domain", packages: []string{"store"}, only: []string{"store", "internal"}},
	{name: "the protocol package is pure", packages: []string{"protocol"}, only: []string{"protocol"}, stdlib: true},
	{name: "the agent never links the server's device model, the store or their engines",
		packages: []string{"agent", "cmd/hearth-agent"}, neverLink: append(slices.Clone(serverSide),
			"go.etcd.io/bbolt", "github.com/VictoriaMetrics/", "github.com/santhosh-tekuri/jsonschema", "github.com/mochi-mqtt/")},
	{name: "the simulator talks to Hearth over the wire", packages: []string{"sim"}, neverLink: serverSide},
	{name: "the Modbus library knows no server", packages: []string{"modbus"}, neverLink: serverSide},
	{name: "the web layer reaches state only through the gate",
		packages: []string{"web"}, never: []string{"broker", "device/poll", "modbus", "store/tsdb", "server", "scheduler", "alarm", "notify", "jobs", "rules"},
		neverLink: []string{"broker", "store/tsdb", "github.com/VictoriaMetrics/", "github.com/mochi-mqtt/", "github.com/goburrow/modbus"}},
	{name: "the gate knows no channel", packages: []string{"gate"}, never: []string{"web", "broker", "server"},
		neverLink: []string{"store/tsdb", "github.com/VictoriaMetrics/", "github.com/mochi-mqtt/"}},
	{name: "the device model knows no channel", packages: []string{"device"}, never: []string{"broker", "web", "gate", "server", "scheduler"}},
	{name: "the broker and the web layer do not know each other", packages: []string{"broker"}, never: []string{"web", "gate", "server", "store/tsdb", "scheduler", "jobs", "rules"}},
	{name: "the scheduler knows no channel", packages: []string{"scheduler"}, never: []string{"broker", "web", "gate", "server"}},
	{name: "alarms know no channel", packages: []string{"alarm"}, never: []string{"broker", "web", "gate", "server", "scheduler", "notify"},
		neverLink: []string{"store/tsdb", "github.com/VictoriaMetrics/", "github.com/mochi-mqtt/"}},
	{name: "jobs know no channel", packages: []string{"jobs"}, never: []string{"broker", "web", "gate", "server", "scheduler", "device", "alarm", "notify"},
		neverLink: []string{"store/tsdb", "github.com/VictoriaMetrics/", "github.com/mochi-mqtt/"}},
	{name: "message rules know no channel", packages: []string{"rules"}, never: []string{"broker", "web", "gate", "server", "scheduler", "alarm", "notify", "jobs"},
		neverLink: []string{"store/tsdb", "github.com/VictoriaMetrics/", "github.com/mochi-mqtt/"}},
	{name: "notifications know no channel", packages: []string{"notify"}, never: []string{"broker", "web", "gate", "server", "scheduler", "device", "alarm"}},
	{name: "only the command line starts a server", packages: []string{"device", "store", "broker", "gate", "web", "agent", "sim", "modbus", "protocol", "internal", "scheduler", "alarm", "notify", "jobs", "rules", "cmd"}, never: []string{"server"}},
}

// TestDependencyRules keeps the package graph of docs/architecture.md: it
// fails, naming the rule, when a package imports or links what it must
// not.
func TestDependencyRules(t *testing.T) {
	pkgs := listPackages(t)
	applied := map[string]int{}
	for _, p := range pkgs {
		for _, r := range rules {
			if !under(p.rel(), r.packages...) {
				continue
			}
			applied[r.name]++
			for _, imp := range p.Imports {
				inModule := strings.HasPrefix(imp, module+"/")
				switch {
				case inModule && under(rel(imp), r.never...):
					t.Errorf("%s: %s imports %s", r.name, p.ImportPath, imp)
				case inModule && r.only != nil && !under(rel(imp), r.only...):
					t.Errorf("%s: %s imports %s; it may import only %v of the module", r.name, p.ImportPath, imp, r.only)
				case !inModule && r.stdlib && strings.Contains(strings.Split(imp, "/")[0], "."):
					t.Errorf("%s: %s imports %s; it may use only the standard library", r.name, p.ImportPath, imp)
				}
			}
			for _, dep := range p.Deps {
				for _, n := range r.neverLink {
					if strings.Contains(n, ".") && strings.HasPrefix(dep, n) ||
						strings.HasPrefix(dep, module+"/") && under(rel(dep), n) {
						t.Errorf("%s: %s links %s", r.name, p.ImportPath, dep)
					}
				}
			}
		}
	}
	for _, r := range rules {
		if applied[r.name] == 0 && r.name != "the scheduler knows no channel" {
			t.Errorf("rule %q applies to no package: are %v still there?", r.name, r.packages)
		}
	}
}

// TestArchitectureTable: docs/architecture.md's table of packages lists
// every package of the module, and for each the module packages it
// imports, exactly as go list says.
func TestArchitectureTable(t *testing.T) {
	doc, err := os.ReadFile("../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // package → its imports column
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9/._-]+)` \\|[^|]*\\|([^|]*)\\|$")
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		rows[m[1]] = m[2]
	}
	if len(rows) < 20 {
		t.Fatalf("the table has %d rows; is it still '| `package` | owns | imports |'?", len(rows))
	}
	known := map[string]bool{}
	pkgs := listPackages(t)
	for _, p := range pkgs {
		known[p.rel()] = true
	}
	tick := regexp.MustCompile("`([^`]+)`")
	for _, p := range pkgs {
		name := p.rel()
		if name == "" {
			name = "main.go"
		}
		col, ok := rows[name]
		if !ok {
			t.Errorf("docs/architecture.md has no row for %s", name)
			continue
		}
		if name == "server" {
			continue // "everything": the composition root
		}
		var documented []string
		for _, m := range tick.FindAllStringSubmatch(col, -1) {
			if known[m[1]] {
				documented = append(documented, m[1])
			}
		}
		var actual []string
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module+"/") {
				actual = append(actual, rel(imp))
			}
		}
		slices.Sort(documented)
		slices.Sort(actual)
		if !slices.Equal(documented, actual) {
			t.Errorf("docs/architecture.md says %s imports %v of the module; go list says %v", name, documented, actual)
		}
	}
	for name := range rows {
		if name != "main.go" && !known[name] {
			t.Errorf("docs/architecture.md has a row for %s, which is not a package", name)
		}
	}
}
