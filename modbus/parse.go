package modbus

import (
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hearthiot/hearth/internal/yamlcheck"
)

// MaxMapSize is the largest register map file Parse reads.
const MaxMapSize = 1 << 20

// Problem is one thing wrong with a register map.
type Problem struct {
	Line    int // 0 when the map has no lines (built in code)
	Message string
}

// MapError lists what is wrong with a register map, each problem with its
// line, so that a whole file can be fixed in one go; past
// yamlcheck.MaxProblems they are only counted.
type MapError struct {
	Name     string
	Problems []Problem
	// More counts problems past the ones listed.
	More int
}

func (e *MapError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Name)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n%s: and %d more problems", e.Name, e.More)
	}
	return b.String()
}

// problems collects a map's problems.
type problems struct{ yamlcheck.Problems }

func (ps *problems) add(line int, format string, args ...any) {
	ps.Add(yamlcheck.Problem{Line: line, Message: fmt.Sprintf(format, args...)})
}

// err is the *MapError of the problems found, in the order of their lines,
// or nil.
func (ps *problems) err(name string) error {
	if ps.Count() == 0 {
		return nil
	}
	ps.SortByLine()
	e := &MapError{Name: name, More: ps.More}
	for _, p := range ps.List {
		e.Problems = append(e.Problems, Problem{Line: p.Line, Message: p.Message})
	}
	return e
}

// Parse reads a register map from YAML. name is the file's name, for
// messages. Every problem found is in the returned *MapError.
func Parse(r io.Reader, name string) (*Map, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxMapSize+1))
	if err != nil {
		return nil, fmt.Errorf("read register map %s: %w", name, err)
	}
	if len(data) > MaxMapSize {
		return nil, &MapError{Name: name, Problems: []Problem{{Message: fmt.Sprintf("larger than %d bytes; a register map is at most 1 MiB", MaxMapSize)}}}
	}
	doc, bad := yamlcheck.Document(data, "a register map")
	if bad != nil {
		return nil, &MapError{Name: name, Problems: []Problem{{Line: bad.Line, Message: bad.Message}}}
	}
	if doc == nil {
		return nil, &MapError{Name: name, Problems: []Problem{{Message: "empty; a register map needs source and points"}}}
	}
	return ParseNode(doc, name)
}

// ParseNode reads a register map from a YAML node: a document, or the
// mapping with the keys source, word_order, byte_order and points. Lines
// in messages are the node's own, so a map that is one section of a larger
// file is reported against that file; name is the file's name.
func ParseNode(n *yaml.Node, name string) (*Map, error) {
	p := &mapParser{}
	m := p.parseMap(n)
	// The rules that do not depend on YAML run even after a syntax
	// problem, on what did parse, so that one pass reports everything.
	if p.sourceParsed {
		checkSource(m.Source, &p.problems)
	}
	checkPoints(m, &p.problems)
	if err := p.err(name); err != nil {
		return nil, err
	}
	m.Name = name
	return m, nil
}

type mapParser struct {
	problems
	// sourceParsed is set when the source parsed without a problem, so
	// that checkSource does not repeat one.
	sourceParsed bool
}

// Keys a register map accepts, in the order the reference lists them.
var (
	mapKeys    = []string{"source", "word_order", "byte_order", "points"}
	sourceKeys = []string{"tcp", "rtu", "unit_id", "timeout", "interval", "max_gap"}
	serialKeys = []string{"device", "baud", "data_bits", "parity", "stop_bits"}
	pointKeys  = []string{"metric", "setting", "description", "function", "address", "type", "word_order", "byte_order",
		"scale", "offset", "unit", "interval", "unit_id", "writable", "minimum", "maximum", "values"}
)

// field is a key's value and where the key is.
type field struct {
	line int
	node *yaml.Node
}

// mapping reads a mapping's keys, refusing unknown and repeated keys and
// aliases. what prefixes messages ("point chw_supply_c").
func (p *mapParser) mapping(n *yaml.Node, what string, allowed []string) (map[string]field, bool) {
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, "%s: want a mapping of %s, got %s", what, strings.Join(allowed, ", "), describeNode(n))
		return nil, false
	}
	fields, bad := yamlcheck.Fields(n, allowed, yamlcheck.RefuseAliases)
	for _, b := range bad {
		switch b.Fault {
		case yamlcheck.NotAWord:
			p.add(b.Key.Line, "%s: keys are plain words; merge keys and aliases are not supported, write the values out", what)
		case yamlcheck.AliasedValue:
			p.add(b.Value.Line, "%s: %s: aliases (*%s) are not supported; write the value out", what, b.Key.Value, b.Value.Value)
		case yamlcheck.UnknownKey:
			p.add(b.Key.Line, "%s: unknown key %q; accepted: %s", what, b.Key.Value, strings.Join(allowed, ", "))
		case yamlcheck.RepeatedKey:
			p.add(b.Key.Line, "%s: %s given twice (first on line %d)", what, b.Key.Value, b.First.Line)
		}
	}
	out := make(map[string]field, len(fields))
	for name, f := range fields {
		out[name] = field{line: f.Key.Line, node: f.Value}
	}
	return out, true
}

// describeNode says what a node is, for "want X, got Y" messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!null":
		return "nothing"
	case "!!str":
		return fmt.Sprintf("the text %q", clip(n.Value))
	case "!!bool":
		return "the boolean " + n.Value
	}
	return "the number " + clip(n.Value)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func (p *mapParser) text(f field, what, key string) (string, bool) {
	n := f.node
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.add(f.line, "%s: %s: want text, got %s", what, key, describeNode(n))
		return "", false
	}
	if len(n.Value) > maxTextLen {
		p.add(f.line, "%s: %s is %d characters long; at most %d are allowed", what, key, len(n.Value), maxTextLen)
		return "", false
	}
	return n.Value, true
}

func (p *mapParser) name(f field, what, key string) (string, bool) {
	n := f.node
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.add(f.line, "%s: %s: want a name, got %s", what, key, describeNode(n))
		return "", false
	}
	if !validName(n.Value) {
		p.add(f.line, "%s: %s %q is not a valid name; names start with a letter or '_', contain only letters, digits and '_', and are at most %d characters long", what, key, clip(n.Value), maxNameLen)
		return "", false
	}
	return n.Value, true
}

// validName is Hearth's rule for metric names, also applied to setting
// keys: ^[A-Za-z_][A-Za-z0-9_]*$, at most 128 characters.
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// reservedMetric reports a metric name Hearth's ingest refuses: the
// labels every series carries and names starting with "__". A map that
// used one would have every reading of its device refused.
func reservedMetric(s string) bool {
	return strings.HasPrefix(s, "__") || s == "device" || s == "customer" || s == "site"
}

func (p *mapParser) integer(f field, what, key string, lo, hi int64) (int64, bool) {
	n := f.node
	var v int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil || v < lo || v > hi {
		p.add(f.line, "%s: %s: want a whole number from %d to %d, got %s", what, key, lo, hi, describeNode(n))
		return 0, false
	}
	return v, true
}

func (p *mapParser) number(f field, what, key string) (float64, bool) {
	n := f.node
	var v float64
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || tag != "!!int" && tag != "!!float" || n.Decode(&v) != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		p.add(f.line, "%s: %s: want a finite number, got %s", what, key, describeNode(n))
		return 0, false
	}
	return v, true
}

func (p *mapParser) boolean(f field, what, key string) (bool, bool) {
	n := f.node
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		p.add(f.line, "%s: %s: want true or false, got %s", what, key, describeNode(n))
		return false, false
	}
	return v, true
}

func (p *mapParser) duration(f field, what, key string, lo, hi time.Duration) (time.Duration, bool) {
	n := f.node
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		hint := ""
		if n.ShortTag() == "!!int" || n.ShortTag() == "!!float" {
			hint = fmt.Sprintf(" (a number needs a unit: %ss or %sms)", n.Value, n.Value)
		}
		p.add(f.line, "%s: %s: want a duration from %s to %s such as 10s, got %s%s", what, key, lo, hi, describeNode(n), hint)
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil || d < lo || d > hi {
		p.add(f.line, "%s: %s %q is not a duration from %s to %s (write 500ms, 10s or 5m)", what, key, clip(n.Value), lo, hi)
		return 0, false
	}
	return d, true
}

func (p *mapParser) choice(f field, what, key string, options ...string) (string, bool) {
	n := f.node
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && slices.Contains(options, n.Value) {
		return n.Value, true
	}
	got := describeNode(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		got = strconv.Quote(clip(n.Value))
	}
	p.add(f.line, "%s: %s %s is not one of %s", what, key, got, strings.Join(options, ", "))
	return "", false
}

func (p *mapParser) order(f field, what, key string) (Order, bool) {
	s, ok := p.choice(f, what, key, "big", "little")
	if s == "little" {
		return Little, ok
	}
	return Big, ok
}

func (p *mapParser) parseMap(n *yaml.Node) *Map {
	m := &Map{}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			p.add(n.Line, "empty; a register map needs source and points")
			return m
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		p.add(n.Line, "empty; a register map needs source and points")
		return m
	}
	fs, ok := p.mapping(n, "register map", mapKeys)
	if !ok {
		return m
	}
	if f, ok := fs["source"]; ok {
		before := p.Count()
		m.Source = p.parseSource(f)
		p.sourceParsed = p.Count() == before
	} else {
		p.add(n.Line, "register map: no source; give tcp: HOST:PORT or rtu: {device: …, baud: …}")
	}
	var word, byteOrder Order
	if f, ok := fs["word_order"]; ok {
		word, _ = p.order(f, "register map", "word_order")
	}
	if f, ok := fs["byte_order"]; ok {
		byteOrder, _ = p.order(f, "register map", "byte_order")
	}
	f, ok := fs["points"]
	if !ok {
		p.add(n.Line, "register map: no points; list the device's values under points")
		return m
	}
	if f.node.Kind != yaml.SequenceNode {
		p.add(f.line, "register map: points: want a list of points, got %s", describeNode(f.node))
		return m
	}
	if len(f.node.Content) == 0 {
		p.add(f.line, "register map: points: the list is empty; a map needs at least one point")
		return m
	}
	if len(f.node.Content) > MaxPoints {
		p.add(f.line, "register map: %d points; at most %d are allowed", len(f.node.Content), MaxPoints)
		return m
	}
	for i, pn := range f.node.Content {
		if pt := p.parsePoint(pn, i, m.Source, word, byteOrder); pt != nil {
			m.Points = append(m.Points, pt)
		}
	}
	return m
}

func (p *mapParser) parseSource(f field) Source {
	const what = "source"
	s := Source{UnitID: DefaultUnitID, Timeout: DefaultTimeout, Interval: DefaultInterval, line: f.line}
	fs, ok := p.mapping(f.node, what, sourceKeys)
	if !ok {
		return s
	}
	tcp, hasTCP := fs["tcp"]
	rtu, hasRTU := fs["rtu"]
	// checkSource refuses both or neither.
	if hasTCP {
		s.TCP, _ = p.text(tcp, what, "tcp")
	}
	if hasRTU {
		s.RTU = p.parseSerial(rtu)
	}
	if f, ok := fs["unit_id"]; ok {
		v, _ := p.integer(f, what, "unit_id", 0, 255)
		s.UnitID = uint8(v)
	}
	if f, ok := fs["timeout"]; ok {
		s.Timeout, _ = p.duration(f, what, "timeout", MinTimeout, MaxTimeout)
	}
	if f, ok := fs["interval"]; ok {
		s.Interval, _ = p.duration(f, what, "interval", MinInterval, MaxInterval)
	}
	if f, ok := fs["max_gap"]; ok {
		v, _ := p.integer(f, what, "max_gap", 0, MaxGap)
		s.MaxGap = int(v)
	}
	return s
}

func (p *mapParser) parseSerial(f field) *Serial {
	const what = "source: rtu"
	s := &Serial{DataBits: DefaultDataBits, Parity: DefaultParity, StopBits: DefaultStopBits}
	fs, ok := p.mapping(f.node, what, serialKeys)
	if !ok {
		return s
	}
	// checkSerial refuses a missing device or baud.
	if f, ok := fs["device"]; ok {
		s.Device, _ = p.text(f, what, "device")
	}
	if f, ok := fs["baud"]; ok {
		v, _ := p.integer(f, what, "baud", 1, 4000000)
		s.Baud = int(v)
	}
	if f, ok := fs["data_bits"]; ok {
		v, _ := p.integer(f, what, "data_bits", 5, 8)
		s.DataBits = int(v)
	}
	if f, ok := fs["parity"]; ok {
		v, _ := p.choice(f, what, "parity", "none", "even", "odd")
		s.Parity = Parity(v)
	}
	if f, ok := fs["stop_bits"]; ok {
		v, _ := p.integer(f, what, "stop_bits", 1, 2)
		s.StopBits = int(v)
	}
	return s
}

var (
	functionNames = []string{"holding", "input", "coil", "discrete"}
	typeNames     = []string{"int16", "uint16", "int32", "uint32", "float32"}
)

func (p *mapParser) parsePoint(n *yaml.Node, i int, src Source, word, byteOrder Order) *Point {
	what := fmt.Sprintf("point %d", i+1)
	if name := peekName(n); name != "" {
		what = "point " + name
	}
	fs, ok := p.mapping(n, what, pointKeys)
	if !ok {
		return nil
	}
	pt := &Point{UnitID: src.UnitID, Scale: 1, WordOrder: word, ByteOrder: byteOrder, Line: n.Line}
	before := p.Count()
	// Name the point first, so that every later message can say which.
	if f, ok := fs["metric"]; ok {
		pt.Metric, _ = p.name(f, what, "metric")
	}
	if f, ok := fs["setting"]; ok {
		pt.Setting, _ = p.name(f, what, "setting")
	}
	_, hasMetric := fs["metric"]
	_, hasSetting := fs["setting"]
	if !hasMetric && !hasSetting {
		p.add(n.Line, "%s: neither metric nor setting; give the point a metric name, a setting key or both", what)
	}
	if f, ok := fs["description"]; ok {
		pt.Description, _ = p.text(f, what, "description")
	}
	if f, ok := fs["function"]; ok {
		s, _ := p.choice(f, what, "function", functionNames...)
		pt.Function = map[string]Function{"holding": Holding, "input": Input, "coil": Coil, "discrete": Discrete}[s]
	} else {
		p.add(n.Line, "%s: no function; give one of %s", what, strings.Join(functionNames, ", "))
	}
	if f, ok := fs["address"]; ok {
		v, _ := p.integer(f, what, "address", 0, 65535)
		pt.Address = uint16(v)
	} else {
		p.add(n.Line, "%s: no address; give the 0-based address of its first register", what)
	}
	bits := pt.Function.bits()
	if bits {
		pt.Type = Bool
		for _, k := range []string{"type", "word_order", "byte_order", "scale", "offset", "minimum", "maximum"} {
			if f, ok := fs[k]; ok {
				p.add(f.line, "%s: %s does not apply to a %s, which holds one bit (0 or 1)", what, k, pt.Function)
			}
		}
	} else if f, ok := fs["type"]; ok {
		s, _ := p.choice(f, what, "type", typeNames...)
		pt.Type = map[string]Type{"int16": Int16, "uint16": Uint16, "int32": Int32, "uint32": Uint32, "float32": Float32}[s]
	} else if pt.Function != 0 {
		p.add(n.Line, "%s: no type; give one of %s", what, strings.Join(typeNames, ", "))
	}
	if !bits {
		if f, ok := fs["word_order"]; ok {
			pt.WordOrder, _ = p.order(f, what, "word_order")
			if pt.Type != 0 && pt.Type.Width() == 1 {
				p.add(f.line, "%s: word_order does not apply to %s, which is one register; it orders the two registers of int32, uint32 and float32", what, pt.Type)
			}
		}
		if f, ok := fs["byte_order"]; ok {
			pt.ByteOrder, _ = p.order(f, what, "byte_order")
		}
		if f, ok := fs["scale"]; ok {
			if v, ok := p.number(f, what, "scale"); ok {
				pt.Scale = v
				if v == 0 {
					p.add(f.line, "%s: scale 0 makes every reading 0; give a scale other than 0 (1 when the register holds the value itself)", what)
				}
			}
		}
		if f, ok := fs["offset"]; ok {
			pt.Offset, _ = p.number(f, what, "offset")
		}
		for _, k := range []string{"minimum", "maximum"} {
			if f, ok := fs[k]; ok {
				if v, ok := p.number(f, what, k); ok {
					if k == "minimum" {
						pt.Minimum = &v
					} else {
						pt.Maximum = &v
					}
				}
			}
		}
	}
	if f, ok := fs["unit"]; ok {
		pt.Unit, _ = p.text(f, what, "unit")
	}
	if f, ok := fs["interval"]; ok {
		pt.Interval, _ = p.duration(f, what, "interval", MinInterval, MaxInterval)
	}
	if f, ok := fs["unit_id"]; ok {
		v, _ := p.integer(f, what, "unit_id", 0, 255)
		pt.UnitID = uint8(v)
	}
	if f, ok := fs["writable"]; ok {
		pt.Writable, _ = p.boolean(f, what, "writable")
	}
	if f, ok := fs["values"]; ok {
		pt.Values = p.parseValues(f, what)
	}
	if p.Count() > before {
		return nil // checked again only once it parses
	}
	return pt
}

// peekName is a point's metric or setting, when it is a valid name, so
// that every message about the point can say which it is.
func peekName(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	var metric, setting string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" || !validName(v.Value) {
			continue
		}
		switch k.Value {
		case "metric":
			metric = v.Value
		case "setting":
			setting = v.Value
		}
	}
	if metric != "" {
		return metric
	}
	return setting
}

func (p *mapParser) parseValues(f field, what string) map[string]int64 {
	fs := f.node
	if fs.Kind != yaml.MappingNode || len(fs.Content) == 0 {
		p.add(f.line, "%s: values: want a mapping of names to raw numbers, such as {off: 0, cooling: 1}, got %s", what, describeNode(fs))
		return nil
	}
	if len(fs.Content)/2 > maxValueKeys {
		p.add(f.line, "%s: values: %d names; at most %d are allowed", what, len(fs.Content)/2, maxValueKeys)
		return nil
	}
	out := make(map[string]int64, len(fs.Content)/2)
	lines := map[string]int{}
	for i := 0; i+1 < len(fs.Content); i += 2 {
		k, v := fs.Content[i], fs.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || k.Value == "" || len(k.Value) > maxNameLen {
			hint := ""
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!int" {
				hint = "; names go on the left and raw numbers on the right (off: 0)"
			}
			p.add(k.Line, "%s: values: want a name, got %s%s", what, describeNode(k), hint)
			continue
		}
		if prev, dup := lines[k.Value]; dup {
			p.add(k.Line, "%s: values: %q given twice (first on line %d)", what, k.Value, prev)
			continue
		}
		lines[k.Value] = k.Line
		var raw int64
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&raw) != nil {
			p.add(v.Line, "%s: values: %s: want the raw whole number the device holds for it, got %s", what, k.Value, describeNode(v))
			continue
		}
		out[k.Value] = raw
	}
	return out
}

// Check applies the rules of a register map that do not depend on YAML.
// Parse and ParseNode have applied them; NewClient applies them again, for
// a map that code built or changed.
func (m *Map) Check() error {
	var ps problems
	checkSource(m.Source, &ps)
	if len(m.Points) == 0 {
		ps.add(m.Source.line, "register map: no points; list the device's values under points")
	}
	checkPoints(m, &ps)
	return ps.err(m.Name)
}

func checkSource(s Source, ps *problems) {
	switch {
	case s.TCP != "" && s.RTU != nil:
		ps.add(s.line, "source: tcp and rtu both given; a source is one or the other")
	case s.TCP != "":
		host, port, err := net.SplitHostPort(s.TCP)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			ps.add(s.line, "source: tcp %q is not HOST:PORT with a port from 1 to 65535 (Modbus TCP's is 502)", clip(s.TCP))
		}
	case s.RTU != nil:
		checkSerial(s.RTU, s.line, ps)
		if s.UnitID < 1 || s.UnitID > 247 {
			ps.add(s.line, "source: unit_id %d: on a serial line units are 1 to 247 (0 is broadcast, which no unit answers)", s.UnitID)
		}
	default:
		ps.add(s.line, "source: neither tcp nor rtu; give tcp: HOST:PORT or rtu: {device: …, baud: …}")
	}
	if s.Timeout != 0 && (s.Timeout < MinTimeout || s.Timeout > MaxTimeout) {
		ps.add(s.line, "source: timeout %s is not from %s to %s", s.Timeout, MinTimeout, MaxTimeout)
	}
	if s.Interval != 0 && (s.Interval < MinInterval || s.Interval > MaxInterval) {
		ps.add(s.line, "source: interval %s is not from %s to %s", s.Interval, MinInterval, MaxInterval)
	}
	if s.MaxGap < 0 || s.MaxGap > MaxGap {
		ps.add(s.line, "source: max_gap %d is not from 0 to %d", s.MaxGap, MaxGap)
	}
}

func checkPoints(m *Map, ps *problems) {
	s := m.Source
	if len(m.Points) > MaxPoints {
		ps.add(s.line, "register map: %d points; at most %d are allowed", len(m.Points), MaxPoints)
		return
	}
	metrics := map[string]*Point{}
	settings := map[string]*Point{}
	for _, p := range m.Points {
		if p == nil {
			ps.add(0, "register map: a point is nil")
			continue
		}
		checkPoint(p, s, ps)
		if p.Metric != "" {
			if q, dup := metrics[p.Metric]; dup {
				ps.add(p.Line, "point %s: metric %s is also the metric of the point on line %d; metric names are unique in a map", p.Name(), p.Metric, q.Line)
			}
			metrics[p.Metric] = p
		}
		if p.Setting != "" {
			if q, dup := settings[p.Setting]; dup {
				ps.add(p.Line, "point %s: setting %s is also the setting of the point on line %d; setting keys are unique in a map", p.Name(), p.Setting, q.Line)
			}
			settings[p.Setting] = p
		}
	}
	checkOverlaps(m.Points, ps)
}

func checkSerial(s *Serial, line int, ps *problems) {
	if s.Device == "" {
		ps.add(line, "source: rtu: no device; give the serial line's path, such as /dev/ttyUSB0")
	}
	if s.Baud <= 0 {
		ps.add(line, "source: rtu: baud %d; give the line's speed, such as 9600 or 19200", s.Baud)
	}
	if s.DataBits != 8 {
		ps.add(line, "source: rtu: data_bits %d: Modbus RTU sends 8-bit bytes; use 8", s.DataBits)
	}
	switch s.Parity {
	case ParityNone, ParityEven, ParityOdd:
	default:
		ps.add(line, "source: rtu: parity %q is not one of none, even, odd", s.Parity)
	}
	if s.StopBits != 1 && s.StopBits != 2 {
		ps.add(line, "source: rtu: stop_bits %d is not 1 or 2", s.StopBits)
	}
}

func checkPoint(p *Point, s Source, ps *problems) {
	what := "point " + p.Name()
	if p.Name() == "" {
		what = "point"
		ps.add(p.Line, "point: neither metric nor setting; give the point a metric name, a setting key or both")
	}
	if p.Metric != "" && !validName(p.Metric) {
		ps.add(p.Line, "%s: metric %q is not a valid name", what, clip(p.Metric))
	}
	if reservedMetric(p.Metric) {
		ps.add(p.Line, "%s: metric %q is reserved; device, customer, site and names starting with \"__\" are labels of the time-series store", what, clip(p.Metric))
	}
	if p.Setting != "" && !validName(p.Setting) {
		ps.add(p.Line, "%s: setting %q is not a valid name", what, clip(p.Setting))
	}
	if p.Function < Coil || p.Function > Input {
		ps.add(p.Line, "%s: function %d is not one of %s", what, p.Function, strings.Join(functionNames, ", "))
		return
	}
	if p.Function.bits() != (p.Type == Bool) || p.Type < Bool || p.Type > Float32 {
		ps.add(p.Line, "%s: type %s does not fit a %s", what, p.Type, p.Function)
		return
	}
	if s.RTU != nil && (p.UnitID < 1 || p.UnitID > 247) {
		ps.add(p.Line, "%s: unit_id %d: on a serial line units are 1 to 247", what, p.UnitID)
	}
	if p.last() > 65535 {
		ps.add(p.Line, "%s: %s at %d takes %d registers, past the last address 65535", what, p.Type, p.Address, p.Width())
	}
	if p.Scale == 0 || math.IsNaN(p.Scale) || math.IsInf(p.Scale, 0) {
		ps.add(p.Line, "%s: scale %v; give a finite scale other than 0", what, p.Scale)
		return
	}
	if math.IsNaN(p.Offset) || math.IsInf(p.Offset, 0) {
		ps.add(p.Line, "%s: offset %v; give a finite offset", what, p.Offset)
		return
	}
	if p.Type == Bool && (p.Scale != 1 || p.Offset != 0) {
		ps.add(p.Line, "%s: a %s holds one bit; scale and offset do not apply", what, p.Function)
	}
	if p.Interval != 0 && (p.Interval < MinInterval || p.Interval > MaxInterval) {
		ps.add(p.Line, "%s: interval %s is not from %s to %s", what, p.Interval, MinInterval, MaxInterval)
	}
	if p.Writable {
		switch {
		case p.Function == Input || p.Function == Discrete:
			ps.add(p.Line, "%s: writable, but %s are read-only; only holding registers and coils can be written", what, p.Function.plural())
		case p.Setting == "":
			ps.add(p.Line, "%s: writable, but has no setting key; writes come from a shadow setting, so give it one", what)
		case p.Type != Bool && p.Values == nil && (p.Minimum == nil || p.Maximum == nil):
			ps.add(p.Line, "%s: a writable register needs minimum and maximum (in %s) or values, so that no value the device cannot take is written", what, unitOr(p.Unit, "engineering units"))
		}
	} else if p.Minimum != nil || p.Maximum != nil {
		ps.add(p.Line, "%s: minimum and maximum bound writes, but the point is not writable", what)
	}
	if p.Minimum != nil && p.Maximum != nil && *p.Minimum > *p.Maximum {
		ps.add(p.Line, "%s: minimum %v is above maximum %v", what, *p.Minimum, *p.Maximum)
	}
	lo, hi := p.Type.rawRange()
	for _, b := range []struct {
		name string
		v    *float64
	}{{"minimum", p.Minimum}, {"maximum", p.Maximum}} {
		if b.v == nil {
			continue
		}
		if raw := (*b.v - p.Offset) / p.Scale; raw < lo || raw > hi || math.IsNaN(raw) {
			ps.add(p.Line, "%s: %s %v needs the raw value %v, beyond %s's %v to %v", what, b.name, *b.v, raw, p.Type, lo, hi)
		}
	}
	if p.Values != nil {
		if p.Setting == "" {
			ps.add(p.Line, "%s: values name a setting's raw values, but the point has no setting key", what)
		}
		if p.Minimum != nil || p.Maximum != nil {
			ps.add(p.Line, "%s: values and minimum/maximum both given; values already say what may be written", what)
		}
		if p.Scale != 1 || p.Offset != 0 {
			ps.add(p.Line, "%s: values name raw numbers, so scale and offset do not apply", what)
		}
		if p.Type == Float32 {
			ps.add(p.Line, "%s: values need an integer type or a bit, not float32", what)
		}
		if len(p.Values) == 0 {
			ps.add(p.Line, "%s: values is empty", what)
		}
		byRaw := map[int64]string{}
		for _, k := range slices.Sorted(mapKeysOf(p.Values)) {
			raw := p.Values[k]
			if k == "" {
				ps.add(p.Line, "%s: values: a name is empty", what)
			}
			if float64(raw) < lo || float64(raw) > hi {
				ps.add(p.Line, "%s: values: %s is %d, beyond %s's %v to %v", what, k, raw, p.Type, lo, hi)
			}
			if other, dup := byRaw[raw]; dup {
				ps.add(p.Line, "%s: values: %s and %s are both %d; each raw value has one name", what, other, k, raw)
			}
			byRaw[raw] = k
		}
	}
}

func mapKeysOf(m map[string]int64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func unitOr(unit, fallback string) string {
	if unit != "" {
		return unit
	}
	return fallback
}

// checkOverlaps refuses two points that share a register of one unit and
// table: almost always a mistyped address.
func checkOverlaps(points []*Point, ps *problems) {
	type key struct {
		unit uint8
		fn   Function
	}
	groups := map[key][]*Point{}
	for _, p := range points {
		if p != nil && p.Function >= Coil && p.Function <= Input && p.Type >= Bool && p.Type <= Float32 {
			k := key{p.UnitID, p.Function}
			groups[k] = append(groups[k], p)
		}
	}
	for _, g := range groups {
		slices.SortStableFunc(g, func(a, b *Point) int { return int(a.Address) - int(b.Address) })
		for i := 1; i < len(g); i++ {
			prev, p := g[i-1], g[i]
			if int(p.Address) <= prev.last() {
				ps.add(p.Line, "point %s: %s overlap point %s (%s, line %d); each register belongs to one point",
					p.Name(), p.span(), prev.Name(), prev.span(), prev.Line)
			}
		}
	}
}
