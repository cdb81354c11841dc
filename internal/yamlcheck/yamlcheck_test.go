package yamlcheck_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/hearthiot/hearth/internal/yamlcheck"
)

func TestDocument(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       *yamlcheck.Problem // nil: no problem
		empty      bool
	}{
		{"one document", "a: 1\n", nil, false},
		{"empty", "", nil, true},
		{"only a comment", "# nothing yet\n", nil, true},
		// The lines are the parser's.
		{"syntax", "a: [1\n", &yamlcheck.Problem{Line: 1, Message: "not valid YAML: did not find expected ',' or ']'"}, false},
		{"tab", "a: 1\n\tb: 2\n", &yamlcheck.Problem{Line: 2, Message: "not valid YAML: found a tab character that violates indentation"}, false},
		{"two documents", "a: 1\n---\nb: 2\n", &yamlcheck.Problem{Line: 2, Message: "a second YAML document; the thing is one document"}, false},
	}
	for _, tt := range tests {
		doc, bad := yamlcheck.Document([]byte(tt.text), "the thing")
		if d := cmp.Diff(tt.want, bad); d != "" {
			t.Errorf("%s: problem (-want +got):\n%s", tt.name, d)
		}
		if bad == nil && (doc == nil) != tt.empty {
			t.Errorf("%s: document %v, want empty %v", tt.name, doc, tt.empty)
		}
	}
}

func TestProblemsAreBounded(t *testing.T) {
	t.Parallel()
	var ps yamlcheck.Problems
	for i := range yamlcheck.MaxProblems + 7 {
		ps.Add(yamlcheck.Problem{Line: 100 - i, Message: fmt.Sprint(i)})
	}
	if len(ps.List) != yamlcheck.MaxProblems || ps.More != 7 || ps.Count() != yamlcheck.MaxProblems+7 {
		t.Fatalf("%d listed, %d more, count %d", len(ps.List), ps.More, ps.Count())
	}
	ps.SortByLine()
	if ps.List[0].Line != 100-yamlcheck.MaxProblems+1 || ps.List[len(ps.List)-1].Line != 100 {
		t.Errorf("not sorted by line: first %d, last %d", ps.List[0].Line, ps.List[len(ps.List)-1].Line)
	}
	var at yamlcheck.Problems
	at.At(&yaml.Node{Line: 3, Column: 5}, "a.b", "bad %s", "value")
	at.At(nil, "", "nowhere")
	want := []yamlcheck.Problem{{Line: 3, Column: 5, Path: "a.b", Message: "bad value"}, {Message: "nowhere"}}
	if d := cmp.Diff(want, at.List); d != "" {
		t.Errorf("At (-want +got):\n%s", d)
	}
}

// fault is a KeyProblem flattened for comparison.
type fault struct {
	Fault     yamlcheck.KeyFault
	Key       string
	Line      int
	FirstLine int
}

func TestFields(t *testing.T) {
	t.Parallel()
	const text = `a: 1
b: &x 2
zzz: 3
a: 4
[l]: 5
<<: {c: 6}
c: *x
*x : 7
`
	doc, bad := yamlcheck.Document([]byte(text), "the test")
	if bad != nil {
		t.Fatal(bad)
	}
	accepted := []string{"a", "b", "c", "2"}
	for _, tt := range []struct {
		aliases yamlcheck.Aliases
		keys    []string
		faults  []fault
	}{
		{yamlcheck.RefuseAliases, []string{"a", "b"}, []fault{
			{yamlcheck.UnknownKey, "zzz", 3, 0},
			{yamlcheck.RepeatedKey, "a", 4, 1},
			{yamlcheck.NotAWord, "", 5, 0},
			{yamlcheck.NotAWord, "<<", 6, 0},
			{yamlcheck.AliasedValue, "c", 7, 0},
			{yamlcheck.NotAWord, "x", 8, 0},
		}},
		// Followed, the alias key *x is the key "2".
		{yamlcheck.FollowAliases, []string{"2", "a", "b", "c"}, []fault{
			{yamlcheck.UnknownKey, "zzz", 3, 0},
			{yamlcheck.RepeatedKey, "a", 4, 1},
			{yamlcheck.NotAWord, "", 5, 0},
			{yamlcheck.NotAWord, "<<", 6, 0},
		}},
	} {
		fields, problems := yamlcheck.Fields(doc.Content[0], accepted, tt.aliases)
		for k, f := range fields {
			if f.Key.Value != k {
				t.Errorf("field %q has key %q", k, f.Key.Value)
			}
		}
		var got []fault
		for _, p := range problems {
			f := fault{Fault: p.Fault, Key: p.Key.Value, Line: p.Key.Line}
			if p.First != nil {
				f.FirstLine = p.First.Line
			}
			got = append(got, f)
		}
		if d := cmp.Diff(tt.keys, slices.Sorted(maps.Keys(fields))); d != "" {
			t.Errorf("aliases %d: keys (-want +got):\n%s", tt.aliases, d)
		}
		if d := cmp.Diff(tt.faults, got); d != "" {
			t.Errorf("aliases %d: faults (-want +got):\n%s", tt.aliases, d)
		}
	}
}
