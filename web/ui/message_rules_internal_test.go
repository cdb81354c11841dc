package ui

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/rules"
	"github.com/hearthiot/hearth/store"
)

// FuzzRuleFields reads the fields of a rule's form as a person may type
// them: every line that is not blank is one field, numbered by its line,
// never empty; and the form a stored rule shows reads back as the same
// fields, so that saving a rule unchanged changes nothing.
func FuzzRuleFields(f *testing.F) {
	for _, s := range []string{
		"", "*", "temp_c = temperature\nts = time_ms(time)", "state.reported.mode", "a = b == c\n\n  * \r\n",
		"= x", "a =", "x.", "* = 3", "ok = a >= b", "\n\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		form := mruleForm{Mode: mruleModeParts, Select: text}
		rule, lay := form.rule()
		lines := strings.Split(text, "\n")
		if len(lay.selectLines) != len(rule.Select) {
			t.Fatalf("%q: %d fields, %d line numbers", text, len(rule.Select), len(lay.selectLines))
		}
		for i, n := range lay.selectLines {
			if n < 1 || n > len(lines) || strings.TrimSpace(lines[n-1]) == "" || i > 0 && n <= lay.selectLines[i-1] {
				t.Fatalf("%q: field %d is said to be on line %d", text, i, n)
			}
		}
		nonBlank := slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return strings.TrimSpace(l) == "" })
		if len(nonBlank) != len(rule.Select) {
			t.Fatalf("%q: %d lines that are not blank, %d fields", text, len(nonBlank), len(rule.Select))
		}
		again, _ := (mruleForm{Mode: mruleModeParts, Select: strings.Join(selectLines(rule.Select), "\n")}).rule()
		if d := cmp.Diff(rule.Select, again.Select); d != "" {
			t.Fatalf("%q: the form of the fields reads back otherwise (-first +again):\n%s", text, d)
		}
	})
}

// TestRuleFormKinds: the form offers every action kind the engine has,
// each with its name.
func TestRuleFormKinds(t *testing.T) {
	var kinds []string
	for _, k := range mruleKinds {
		kinds = append(kinds, k.Kind)
	}
	if !slices.Equal(kinds, rules.ActionKinds) {
		t.Errorf("the form offers %v, the engine has %v", kinds, rules.ActionKinds)
	}
	for _, k := range rules.ActionKinds {
		if a := (mruleActionForm{Kind: k, Topic: "t", Channels: "c", Code: "x", Level: "info"}).action(); a.Kind != k {
			t.Errorf("kind %s reads as %+v", k, a)
		}
	}
	if a := (mruleActionForm{Kind: "telemetry", Topic: "left/over", Channels: "c", Code: "x"}).action(); !cmp.Equal(a, store.RuleAction{Kind: "telemetry"}) {
		t.Errorf("a telemetry action keeps what other kinds' fields hold: %+v", a)
	}
}
