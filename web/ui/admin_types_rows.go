package ui

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store"
)

// The device type form edits settings and metrics as rows of fields, one
// field a column and the columns named alike in every row, so the
// browser sends each column as a list in the rows' order. A row whose
// fields are all empty is a row nobody filled in and is left out. What a
// row's fields do not show (a setting's JSON Schema and value labels, a
// label in a third language) rides along in the row's hidden "extra"
// field as JSON and is put back when the row is read.

// formLanguages are the languages the rows have label fields for.
var formLanguages = [...]string{"en", "ja"}

// settingRow is one setting as the form's fields show it.
type settingRow struct {
	Key, Type, Unit, Description string
	LabelEn, LabelJa             string
	Min, Max, Step               string
	// Enum is the allowed values separated by commas: a string by its
	// text, another value by its JSON.
	Enum     string
	Editable bool
	Extra    string
	// Error is why the row was refused.
	Error string
}

// settingExtra is what a setting row keeps beside its fields.
type settingExtra struct {
	Schema      json.RawMessage              `json:"schema,omitempty"`
	ValueLabels map[string]map[string]string `json:"value_labels,omitempty"`
	Labels      map[string]string            `json:"labels,omitempty"` // other languages
}

// metricRow is one metric as the form's fields show it.
type metricRow struct {
	Name, Unit, Description string
	LabelEn, LabelJa        string
	Decimals, Audience      string
	// States is "0 = Stopped / 停止; 1 = Running / 運転": value, the
	// English word, the Japanese word.
	States string
	Extra  string
	Error  string
}

// metricExtra is what a metric row keeps beside its fields.
type metricExtra struct {
	Labels      map[string]string            `json:"labels,omitempty"`       // other languages
	StateLabels map[string]map[string]string `json:"state_labels,omitempty"` // by value, other languages
	// Energy and Outdoor are the metric's energy declaration, kept as
	// they are: the rows have no fields for them, the API edits them.
	Energy  *store.MetricEnergy `json:"energy,omitempty"`
	Outdoor bool                `json:"outdoor,omitempty"`
}

// otherLanguages are labels in languages the rows have no field for.
func otherLanguages(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if !slices.Contains(formLanguages[:], k) {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// withLanguages is labels with the rows' languages set from en and ja;
// an empty field is no label.
func withLanguages(other map[string]string, en, ja string) map[string]string {
	out := maps.Clone(other)
	if out == nil {
		out = map[string]string{}
	}
	for lang, l := range map[string]string{"en": en, "ja": ja} {
		if l = strings.TrimSpace(l); l != "" {
			out[lang] = l
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func marshalExtra(v any, empty bool) string {
	if empty {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func settingRowsOf(sts []store.Setting) []settingRow {
	out := make([]settingRow, 0, len(sts))
	for _, st := range sts {
		vals := make([]string, len(st.Enum))
		for i, e := range st.Enum {
			vals[i] = settings.ValueKey(e)
		}
		ex := settingExtra{Schema: st.Schema, ValueLabels: st.ValueLabels, Labels: otherLanguages(st.Labels)}
		out = append(out, settingRow{
			Key: st.Key, Type: st.Type, Unit: st.Unit, Description: st.Description,
			LabelEn: st.Labels["en"], LabelJa: st.Labels["ja"],
			Min: bound(st.Minimum), Max: bound(st.Maximum), Step: bound(st.Step),
			Enum: strings.Join(vals, ", "), Editable: st.CustomerEditable,
			Extra: marshalExtra(ex, len(ex.Schema) == 0 && ex.ValueLabels == nil && ex.Labels == nil),
		})
	}
	return out
}

func metricRowsOf(ms []store.Metric) []metricRow {
	out := make([]metricRow, 0, len(ms))
	for _, m := range ms {
		ex := metricExtra{Labels: otherLanguages(m.Labels), Energy: m.Energy, Outdoor: m.Outdoor}
		for _, st := range m.States {
			if o := otherLanguages(st.Labels); o != nil {
				if ex.StateLabels == nil {
					ex.StateLabels = map[string]map[string]string{}
				}
				ex.StateLabels[formatNumber(st.Value)] = o
			}
		}
		row := metricRow{Name: m.Name, Unit: m.Unit, Description: m.Description, LabelEn: m.Labels["en"], LabelJa: m.Labels["ja"],
			Audience: m.Audience, States: formatStates(m.States), Extra: marshalExtra(ex, ex.Labels == nil && ex.StateLabels == nil && ex.Energy == nil && !ex.Outdoor)}
		if m.Decimals != nil {
			row.Decimals = strconv.Itoa(*m.Decimals)
		}
		out = append(out, row)
	}
	return out
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// formatStates writes states as the form's field holds them.
func formatStates(states []store.MetricState) string {
	parts := make([]string, 0, len(states))
	for _, st := range states {
		p := formatNumber(st.Value) + " = " + st.Labels["en"]
		if ja := st.Labels["ja"]; ja != "" {
			p += " / " + ja
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// parseStates reads the form's states field: items separated by ';',
// each "value = English / Japanese", the Japanese word optional.
func parseStates(s string) ([]store.MetricState, error) {
	var out []store.MetricState
	for item := range strings.SplitSeq(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		value, words, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf(`states: %q: write each state as "value = English / 日本語", states separated by ";"`, item)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf(`states: %q: the value %q is not a number`, item, strings.TrimSpace(value))
		}
		en, ja, _ := strings.Cut(words, "/")
		labels := withLanguages(nil, en, ja)
		if labels == nil {
			return nil, fmt.Errorf(`states: %q: the state has no word`, item)
		}
		out = append(out, store.MetricState{Value: v, Labels: labels})
	}
	return out, nil
}

// column reads one column of the rows: the values of a field name in the
// order the browser sent them.
func column(form url.Values, name string, n int) []string {
	vs := form[name]
	out := make([]string, n)
	copy(out, vs)
	return out
}

// readSettingRows reads the settings rows of the form.
func readSettingRows(form url.Values) []settingRow {
	n := len(form["setting.key"])
	keys, types, units, descs := column(form, "setting.key", n), column(form, "setting.type", n), column(form, "setting.unit", n), column(form, "setting.description", n)
	ens, jas := column(form, "setting.label_en", n), column(form, "setting.label_ja", n)
	mins, maxs, steps := column(form, "setting.min", n), column(form, "setting.max", n), column(form, "setting.step", n)
	enums, edits, extras := column(form, "setting.enum", n), column(form, "setting.editable", n), column(form, "setting.extra", n)
	var out []settingRow
	for i := range n {
		r := settingRow{Key: strings.TrimSpace(keys[i]), Type: types[i], Unit: strings.TrimSpace(units[i]), Description: strings.TrimSpace(descs[i]),
			LabelEn: strings.TrimSpace(ens[i]), LabelJa: strings.TrimSpace(jas[i]), Min: strings.TrimSpace(mins[i]), Max: strings.TrimSpace(maxs[i]),
			Step: strings.TrimSpace(steps[i]), Enum: strings.TrimSpace(enums[i]), Editable: edits[i] == "yes", Extra: extras[i]}
		if r.Key == "" && r.Unit == "" && r.Description == "" && r.LabelEn == "" && r.LabelJa == "" && r.Min == "" && r.Max == "" &&
			r.Step == "" && r.Enum == "" && r.Extra == "" {
			continue
		}
		out = append(out, r)
	}
	return out
}

// readMetricRows reads the metrics rows of the form.
func readMetricRows(form url.Values) []metricRow {
	n := len(form["mt.name"])
	names, units, descs := column(form, "mt.name", n), column(form, "mt.unit", n), column(form, "mt.description", n)
	ens, jas, decs := column(form, "mt.label_en", n), column(form, "mt.label_ja", n), column(form, "mt.decimals", n)
	auds, states, extras := column(form, "mt.audience", n), column(form, "mt.states", n), column(form, "mt.extra", n)
	var out []metricRow
	for i := range n {
		r := metricRow{Name: strings.TrimSpace(names[i]), Unit: strings.TrimSpace(units[i]), Description: strings.TrimSpace(descs[i]),
			LabelEn: strings.TrimSpace(ens[i]), LabelJa: strings.TrimSpace(jas[i]), Decimals: strings.TrimSpace(decs[i]),
			Audience: auds[i], States: strings.TrimSpace(states[i]), Extra: extras[i]}
		if r.Name == "" && r.Unit == "" && r.Description == "" && r.LabelEn == "" && r.LabelJa == "" && r.Decimals == "" &&
			r.States == "" && r.Extra == "" {
			continue
		}
		out = append(out, r)
	}
	return out
}

// rowError is a refusal of one row of the form, before anything is
// sent to the gate.
func rowError(kind string, i int, name, format string, args ...any) error {
	what := fmt.Sprintf("%s %d", kind, i+1)
	if name != "" {
		what = fmt.Sprintf("%s %q", kind, name)
	}
	return gate.Invalid("%s: %s", what, fmt.Sprintf(format, args...))
}

func optionalNumber(s string) (*float64, bool) {
	if s == "" {
		return nil, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false
	}
	return &f, true
}

// settingsOf turns the rows into settings; a field that cannot be read
// is refused naming the row.
func settingsOf(rows []settingRow) ([]store.Setting, error) {
	out := make([]store.Setting, 0, len(rows))
	for i, r := range rows {
		var ex settingExtra
		if r.Extra != "" {
			if err := json.Unmarshal([]byte(r.Extra), &ex); err != nil {
				return nil, rowError("setting", i, r.Key, "the row's hidden fields were damaged; reload the page")
			}
		}
		st := store.Setting{Key: r.Key, Type: r.Type, Unit: r.Unit, Description: r.Description, CustomerEditable: r.Editable,
			Labels: withLanguages(ex.Labels, r.LabelEn, r.LabelJa), ValueLabels: ex.ValueLabels, Schema: ex.Schema}
		for name, f := range map[string]struct {
			s   string
			dst **float64
		}{"minimum": {r.Min, &st.Minimum}, "maximum": {r.Max, &st.Maximum}, "step": {r.Step, &st.Step}} {
			v, ok := optionalNumber(f.s)
			if !ok {
				return nil, rowError("setting", i, r.Key, "%s %q is not a number", name, f.s)
			}
			*f.dst = v
		}
		for v := range strings.SplitSeq(r.Enum, ",") {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			raw, err := json.Marshal(v)
			if r.Type != store.SettingString {
				if !json.Valid([]byte(v)) {
					return nil, rowError("setting", i, r.Key, "allowed value %q is not a %s", v, r.Type)
				}
				raw, err = []byte(v), nil
			}
			if err != nil {
				return nil, rowError("setting", i, r.Key, "allowed value %q: %v", v, err)
			}
			st.Enum = append(st.Enum, raw)
		}
		out = append(out, st)
	}
	return out, nil
}

// metricsOf turns the rows into metrics; a field that cannot be read is
// refused naming the row.
func metricsOf(rows []metricRow) ([]store.Metric, error) {
	out := make([]store.Metric, 0, len(rows))
	for i, r := range rows {
		var ex metricExtra
		if r.Extra != "" {
			if err := json.Unmarshal([]byte(r.Extra), &ex); err != nil {
				return nil, rowError("metric", i, r.Name, "the row's hidden fields were damaged; reload the page")
			}
		}
		m := store.Metric{Name: r.Name, Unit: r.Unit, Description: r.Description, Labels: withLanguages(ex.Labels, r.LabelEn, r.LabelJa),
			Energy: ex.Energy, Outdoor: ex.Outdoor}
		if r.Audience == store.AudienceOperators {
			m.Audience = r.Audience
		} else if r.Audience != "" && r.Audience != store.AudienceEveryone {
			return nil, rowError("metric", i, r.Name, "audience %q: everyone or operators", r.Audience)
		}
		if r.Decimals != "" {
			d, err := strconv.Atoi(r.Decimals)
			if err != nil {
				return nil, rowError("metric", i, r.Name, "decimals %q: a whole number from 0 to %d", r.Decimals, store.MaxDecimals)
			}
			m.Decimals = &d
		}
		states, err := parseStates(r.States)
		if err != nil {
			return nil, rowError("metric", i, r.Name, "%v", err)
		}
		for j, st := range states {
			for lang, l := range ex.StateLabels[formatNumber(st.Value)] {
				states[j].Labels[lang] = l
			}
		}
		m.States = states
		out = append(out, m)
	}
	return out, nil
}

// rowRefusal finds the row a refusal is about: `setting "key"`, `setting
// 3`, `metric "name"` or `metric 3` in its message. kind is "" when it
// names none.
var rowRefusal = regexp.MustCompile(`\b(setting|metric) (?:"((?:[^"\\]|\\.)*)"|(\d+))`)

// refusedKind is "setting" or "metric" for a refusal about one, else "".
func refusedKind(msg string) string {
	if m := rowRefusal.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// markRow puts msg next to the row it is about; false when it names no
// row of the form.
func markRow(msg string, sts []settingRow, ms []metricRow) bool {
	m := rowRefusal.FindStringSubmatch(msg)
	if m == nil {
		return false
	}
	idx := -1
	if m[3] != "" {
		if n, err := strconv.Atoi(m[3]); err == nil {
			idx = n - 1
		}
	}
	name, _ := strconv.Unquote(`"` + m[2] + `"`)
	switch m[1] {
	case "setting":
		if idx < 0 {
			idx = slices.IndexFunc(sts, func(r settingRow) bool { return r.Key == name })
		}
		if idx >= 0 && idx < len(sts) {
			sts[idx].Error = msg
			return true
		}
	case "metric":
		if idx < 0 {
			idx = slices.IndexFunc(ms, func(r metricRow) bool { return r.Name == name })
		}
		if idx >= 0 && idx < len(ms) {
			ms[idx].Error = msg
			return true
		}
	}
	return false
}

func boolString(b bool) string { return strconv.FormatBool(b) }
