package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/device/shadow"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/protocol/program"
	"github.com/hearthiot/hearth/store"
)

// historyLine is one change of a history entry as a reader sees it:
// "Chilled water set-point: 7 → 8.5 °C (requested)".
type historyLine struct {
	Text string
	// Raw is the JSON the line stands for, shown on demand: a program,
	// or a value too long for one line; "" when the text says it all.
	Raw string
}

// maxInlineJSON is the longest object or array a line shows as it is;
// a longer one is named by its brackets and shown on demand.
const maxInlineJSON = 60

// held is what the device reported, key by key, just before one history
// entry: the value a desired change moved away from, as the device held
// it. A key the device had not reported is absent.
type held map[string]json.RawMessage

// historyWords words history entries in the reader's language, with the
// labels, units and value labels of each device's type.
type historyWords struct {
	v view
	// schemas are the settings of each device's type, by device; nil
	// when the device has no type, or is gone.
	schemas map[string]*settings.Schema
	// before is, by device, shadow and version, what the device
	// reported just before the entry; an entry it lacks has no known
	// reported state, and its desired changes show only where they went.
	before map[shadowKey]map[int64]held
}

type shadowKey struct{ device, shadow string }

// newHistoryWords prepares the words of a page of entries, newest first.
// complete says that the page holds every entry of its devices from the
// newest on (the device page's newest changes): what each device held is
// then worked out from the page itself; otherwise each device's newer
// changes are read.
func newHistoryWords(v view, sc gate.Scope, entries []store.HistoryEntry, complete bool) historyWords {
	w := historyWords{v: v, schemas: map[string]*settings.Schema{}, before: map[shadowKey]map[int64]held{}}
	groups := map[shadowKey][]store.HistoryEntry{}
	wanted := map[shadowKey]bool{}
	var order []shadowKey
	for _, e := range entries {
		if _, ok := w.schemas[e.Device]; !ok {
			// A device that is gone, or a type that is not defined, has
			// no labels: its keys are shown as they are.
			sch, _, _ := sc.Settings(e.Device)
			w.schemas[e.Device] = sch
		}
		k := shadowKey{e.Device, e.Shadow}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
		wanted[k] = wanted[k] || hasSection(e, store.SectionDesired)
	}
	for _, k := range order {
		if wanted[k] {
			w.before[k] = heldOf(sc, k, groups[k], complete)
		}
	}
	return w
}

// heldOf works out what the device reported before each entry of one
// shadow that changes desired values.
//
// The history keeps every accepted change with the old and new value of
// each key, and is only ever cut from its oldest end (retention and each
// device's budget), so the entries newer than a kept one are all kept.
// Starting from the shadow as it is now and undoing the reported changes
// of each entry, newest first, gives the reported state before each one,
// exactly. The chain is followed only while it is whole: versions one
// apart, and not past the device's creation (a device deleted and created
// again under its name keeps the old device's history but not its
// shadow).
func heldOf(sc gate.Scope, k shadowKey, page []store.HistoryEntry, complete bool) map[int64]held {
	d, err := sc.Device(k.device)
	if err != nil {
		return nil
	}
	// The shadow first, then its history: an update that lands between
	// the two shows up as entries newer than the shadow, which are then
	// left without a reported state rather than given a wrong one.
	doc, _, err := sc.Shadow(k.device, k.shadow)
	var se *shadow.Error
	exists := true
	switch {
	case errors.As(err, &se) && se.Code == http.StatusNotFound:
		exists = false
	case err != nil:
		return nil
	}
	chain := page
	if !complete {
		s := k.shadow
		oldest := page[len(page)-1].Time
		chain, _, err = sc.History(k.device, store.HistoryQuery{Shadow: &s, From: oldest, Limit: store.MaxHistoryLimit})
		if err != nil {
			return nil
		}
	}
	state := flatten(nil, "", doc.State.Reported)
	out := map[int64]held{}
	started := !exists
	var last int64
	for _, e := range chain {
		if e.Device != k.device || e.Shadow != k.shadow {
			continue
		}
		if !started {
			if e.Version > doc.Version {
				continue
			}
			if e.Version != doc.Version {
				break
			}
			started = true
		} else if last != 0 && e.Version != last-1 {
			break
		}
		if e.Time.Before(d.CreatedAt) {
			break
		}
		last = e.Version
		// Undone last to first: a key that became an object records its
		// old value before its new leaves, and one that stopped being an
		// object its old leaves before its new value.
		for _, c := range slices.Backward(e.Changes) {
			if c.Section != store.SectionReported {
				continue
			}
			for key := range state {
				if key == c.Key || strings.HasPrefix(key, c.Key+".") {
					delete(state, key)
				}
			}
			if !isNull(c.Old) {
				state[c.Key] = c.Old
			}
		}
		h := held{}
		for _, c := range e.Changes {
			if c.Section == store.SectionDesired {
				if val, ok := state[c.Key]; ok {
					h[c.Key] = val
				}
			}
		}
		out[e.Version] = h
	}
	return out
}

// flatten writes the leaves of a state tree into out by dotted key, as
// the history names changed keys: objects are followed, anything else is
// one value.
func flatten(out map[string]json.RawMessage, prefix string, m map[string]any) map[string]json.RawMessage {
	if out == nil {
		out = map[string]json.RawMessage{}
	}
	for k, val := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := val.(map[string]any); ok {
			flatten(out, key, sub)
			continue
		}
		if b, err := json.Marshal(val); err == nil {
			out[key] = b
		}
	}
	return out
}

func hasSection(e store.HistoryEntry, section string) bool {
	return slices.ContainsFunc(e.Changes, func(c store.HistoryChange) bool { return c.Section == section })
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// lines words the changes of one entry, desired before reported, each
// in the order the type lists its settings. A program is one line with
// its day plan. A request the device clears as it reports the same key
// (a program's step beginning) is said by the report alone.
func (w historyWords) lines(e store.HistoryEntry) []historyLine {
	sch := w.schemas[e.Device]
	classic := e.Shadow == ""
	var heldNow held
	if hs, ok := w.before[shadowKey{e.Device, e.Shadow}]; ok {
		heldNow = hs[e.Version]
	}
	reportedKeys := map[string]bool{}
	for _, c := range e.Changes {
		if c.Section == store.SectionReported {
			reportedKeys[c.Key] = true
		}
	}
	order := orderOf(sch)
	var out []historyLine
	for _, section := range []string{store.SectionDesired, store.SectionReported} {
		var changes []store.HistoryChange
		programTried, programShown := false, false
		for _, c := range e.Changes {
			if c.Section == section {
				changes = append(changes, c)
			}
		}
		slices.SortStableFunc(changes, func(a, b store.HistoryChange) int { return order(a.Key) - order(b.Key) })
		for _, c := range changes {
			if classic && (c.Key == program.Key || strings.HasPrefix(c.Key, program.Key+".")) {
				if !programTried {
					programTried = true
					var l historyLine
					if l, programShown = w.programLine(sch, e, section); programShown {
						out = append(out, l)
					}
				}
				if programShown {
					continue
				}
			}
			if section == store.SectionDesired && isNull(c.New) && reportedKeys[c.Key] {
				continue
			}
			out = append(out, w.changeLine(sch, c, heldNow))
		}
	}
	return out
}

// changeLine words one change of one key.
func (w historyWords) changeLine(sch *settings.Schema, c store.HistoryChange, h held) historyLine {
	st, ok := setting(sch, c.Key)
	label := c.Key
	if ok {
		label = settings.Label(st, w.v.Lang)
	}
	var l historyLine
	val := func(raw json.RawMessage) string {
		s, full := w.value(st, ok, raw)
		if full != "" {
			l.Raw = full
		}
		return s
	}
	var what, note string
	switch c.Section {
	case store.SectionReported:
		note = w.v.T("history.reported")
		if isNull(c.Old) {
			what = val(c.New)
		} else {
			what = w.v.T("history.arrow", val(c.Old), val(c.New))
		}
	default:
		switch {
		case isNull(c.New):
			note = w.v.T("history.withdrawn")
			what = val(c.Old)
		default:
			note = w.v.T("history.requested")
			from, known := h[c.Key]
			if known {
				what = w.v.T("history.arrow", val(from), val(c.New))
			} else {
				what = val(c.New)
			}
			// A request that replaces one the device had not yet
			// taken up says which.
			if !isNull(c.Old) && (!known || !jsonEqual(from, c.Old)) {
				note = w.v.T("history.requested_instead", val(c.Old))
			}
		}
	}
	l.Text = w.v.T("history.line", label, what, note)
	return l
}

// value shows a value of a setting: an allowed value by its label, a
// number with its unit, a string as it is, a boolean as on or off, null
// as none. An object or array too long for a line is named by its
// brackets, and full is its indented JSON.
func (w historyWords) value(st store.Setting, known bool, raw json.RawMessage) (text, full string) {
	if isNull(raw) {
		return w.v.T("history.none"), ""
	}
	if known && len(st.Enum) > 0 {
		return settings.ValueLabel(st, raw, w.v.Lang), ""
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&x) != nil {
		return string(raw), ""
	}
	switch t := x.(type) {
	case json.Number:
		if known && st.Unit != "" {
			return t.String() + " " + st.Unit, ""
		}
		return t.String(), ""
	case bool:
		if t {
			return w.v.T("history.on"), ""
		}
		return w.v.T("history.off"), ""
	case string:
		return t, ""
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw), ""
	}
	if utf8.RuneCount(b.Bytes()) <= maxInlineJSON {
		return b.String(), ""
	}
	var ind bytes.Buffer
	_ = json.Indent(&ind, raw, "", "  ")
	if _, isArray := x.([]any); isArray {
		return "[…]", ind.String()
	}
	return "{…}", ind.String()
}

// planDoc is a program as the history shows it: any values, in order.
type planDoc struct {
	Date  string `json:"date"`
	TZ    string `json:"tz"`
	Steps []struct {
		At  string                     `json:"at"`
		Set map[string]json.RawMessage `json:"set"`
	} `json:"steps"`
}

// programValue is the program a section of the entry's request wrote:
// programs are written whole, by the scheduler and by devices reporting
// them back. ok is false when the request holds none.
func (w historyWords) programValue(e store.HistoryEntry, section string) (json.RawMessage, bool) {
	var req struct {
		State map[string]map[string]json.RawMessage `json:"state"`
	}
	if len(e.Update) == 0 || json.Unmarshal(e.Update, &req) != nil {
		return nil, false
	}
	raw, ok := req.State[section][program.Key]
	return raw, ok
}

// programLine words a program written to a section: its day plan, time
// by time, and its JSON on demand; or that it was removed.
func (w historyWords) programLine(sch *settings.Schema, e store.HistoryEntry, section string) (historyLine, bool) {
	raw, ok := w.programValue(e, section)
	if !ok {
		return historyLine{}, false
	}
	label := w.v.T("history.program")
	if st, ok := setting(sch, program.Key); ok {
		label = settings.Label(st, w.v.Lang)
	}
	note := w.v.T("history.requested")
	if section == store.SectionReported {
		note = w.v.T("history.reported")
	}
	if isNull(raw) {
		if section == store.SectionDesired {
			note = w.v.T("history.withdrawn")
		}
		return historyLine{Text: w.v.T("history.line", label, w.v.T("history.none"), note)}, true
	}
	var p planDoc
	if err := json.Unmarshal(raw, &p); err != nil || len(p.Steps) == 0 {
		return historyLine{}, false
	}
	order := orderOf(sch)
	steps := make([]string, 0, len(p.Steps))
	for _, s := range p.Steps {
		keys := make([]string, 0, len(s.Set))
		for k := range s.Set {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		slices.SortStableFunc(keys, func(a, b string) int { return order(a) - order(b) })
		sets := make([]string, 0, len(keys))
		for _, k := range keys {
			sets = append(sets, w.stepSetting(sch, k, s.Set[k]))
		}
		steps = append(steps, s.At+" "+strings.Join(sets, ", "))
	}
	tz := p.TZ
	if tz == "" {
		tz = time.UTC.String()
	}
	what := w.v.T("history.plan", p.Date, tz, strings.Join(steps, " · "))
	var ind bytes.Buffer
	if json.Indent(&ind, raw, "", "  ") != nil {
		ind.Reset()
		ind.Write(raw)
	}
	return historyLine{Text: w.v.T("history.line", label, what, note), Raw: ind.String()}, true
}

// stepSetting words one setting of a program's step: an allowed value by
// its label alone ("Cooling" says which setting it is), anything else
// after the setting's label ("Chilled water set-point 7 °C").
func (w historyWords) stepSetting(sch *settings.Schema, key string, raw json.RawMessage) string {
	st, ok := setting(sch, key)
	text, _ := w.value(st, ok, raw)
	if ok && len(st.Enum) > 0 {
		return text
	}
	label := key
	if ok {
		label = settings.Label(st, w.v.Lang)
	}
	return label + " " + text
}

// setting is the type's setting of key, if the type defines it.
func setting(sch *settings.Schema, key string) (store.Setting, bool) {
	if sch == nil {
		return store.Setting{}, false
	}
	return sch.Setting(key)
}

// orderOf says where the type lists a key (or the setting that holds
// it); keys it does not list come last.
func orderOf(sch *settings.Schema) func(key string) int {
	var list []store.Setting
	if sch != nil {
		list = sch.Settings()
	}
	return func(key string) int {
		for i, st := range list {
			if st.Key == key || strings.HasPrefix(key, st.Key+".") {
				return i
			}
		}
		return len(list)
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}

// shown reports whether an entry has anything to show: a change or a
// flag. An update that changed nothing (a device reporting again what it
// holds) is left out of the pages.
func shown(e store.HistoryEntry) bool {
	return len(e.Changes) > 0 || len(e.Flags) > 0
}
