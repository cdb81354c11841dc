package server_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/hearthiot/hearth"

// allowedImports lists, for each tree of the module, which trees of the
// module it may import (besides its own subtree). Dependencies point one way:
// store ← device ← broker, scheduler, web ← server ← main. The programs that
// run elsewhere (agent, sim, cmd) share only protocol and modbus with it.
var allowedImports = map[string][]string{
	"internal":   {},
	"store":      {"internal"},
	"store/tsdb": {"internal"},
	"device":     {"store", "protocol", "modbus", "internal"},
	"broker":     {"device", "store", "protocol", "internal"},
	"scheduler":  {"device", "store", "internal"},
	"gate":       {"device", "store", "protocol", "modbus", "internal"},
	"web":        {"gate", "device", "store", "internal"},
	"protocol":   {},
	"modbus":     {"internal"},
	"agent":      {"protocol", "modbus", "internal"},
	"sim":        {"protocol", "modbus", "internal"},
	"cmd":        {"agent"},
	"server":     {"*"},
	"":           {"server"}, // main.go
}

// allowedThirdParty limits which outside modules the bottom layers may use.
var allowedThirdParty = map[string][]string{
	"store":      {"go.etcd.io/bbolt"},
	"store/tsdb": {"github.com/VictoriaMetrics/"},
}

// TestDependencyDirection keeps the package graph of DESIGN.md: it fails when
// a package imports a tree it must not.
func TestDependencyDirection(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		tree := treeOf(rel)
		checked++
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) {
				target := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
				if !mayImport(tree, target) {
					t.Errorf("%s imports %s: %q may import only %v", p.ImportPath, imp, tree, allowedImports[tree])
				}
				continue
			}
			if allowed, ok := allowedThirdParty[tree]; ok && strings.Contains(strings.Split(imp, "/")[0], ".") {
				if !hasAnyPrefix(imp, allowed) {
					t.Errorf("%s imports %s: %q may use only the standard library and %v", p.ImportPath, imp, tree, allowed)
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("go list found only %d packages", checked)
	}
}

// treeOf maps a package path to the tree whose rules apply to it.
func treeOf(rel string) string {
	if rel == "store/tsdb" || strings.HasPrefix(rel, "store/tsdb/") {
		return "store/tsdb"
	}
	return strings.Split(rel, "/")[0]
}

func mayImport(tree, target string) bool {
	tt := treeOf(target)
	if tt == tree {
		return true
	}
	for _, a := range allowedImports[tree] {
		if a == "*" || a == tt {
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
