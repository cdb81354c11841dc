package ui

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/device/settings"
	"github.com/hearthiot/hearth/store"
)

// FuzzHistoryLines: whatever a device sent and the history kept — any
// request document, any old and new values, under any key — is worded
// without a panic, one line or more for the changes, each line naming
// the key or its label.
func FuzzHistoryLines(f *testing.F) {
	types, err := device.BuiltinTypes()
	if err != nil {
		f.Fatal(err)
	}
	var sch *settings.Schema
	for _, dt := range types {
		if dt.Name == "boiler" {
			if sch, err = settings.Compile(dt); err != nil {
				f.Fatal(err)
			}
		}
	}
	if sch == nil {
		f.Fatal("no built-in boiler")
	}
	prog := `{"date":"2026-12-02","tz":"Asia/Tokyo","steps":[{"at":"07:00","set":{"mode":"heating","flow_setpoint_c":65}}]}`
	f.Add(`{"state":{"desired":{"program":`+prog+`}}}`, "program.steps", "null", `[{"at":"07:00","set":{"mode":"heating"}}]`, true)
	f.Add(`{"state":{"reported":{"program":null}}}`, "program.date", `"2026-12-01"`, "null", false)
	f.Add(`{"state":{"desired":{"program":{"steps":[{"at":1,"set":[]}]}}}}`, "program", `{"a":1}`, "7", true)
	f.Add(`{"state":{"desired":{"mode":"off"}}}`, "mode", `"heating"`, `"off"`, true)
	f.Add(`not json`, "flow_setpoint_c", "60", strings.Repeat("[", 40), false)
	f.Add(`{"state":{"desired":{"weather_compensation":true}}}`, "weather_compensation", "false", "true", true)
	f.Add(`{}`, "zone.setpoint", `{"x":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]}`, `""`, false)
	f.Fuzz(func(t *testing.T, update, key, old, nu string, desired bool) {
		section := store.SectionReported
		if desired {
			section = store.SectionDesired
		}
		e := store.HistoryEntry{Device: "b", Version: 2, Update: json.RawMessage(update), Changes: []store.HistoryChange{
			{Section: section, Key: key, Old: json.RawMessage(old), New: json.RawMessage(nu)},
		}}
		for _, lang := range []string{"en", "ja"} {
			w := historyWords{
				v:       view{Lang: lang},
				schemas: map[string]*settings.Schema{"b": sch},
				before:  map[shadowKey]map[int64]held{{"b", ""}: {2: {key: json.RawMessage(old)}}},
			}
			lines := w.lines(e)
			if len(lines) != 1 {
				t.Fatalf("%s: %d lines for one change, want 1: %+v", lang, len(lines), lines)
			}
			name := key
			if st, ok := sch.Setting(key); ok {
				name = settings.Label(st, lang)
			} else if strings.HasPrefix(key, "program.") || key == "program" {
				if _, ok := w.programValue(e, section); ok {
					st, _ := sch.Setting("program")
					name = settings.Label(st, lang)
				}
			}
			if !strings.HasPrefix(lines[0].Text, name+": ") {
				t.Errorf("%s: line %q does not begin with %q", lang, lines[0].Text, name)
			}
		}
	})
}
