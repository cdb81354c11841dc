package ui

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hearthiot/hearth/store"
)

// A day's steps are edited as text, a step a line: its time of day, then
// the settings it makes, as key=value separated by commas or spaces:
//
//	07:00 mode=cooling, chw_setpoint=7
//	19:00 mode=off
//
// An arrow may stand between the time and the settings ("07:00 → mode=off"),
// as the pages write them for reading. A value is a number, true or false,
// or text; text that would read as something else (or holds a space, a
// comma or a quote) is written in double quotes as in JSON. The scheduler
// checks what the steps mean: times in order, the device type's rules.

// jsonNumber is a number as JSON writes it; Go's ParseFloat also takes
// "Inf", "0x10" and "1_000", which are text here.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// hourMinute is a time of day with a one-digit hour, which the form takes
// for the two-digit one ("7:00" is "07:00").
var hourMinute = regexp.MustCompile(`^[0-9]:[0-9]{2}$`)

// stepsText writes steps for a textarea, a step a line, keys sorted.
func stepsText(steps []store.CalendarStep) string {
	lines := make([]string, 0, len(steps))
	for _, st := range steps {
		set := setText(st.Set)
		if strings.HasPrefix(set, "→") || strings.HasPrefix(set, "->") {
			// The first key would read as the arrow after the time.
			set = "→ " + set
		}
		lines = append(lines, st.At+" "+set)
	}
	return strings.Join(lines, "\n")
}

// stepLine writes one step for reading: "07:00 → mode=cooling, chw_setpoint=7".
func stepLine(st store.CalendarStep) string { return st.At + " → " + setText(st.Set) }

// setText writes a step's settings, keys sorted.
func setText(set map[string]any) string {
	parts := make([]string, 0, len(set))
	for _, k := range slices.Sorted(maps.Keys(set)) {
		parts = append(parts, k+"="+stepValue(set[k]))
	}
	return strings.Join(parts, ", ")
}

// stepValue writes one setting's value so that parseSteps reads it back
// as the same value.
func stepValue(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" || x == "true" || x == "false" || jsonNumber.MatchString(x) || strings.IndexFunc(x, breaksValue) >= 0 {
			b, _ := json.Marshal(x)
			return string(b)
		}
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// stepsError is a line of steps that cannot be read: the line's number
// and text, and what is wrong as a message key of the catalogue with its
// arguments.
type stepsError struct {
	Line int
	Text string
	Key  string
	Args []any
}

func (e *stepsError) Error() string { return fmt.Sprintf("line %d %q: %s", e.Line, e.Text, e.Key) }

// message says what is wrong in the page's language.
func (e *stepsError) message(v view) string {
	return v.T("cal.steps.bad_line", e.Line, e.Text, v.T(e.Key, e.Args...))
}

// parseSteps reads steps written as stepsText writes them; blank lines
// are skipped. What the steps mean is the scheduler's to check.
func parseSteps(text string) ([]store.CalendarStep, *stepsError) {
	var out []store.CalendarStep
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		st, serr := parseStep(line)
		if serr != nil {
			serr.Line, serr.Text = i+1, line
			return nil, serr
		}
		out = append(out, st)
	}
	return out, nil
}

// stepStart is a step's time of day and what follows it.
var stepStart = regexp.MustCompile(`^([0-9]{1,2}:[0-9]{2})(?:\s*(?:→|->)\s*|\s+|$)(.*)$`)

// parseStep reads one line, or says what is wrong with it.
func parseStep(line string) (store.CalendarStep, *stepsError) {
	if !utf8.ValidString(line) {
		return store.CalendarStep{}, &stepsError{Key: "cal.steps.not_text"}
	}
	m := stepStart.FindStringSubmatch(line)
	if m == nil {
		return store.CalendarStep{}, &stepsError{Key: "cal.steps.no_time"}
	}
	at, rest := m[1], m[2]
	if hourMinute.MatchString(at) {
		at = "0" + at
	}
	st := store.CalendarStep{At: at, Set: map[string]any{}}
	for {
		rest = strings.TrimLeftFunc(rest, separates)
		if rest == "" {
			break
		}
		key, after, ok := strings.Cut(rest, "=")
		if !ok || key == "" || strings.IndexFunc(key, breaksValue) >= 0 {
			return st, &stepsError{Key: "cal.steps.no_pair"}
		}
		var val any
		if strings.HasPrefix(after, `"`) {
			end := closingQuote(after)
			if end < 0 {
				return st, &stepsError{Key: "cal.steps.no_quote", Args: []any{key}}
			}
			var s string
			if err := json.Unmarshal([]byte(after[:end+1]), &s); err != nil {
				return st, &stepsError{Key: "cal.steps.bad_quote", Args: []any{key}}
			}
			val, rest = s, after[end+1:]
		} else {
			end := strings.IndexFunc(after, separates)
			if end < 0 {
				end = len(after)
			}
			val, rest = plainValue(after[:end]), after[end:]
		}
		if _, dup := st.Set[key]; dup {
			return st, &stepsError{Key: "cal.steps.twice", Args: []any{key}}
		}
		st.Set[key] = val
	}
	return st, nil
}

// separates reports whether r separates settings: a comma or a space of
// any kind (the ideographic space of Japanese input too).
func separates(r rune) bool { return r == ',' || unicode.IsSpace(r) }

// breaksValue reports whether r cannot stand in a key or an unquoted
// value: a separator, a quote, '=' or a control character.
func breaksValue(r rune) bool { return separates(r) || r == '"' || r == '=' || unicode.IsControl(r) }

// closingQuote is the index of the quote that ends the JSON string s
// starts with, or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// plainValue reads an unquoted value: a number, true or false, else text.
func plainValue(s string) any {
	switch {
	case s == "true":
		return true
	case s == "false":
		return false
	case jsonNumber.MatchString(s):
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	}
	return s
}
