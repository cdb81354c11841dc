package yamlcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxProblems is how many problems a Problems keeps; the ones past it are
// only counted, so that a file of garbage still gives a readable answer.
const MaxProblems = 50

// Problem is one thing wrong with a file, at a place in it.
type Problem struct {
	Line, Column int // 0 when the problem is not at one place
	// Path is the key the problem is about, dotted (hearth.address), for
	// a checker that keeps it apart from Message; "" otherwise.
	Path    string
	Message string
}

// Problems collects what is wrong with a file: the first MaxProblems in
// List, the number of the others in More.
type Problems struct {
	List []Problem
	More int
}

// Add records p.
func (ps *Problems) Add(p Problem) {
	if len(ps.List) >= MaxProblems {
		ps.More++
		return
	}
	ps.List = append(ps.List, p)
}

// At records a problem at node n (none when n is nil) about path.
func (ps *Problems) At(n *yaml.Node, path, format string, args ...any) {
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	ps.Add(p)
}

// Count is how many problems were recorded, listed or not, so that a
// checker can tell whether a part of the file read without any.
func (ps *Problems) Count() int { return len(ps.List) + ps.More }

// SortByLine puts the listed problems in the order of their lines,
// keeping the order they were found in within a line.
func (ps *Problems) SortByLine() {
	slices.SortStableFunc(ps.List, func(a, b Problem) int { return a.Line - b.Line })
}

var syntaxError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Document decodes b, which must be one YAML document, into its node. It
// returns nil and no problem when b holds no document (it is empty or only
// comments), and a problem when b is not valid YAML ("not valid YAML: …"
// at the line the parser names) or holds a second document ("a second
// YAML document; " + what + " is one document", at that document's line).
func Document(b []byte, what string) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntax(err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntax(err)
		}
		return nil, &Problem{Line: next.Line, Message: "a second YAML document; " + what + " is one document"}
	}
	return &doc, nil
}

// syntax turns the parser's error into a problem at its line.
func syntax(err error) *Problem {
	msg := strings.TrimSpace(err.Error())
	if m := syntaxError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Problem{Line: line, Message: "not valid YAML: " + m[2]}
	}
	return &Problem{Message: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// Field is one key of a mapping and its value.
type Field struct {
	Key, Value *yaml.Node
}

// Aliases says what Fields does with YAML aliases (*name).
type Aliases int

const (
	// RefuseAliases refuses alias keys and alias values: the file must
	// write each value out.
	RefuseAliases Aliases = iota
	// FollowAliases takes an alias key as the key it names and leaves
	// alias values to the caller, so that anchors work anywhere.
	FollowAliases
)

// KeyFault is why Fields left a key out.
type KeyFault int

// Faults of a mapping's key.
const (
	NotAWord     KeyFault = iota + 1 // not a plain scalar: a mapping, a list, a merge key (<<), or an alias under RefuseAliases
	UnknownKey                       // not among the accepted keys
	RepeatedKey                      // given before in the same mapping
	AliasedValue                     // its value is an alias, under RefuseAliases
)

// KeyProblem is a key Fields left out, and why.
type KeyProblem struct {
	Fault KeyFault
	Key   *yaml.Node
	Value *yaml.Node // the key's value
	First *yaml.Node // for RepeatedKey, the key where it was given first
}

// Fields reads the keys of mapping n that are among accepted, by name, and
// lists in file order each key it left out, with why. n must be a mapping
// node; the caller says what else it found.
func Fields(n *yaml.Node, accepted []string, aliases Aliases) (map[string]Field, []KeyProblem) {
	out := make(map[string]Field, len(n.Content)/2)
	var bad []KeyProblem
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if aliases == FollowAliases {
			k = Follow(k)
		}
		switch prev, dup := out[k.Value]; {
		case k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge":
			bad = append(bad, KeyProblem{Fault: NotAWord, Key: k, Value: v})
		case aliases == RefuseAliases && v.Kind == yaml.AliasNode:
			bad = append(bad, KeyProblem{Fault: AliasedValue, Key: k, Value: v})
		case !slices.Contains(accepted, k.Value):
			bad = append(bad, KeyProblem{Fault: UnknownKey, Key: k, Value: v})
		case dup:
			bad = append(bad, KeyProblem{Fault: RepeatedKey, Key: k, Value: v, First: prev.Key})
		default:
			out[k.Value] = Field{Key: k, Value: v}
		}
	}
	return out, bad
}

// Follow goes from an alias to the node it names, so that anchors work
// anywhere; any other node is its own answer.
func Follow(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}
