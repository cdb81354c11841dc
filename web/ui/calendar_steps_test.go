package ui

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/store"
)

func TestParseSteps(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []store.CalendarStep
		key  string // the message key of a refusal
		line int
	}{
		{text: "07:00 mode=cooling, chw_setpoint=7\n\n19:00 mode=off\n", want: []store.CalendarStep{
			{At: "07:00", Set: map[string]any{"mode": "cooling", "chw_setpoint": 7.0}}, {At: "19:00", Set: map[string]any{"mode": "off"}}}},
		{text: "7:30 → on=true eco=false  label=\"Day shift, west\"", want: []store.CalendarStep{
			{At: "07:30", Set: map[string]any{"on": true, "eco": false, "label": "Day shift, west"}}}},
		{text: "06:00->flow=-1.5e1,code=\"7\",name=0x10", want: []store.CalendarStep{
			{At: "06:00", Set: map[string]any{"flow": -15.0, "code": "7", "name": "0x10"}}}},
		{text: "  08:00\tmode=heat  ", want: []store.CalendarStep{{At: "08:00", Set: map[string]any{"mode": "heat"}}}},
		// What the scheduler refuses (no settings, an hour 25) passes here.
		{text: "25:00", want: []store.CalendarStep{{At: "25:00", Set: map[string]any{}}}},
		{text: "", want: nil},
		{text: "07:00 mode=on\nnoon mode=off", key: "cal.steps.no_time", line: 2},
		{text: "07:00 mode", key: "cal.steps.no_pair"},
		{text: "07:00 =on", key: "cal.steps.no_pair"},
		{text: `07:00 label="open`, key: "cal.steps.no_quote"},
		{text: `07:00 label="a\q"`, key: "cal.steps.bad_quote"},
		{text: "07:00 mode=on mode=off", key: "cal.steps.twice"},
	} {
		got, err := parseSteps(tc.text)
		switch {
		case tc.key == "" && err != nil:
			t.Errorf("%q: %v", tc.text, err)
		case tc.key != "" && (err == nil || err.Key != tc.key || tc.line != 0 && err.Line != tc.line):
			t.Errorf("%q: %v; want %s at line %d", tc.text, err, tc.key, tc.line)
		case tc.key == "":
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%q (-want +got):\n%s", tc.text, diff)
			}
		}
	}
}

// FuzzSteps: whatever steps a text reads as, writing them and reading
// them back gives the same steps.
func FuzzSteps(f *testing.F) {
	for _, s := range []string{"07:00 mode=cooling, chw_setpoint=7\n19:00 mode=off", `7:30 → a="x, y" b=true c="true" d=""`, "06:00->x=1e3,y=-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		steps, err := parseSteps(text)
		if err != nil {
			if err.message(view{Lang: "en"}) == "" {
				t.Fatalf("%q: a refusal without words", text)
			}
			return
		}
		again, err := parseSteps(stepsText(steps))
		if err != nil {
			t.Fatalf("%q wrote %q, which reads as %v", text, stepsText(steps), err)
		}
		if diff := cmp.Diff(steps, again); diff != "" && !(len(steps) == 0 && len(again) == 0) {
			t.Fatalf("%q wrote %q (-first +again):\n%s", text, stepsText(steps), diff)
		}
	})
}
