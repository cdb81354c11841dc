package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/hearthiot/hearth/store"
)

// ErrInvalid is wrapped by Compile for settings that cannot be compiled:
// a key that is also the parent of another, a minimum above the maximum,
// an allowed value that breaks the setting's own rules, a schema that is
// not a JSON Schema. It is the store's ErrInvalid, since such settings
// break a rule of the record that holds them.
var ErrInvalid = store.ErrInvalid

// Rules a Violation can name.
const (
	RuleType       = "type"        // the value is not of the setting's type
	RuleMinimum    = "minimum"     // below the minimum
	RuleMaximum    = "maximum"     // above the maximum
	RuleStep       = "step"        // not a multiple of the step
	RuleEnum       = "enum"        // not one of the allowed values
	RuleUnknownKey = "unknown_key" // not a setting of the device type
	RuleSchema     = "schema"      // breaks the setting's JSON Schema
)

// Violation is one value that breaks one rule.
type Violation struct {
	Key     string `json:"key"`  // the value's path in its section, dot-separated
	Rule    string `json:"rule"` // one of the Rule constants
	Message string `json:"message"`
}

// Error is a desired update refused by CheckDesired; it lists every value
// that broke a rule.
type Error struct {
	Violations []Violation
}

func (e *Error) Error() string {
	msgs := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		msgs[i] = v.Message
	}
	return strings.Join(msgs, "; ")
}

// ForbiddenError is a desired update refused by CheckCustomer: it touches a
// key customers may not change.
type ForbiddenError struct {
	Key  string
	Type string
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("desired.%s: customers may not change this setting of device type %q", e.Key, e.Type)
}

// Schema is a device type's settings, compiled. It is immutable and safe
// for concurrent use.
type Schema struct {
	typ      string
	settings []store.Setting
	byKey    map[string]int // key → index in settings
	// parents are the keys of objects that hold settings ("zone1" for
	// "zone1.setpoint").
	parents map[string]bool

	desired  *jsonschema.Schema // unknown keys refused
	reported *jsonschema.Schema // unknown keys allowed
}

// baseURL names the schemas compiled here. Nothing is ever fetched from
// it: the loader refuses every URL, so a "$ref" can only point inside the
// schemas Hearth built.
const baseURL = "https://hearth.invalid/device-types/"

// Compile checks a device type's settings and compiles them. Errors wrap
// ErrInvalid and name the setting and the problem.
func Compile(t store.DeviceType) (*Schema, error) {
	s := &Schema{
		typ:      t.Name,
		settings: slices.Clone(t.Settings),
		byKey:    make(map[string]int, len(t.Settings)),
		parents:  make(map[string]bool),
	}
	for i, st := range t.Settings {
		if err := checkKey(st.Key); err != nil {
			return nil, err
		}
		if _, dup := s.byKey[st.Key]; dup {
			return nil, fmt.Errorf("setting %q is defined twice: %w", st.Key, ErrInvalid)
		}
		s.byKey[st.Key] = i
		for p := parentOf(st.Key); p != ""; p = parentOf(p) {
			s.parents[p] = true
		}
	}
	for _, st := range t.Settings {
		if s.parents[st.Key] {
			return nil, fmt.Errorf("setting %q is also the object holding other settings (%q…); define either the object or its keys: %w", st.Key, st.Key+".", ErrInvalid)
		}
	}

	if err := checkMetrics(t.Metrics); err != nil {
		return nil, err
	}
	props := make([]map[string]any, len(t.Settings))
	var resources []resource
	for i, st := range t.Settings {
		p, res, err := propertySchema(t.Name, i, st)
		if err != nil {
			return nil, fmt.Errorf("setting %q: %w", st.Key, err)
		}
		if err := checkLabels(st); err != nil {
			return nil, fmt.Errorf("setting %q: %w", st.Key, err)
		}
		props[i] = p
		resources = append(resources, res...)
	}
	var err error
	if s.desired, err = s.compile("desired", props, resources, false); err != nil {
		return nil, err
	}
	if s.reported, err = s.compile("reported", props, resources, true); err != nil {
		return nil, err
	}
	// Every allowed value must pass its own setting's rules, or the
	// setting could never be given that value.
	for _, st := range t.Settings {
		for _, raw := range st.Enum {
			v, err := decode(raw)
			if err != nil {
				return nil, fmt.Errorf("setting %q: allowed value %s: %w", st.Key, raw, ErrInvalid)
			}
			if vs := s.check(s.desired, "desired", nest(st.Key, v)); len(vs) > 0 {
				return nil, fmt.Errorf("setting %q: allowed value %s breaks the setting's rules (%s): %w", st.Key, raw, vs[0].Message, ErrInvalid)
			}
		}
	}
	return s, nil
}

// Type is the name of the device type.
func (s *Schema) Type() string { return s.typ }

// Settings returns the settings in the order they were defined.
func (s *Schema) Settings() []store.Setting { return slices.Clone(s.settings) }

// Setting returns the setting of key.
func (s *Schema) Setting(key string) (store.Setting, bool) {
	i, ok := s.byKey[key]
	if !ok {
		return store.Setting{}, false
	}
	return s.settings[i], true
}

// CheckDesired checks the desired section of an update request: every
// value must be a setting of the type and follow its rules. A null value
// deletes a key and is always allowed. The error is *Error.
func (s *Schema) CheckDesired(desired map[string]any) error {
	if vs := s.check(s.desired, "desired", withoutNulls(desired)); len(vs) > 0 {
		return &Error{Violations: vs}
	}
	return nil
}

// Reported returns the values of a reported section that break a setting's
// rules, sorted by key; keys that are not settings are not violations,
// since devices report readings and facts beside their settings.
func (s *Schema) Reported(reported map[string]any) []Violation {
	return s.check(s.reported, "reported", withoutNulls(reported))
}

// CheckCustomer checks that a desired update touches only keys customers may
// change: a value for a customer-editable setting, or an object holding
// only such settings. Deleting an object (null) needs every setting below
// it to be customer-editable. The error is *ForbiddenError. Whether the
// values follow the rules is CheckDesired's question.
func (s *Schema) CheckCustomer(desired map[string]any) error {
	return s.checkCustomer("", desired)
}

func (s *Schema) checkCustomer(prefix string, m map[string]any) error {
	for _, k := range sortedKeys(m) {
		key := join(prefix, segment(k))
		v := m[k]
		if key != join(prefix, k) {
			// A key that is empty or holds a dot is no setting's.
			return &ForbiddenError{Key: key, Type: s.typ}
		}
		if i, ok := s.byKey[key]; ok {
			if !s.settings[i].CustomerEditable {
				return &ForbiddenError{Key: key, Type: s.typ}
			}
			continue
		}
		if !s.parents[key] {
			return &ForbiddenError{Key: key, Type: s.typ}
		}
		switch v := v.(type) {
		case map[string]any:
			if err := s.checkCustomer(key, v); err != nil {
				return err
			}
		case nil:
			for _, st := range s.settings {
				if strings.HasPrefix(st.Key, key+".") && !st.CustomerEditable {
					return &ForbiddenError{Key: st.Key, Type: s.typ}
				}
			}
		default:
			return &ForbiddenError{Key: key, Type: s.typ}
		}
	}
	return nil
}

// resource is a setting's own JSON Schema, compiled as a separate document
// so that references inside it resolve against it.
type resource struct {
	url string
	doc any
	key string // the setting's
}

// propertySchema is the JSON Schema of one setting's value.
func propertySchema(typ string, i int, st store.Setting) (map[string]any, []resource, error) {
	switch st.Type {
	case store.SettingNumber, store.SettingInteger, store.SettingString, store.SettingBoolean, store.SettingObject, store.SettingArray:
	default:
		return nil, nil, fmt.Errorf("type %q: number, integer, string, boolean, object or array is accepted: %w", st.Type, ErrInvalid)
	}
	p := map[string]any{"type": st.Type}
	numeric := st.Type == store.SettingNumber || st.Type == store.SettingInteger
	if !numeric && (st.Minimum != nil || st.Maximum != nil || st.Step != nil) {
		return nil, nil, fmt.Errorf("minimum, maximum and step apply to numbers and integers, not to a %s: %w", st.Type, ErrInvalid)
	}
	for _, b := range []struct {
		keyword string
		v       *float64
	}{{"minimum", st.Minimum}, {"maximum", st.Maximum}, {"multipleOf", st.Step}} {
		if b.v == nil {
			continue
		}
		if math.IsNaN(*b.v) || math.IsInf(*b.v, 0) {
			return nil, nil, fmt.Errorf("%s is not a finite number: %w", b.keyword, ErrInvalid)
		}
		p[b.keyword] = number(*b.v)
	}
	if st.Minimum != nil && st.Maximum != nil && *st.Minimum > *st.Maximum {
		return nil, nil, fmt.Errorf("minimum %v is above maximum %v: %w", *st.Minimum, *st.Maximum, ErrInvalid)
	}
	if st.Step != nil && *st.Step <= 0 {
		return nil, nil, fmt.Errorf("step %v is not above 0: %w", *st.Step, ErrInvalid)
	}
	if len(st.Enum) > 0 {
		enum := make([]any, 0, len(st.Enum))
		for _, raw := range st.Enum {
			v, err := decode(raw)
			if err != nil {
				return nil, nil, fmt.Errorf("allowed value %s: %w", raw, ErrInvalid)
			}
			enum = append(enum, v)
		}
		p["enum"] = enum
	}
	if len(st.Schema) == 0 {
		return p, nil, nil
	}
	if st.Type != store.SettingObject && st.Type != store.SettingArray {
		return nil, nil, fmt.Errorf("a schema applies to objects and arrays, not to a %s: %w", st.Type, ErrInvalid)
	}
	doc, err := decode(st.Schema)
	if err != nil {
		return nil, nil, fmt.Errorf("schema is not JSON: %w", ErrInvalid)
	}
	url := fmt.Sprintf("%s%s/settings/%d.json", baseURL, typ, i)
	p["allOf"] = []any{map[string]any{"$ref": url}}
	return p, []resource{{url: url, doc: doc, key: st.Key}}, nil
}

// compile builds the schema of one section: settings as properties, nested
// along their dotted keys.
func (s *Schema) compile(section string, props []map[string]any, resources []resource, open bool) (*jsonschema.Schema, error) {
	root := object(open)
	for i, st := range s.settings {
		obj := root
		parts := strings.Split(st.Key, ".")
		for _, part := range parts[:len(parts)-1] {
			children := obj["properties"].(map[string]any)
			next, ok := children[part].(map[string]any)
			if !ok {
				next = object(open)
				children[part] = next
			}
			obj = next
		}
		obj["properties"].(map[string]any)[parts[len(parts)-1]] = props[i]
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	url := baseURL + s.typ + "/" + section + ".json"
	if err := c.AddResource(url, root); err != nil {
		return nil, fmt.Errorf("settings: %v: %w", trimURLs(err.Error()), ErrInvalid)
	}
	for _, r := range resources {
		if err := c.AddResource(r.url, r.doc); err != nil {
			return nil, fmt.Errorf("setting %q: %v: %w", r.key, trimURLs(err.Error()), ErrInvalid)
		}
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, compileError(err, resources)
	}
	return sch, nil
}

// compileError words why a setting's schema did not compile, naming the
// setting and at most a few of the library's findings.
func compileError(err error, resources []resource) error {
	where := "a schema"
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if !errors.As(err, &sve) || !errors.As(sve.Err, &ve) {
		return fmt.Errorf("%s is not a valid JSON Schema: %v: %w", where, trimURLs(err.Error()), ErrInvalid)
	}
	for _, r := range resources {
		if strings.TrimSuffix(sve.URL, "#") == r.url {
			where = fmt.Sprintf("setting %q: its schema", r.key)
		}
	}
	var msgs []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			msgs = append(msgs, fmt.Sprintf("at %q: %s", "/"+strings.Join(e.InstanceLocation, "/"),
				e.ErrorKind.LocalizedString(message.NewPrinter(language.English))))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	const maxFindings = 3
	if len(msgs) > maxFindings {
		msgs = append(msgs[:maxFindings], "…")
	}
	return fmt.Errorf("%s is not a valid JSON Schema: %s: %w", where, strings.Join(msgs, "; "), ErrInvalid)
}

func object(open bool) map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{}, "additionalProperties": open}
}

// refuseLoader keeps a schema from reading files or the network through a
// "$ref".
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("references outside the setting's own schema are not followed: %s", url)
}

// check validates a section and words what failed.
func (s *Schema) check(sch *jsonschema.Schema, section string, v map[string]any) []Violation {
	err := sch.Validate(anyMap(v))
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Rule: RuleSchema, Message: section + ": " + err.Error()}}
	}
	var out []Violation
	seen := make(map[string]bool)
	s.leaves(ve, section, v, &out, seen)
	slices.SortStableFunc(out, func(a, b Violation) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// leaves collects the innermost failures of a validation error: the outer
// ones only say that a part failed.
func (s *Schema) leaves(e *jsonschema.ValidationError, section string, doc map[string]any, out *[]Violation, seen map[string]bool) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			s.leaves(c, section, doc, out, seen)
		}
		return
	}
	key := path(e.InstanceLocation)
	if ap, ok := e.ErrorKind.(*kind.AdditionalProperties); ok {
		for _, p := range ap.Properties {
			k := join(key, segment(p))
			if !seen[k] {
				seen[k] = true
				*out = append(*out, Violation{Key: k, Rule: RuleUnknownKey,
					Message: fmt.Sprintf("%s.%s: not a setting of device type %q", section, k, s.typ)})
			}
		}
		return
	}
	if seen[key] {
		return
	}
	seen[key] = true
	*out = append(*out, s.violation(e, section, key, lookup(doc, e.InstanceLocation)))
}

// violation words one failure: which key, which rule, what was wanted.
func (s *Schema) violation(e *jsonschema.ValidationError, section, key string, got any) Violation {
	at := section + "." + key
	unit := ""
	if st, ok := s.owner(key); ok && st.Unit != "" {
		unit = " " + st.Unit
	}
	v := Violation{Key: key}
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		v.Rule = RuleType
		v.Message = fmt.Sprintf("%s: must be %s, not %s", at, article(strings.Join(k.Want, " or ")), article(k.Got))
	case *kind.Minimum:
		v.Rule = RuleMinimum
		v.Message = fmt.Sprintf("%s: %s is below the minimum %s%s", at, display(got), rat(k.Want), unit)
	case *kind.Maximum:
		v.Rule = RuleMaximum
		v.Message = fmt.Sprintf("%s: %s is above the maximum %s%s", at, display(got), rat(k.Want), unit)
	case *kind.MultipleOf:
		v.Rule = RuleStep
		v.Message = fmt.Sprintf("%s: %s is not a multiple of the step %s%s", at, display(got), rat(k.Want), unit)
	case *kind.Enum:
		v.Rule = RuleEnum
		allowed := make([]string, len(k.Want))
		for i, w := range k.Want {
			allowed[i] = display(w)
		}
		v.Message = fmt.Sprintf("%s: %s is not one of the allowed values %s", at, display(got), strings.Join(allowed, ", "))
	default:
		v.Rule = RuleSchema
		// A failure of an operator's own schema has no wording of
		// Hearth's: the library's English one is used.
		msg := e.ErrorKind.LocalizedString(message.NewPrinter(language.English))
		v.Message = fmt.Sprintf("%s: %s", at, trimURLs(msg))
	}
	return v
}

// owner is the setting a value at key belongs to: the setting of that key,
// or of the nearest enclosing key (an item of an array setting).
func (s *Schema) owner(key string) (store.Setting, bool) {
	for k := key; k != ""; k = parentOf(k) {
		if st, ok := s.Setting(k); ok {
			return st, true
		}
	}
	return store.Setting{}, false
}

// trimURLs drops the schema URLs Hearth made up from a library message;
// they mean nothing to the reader.
func trimURLs(s string) string { return strings.ReplaceAll(s, baseURL, "") }

// path writes the location of a value as a dotted key, quoting a key
// that is empty or holds a dot, so that it cannot pass for another.
func path(loc []string) string {
	var b strings.Builder
	for i, p := range loc {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(segment(p))
	}
	return b.String()
}

func segment(k string) string {
	if k == "" || strings.ContainsAny(k, ".\"\\") {
		return strconv.Quote(k)
	}
	return k
}

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("a setting has an empty key: %w", ErrInvalid)
	}
	for _, part := range strings.Split(key, ".") {
		if part == "" {
			return fmt.Errorf("setting key %q has an empty part; dots separate the keys of nested objects: %w", key, ErrInvalid)
		}
	}
	return nil
}

func parentOf(key string) string {
	i := strings.LastIndexByte(key, '.')
	if i < 0 {
		return ""
	}
	return key[:i]
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// nest puts v at a dotted key: nest("a.b", 1) is {"a": {"b": 1}}.
func nest(key string, v any) map[string]any {
	parts := strings.Split(key, ".")
	m := map[string]any{parts[len(parts)-1]: v}
	for i := len(parts) - 2; i >= 0; i-- {
		m = map[string]any{parts[i]: m}
	}
	return m
}

// withoutNulls drops null values, which delete keys and have no rule to
// follow, and objects left empty by that.
func withoutNulls(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case nil:
		case map[string]any:
			out[k] = withoutNulls(v)
		default:
			out[k] = v
		}
	}
	return out
}

// anyMap hands the validator a map as the any it expects; a nil map is an
// empty object, not null.
func anyMap(m map[string]any) any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func lookup(doc map[string]any, path []string) any {
	var cur any = doc
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// decode reads a JSON value keeping numbers exact, as the shadow documents
// hold them.
func decode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// number writes a bound as a decimal json.Number, so that a step of 0.1 is
// exactly one tenth to the validator, which compares rationals; the binary
// float64 nearest 0.1 would make 21.3 "not a multiple".
func number(f float64) json.Number {
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

func rat(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// display writes a value as JSON, short.
func display(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// article puts "a" or "an" before a JSON type name.
func article(t string) string {
	switch {
	case t == "":
		return "a value"
	case strings.ContainsRune("aeiou", rune(t[0])):
		return "an " + t
	default:
		return "a " + t
	}
}
