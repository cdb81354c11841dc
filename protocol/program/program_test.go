package program_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/protocol/program"
)

const office = `{"date": "2026-12-02", "tz": "Asia/Tokyo", "steps": [
	{"at": "07:00", "set": {"mode": "cooling", "chw_setpoint_c": 7}},
	{"at": "12:00", "set": {"chw_setpoint_c": 8}},
	{"at": "19:00", "set": {"mode": "off"}}]}`

func mustParse(t *testing.T, s string) program.Program {
	t.Helper()
	p, err := program.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSettings(t *testing.T) {
	p := mustParse(t, office)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(day, h, m int) time.Time { return time.Date(2026, 12, day, h, m, 0, 0, tokyo) }
	tests := []struct {
		name string
		t    time.Time
		want map[string]any
	}{
		{"the day before", at(1, 12, 0), nil},
		{"first day, before the first step", at(2, 6, 59), nil},
		{"first step", at(2, 7, 0), map[string]any{"mode": "cooling", "chw_setpoint_c": 7.0}},
		{"second step keeps the mode", at(2, 13, 0), map[string]any{"mode": "cooling", "chw_setpoint_c": 8.0}},
		{"evening", at(2, 23, 59), map[string]any{"mode": "off", "chw_setpoint_c": 8.0}},
		{"next night: yesterday's end holds", at(3, 3, 0), map[string]any{"mode": "off", "chw_setpoint_c": 8.0}},
		{"next morning: the steps repeat", at(3, 7, 30), map[string]any{"mode": "cooling", "chw_setpoint_c": 7.0}},
		{"a week later", at(9, 12, 0), map[string]any{"mode": "cooling", "chw_setpoint_c": 8.0}},
		{"in another zone's terms", time.Date(2026, 12, 2, 22, 30, 0, 0, time.UTC), map[string]any{"mode": "cooling", "chw_setpoint_c": 7.0}}, // 07:30 in Tokyo
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, p.Settings(tt.t)); diff != "" {
				t.Errorf("Settings(%s) (-want +got):\n%s", tt.t, diff)
			}
			step, ok := p.Active(tt.t)
			if ok != (tt.want != nil) {
				t.Errorf("Active(%s) = %v, %v", tt.t, step, ok)
			}
		})
	}
}

func TestNext(t *testing.T) {
	p := mustParse(t, office)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(day, h, m int) time.Time { return time.Date(2026, 12, day, h, m, 0, 0, tokyo) }
	for _, tt := range []struct{ from, want time.Time }{
		{at(1, 9, 0), at(2, 7, 0)},
		{at(2, 7, 0), at(2, 12, 0)},
		{at(2, 19, 0), at(3, 7, 0)},
		{at(2, 6, 0), at(2, 7, 0)},
	} {
		if got, ok := p.Next(tt.from); !ok || !got.Equal(tt.want) {
			t.Errorf("Next(%s) = %s, %v; want %s", tt.from, got, ok, tt.want)
		}
	}
}

// A step in the hour that a change to summer time skips happens at the
// wall-clock time Go normalises it to, and the day after is as usual.
func TestDaylightSaving(t *testing.T) {
	p := mustParse(t, `{"date": "2026-03-07", "tz": "America/New_York", "steps": [{"at": "02:30", "set": {"mode": "heating"}}, {"at": "22:00", "set": {"mode": "off"}}]}`)
	ny, _ := time.LoadLocation("America/New_York")
	from := time.Date(2026, 3, 8, 1, 0, 0, 0, ny)
	next, ok := p.Next(from)
	if !ok || next.In(ny).Day() != 8 || !next.After(from) || next.Sub(from) > 2*time.Hour {
		t.Errorf("next step after 01:00 on the day clocks go forward: %s", next.In(ny))
	}
	if got := p.Settings(time.Date(2026, 3, 9, 12, 0, 0, 0, ny)); got["mode"] != "heating" {
		t.Errorf("the day after the change: %v", got)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tt := range []struct{ doc, path, msg string }{
		{`[]`, "", "cannot parse"},
		{`{"date": "2026-12-02", "steps": [{"at": "07:00", "set": {"m": 1}}]} {}`, "", "text after"},
		{`{"date": "2026-12-02", "steps": [{"at": "07:00", "set": {"m": 1}}], "extra": 1}`, "", "unknown field"},
		{`{"date": "02/12/2026", "steps": [{"at": "07:00", "set": {"m": 1}}]}`, "date", "not a date"},
		{`{"date": "2026-02-30", "steps": [{"at": "07:00", "set": {"m": 1}}]}`, "date", "not a date"},
		{`{"date": "2026-12-02", "tz": "Mars/Olympus", "steps": [{"at": "07:00", "set": {"m": 1}}]}`, "tz", "not a time zone"},
		{`{"date": "2026-12-02", "steps": []}`, "steps", "no steps"},
		{`{"date": "2026-12-02", "steps": [{"at": "7:00", "set": {"m": 1}}]}`, "steps[0].at", "not a time of day"},
		{`{"date": "2026-12-02", "steps": [{"at": "24:00", "set": {"m": 1}}]}`, "steps[0].at", "not a time of day"},
		{`{"date": "2026-12-02", "steps": [{"at": "08:00", "set": {"m": 1}}, {"at": "07:00", "set": {"m": 2}}]}`, "steps[1].at", "not after"},
		{`{"date": "2026-12-02", "steps": [{"at": "08:00", "set": {"m": 1}}, {"at": "08:00", "set": {"m": 2}}]}`, "steps[1].at", "not after"},
		{`{"date": "2026-12-02", "steps": [{"at": "08:00", "set": {}}]}`, "steps[0].set", "no settings"},
		{`{"date": "2026-12-02", "steps": [{"at": "08:00", "set": {"m": {"x": 1}}}]}`, "steps[0].set.m", "a object"},
		{`{"date": "2026-12-02", "steps": [{"at": "08:00", "set": {"m": null}}]}`, "steps[0].set.m", "a null"},
		{`{"date": "2026-12-02", "steps": [{"at": "08:00", "set": {"m": 1e999}}]}`, "steps[0].set.m", "not a number"},
		{`{"date": "2026-12-02", "steps": [{"at": "08:00", "set": {"": 1}}]}`, "steps[0].set", "key"},
	} {
		_, err := program.Parse([]byte(tt.doc))
		var pe *program.Error
		if !errors.As(err, &pe) || pe.Path != tt.path || !strings.Contains(pe.Message, tt.msg) {
			t.Errorf("Parse(%s) = %v; want an error at %q saying %q", tt.doc, err, tt.path, tt.msg)
		}
	}
	many := `{"date": "2026-12-02", "steps": [`
	for i := range program.MaxSteps + 1 {
		if i > 0 {
			many += ","
		}
		many += `{"at": "` + time.Date(0, 1, 1, i/2, (i%2)*30, 0, 0, time.UTC).Format("15:04") + `", "set": {"m": 1}}`
	}
	if _, err := program.Parse([]byte(many + "]}")); err == nil || !strings.Contains(err.Error(), "at most 48") {
		t.Errorf("49 steps: %v", err)
	}
}

func TestFromValue(t *testing.T) {
	v := map[string]any{"date": "2026-12-02", "steps": []any{map[string]any{"at": "06:00", "set": map[string]any{"mode": "heating"}}}}
	p, err := program.FromValue(v)
	if err != nil || p.Location() != time.UTC || p.Steps[0].Minute() != 360 {
		t.Fatalf("FromValue = %+v, %v", p, err)
	}
	if !p.Equal(mustParse(t, `{"date": "2026-12-02", "steps": [{"at": "06:00", "set": {"mode": "heating"}}]}`)) {
		t.Error("the same program parsed two ways is not Equal")
	}
	if _, err := program.FromValue("07:00 on"); err == nil {
		t.Error("a string was taken for a program")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(office))
	f.Add([]byte(`{"date": "2026-03-08", "tz": "America/New_York", "steps": [{"at": "02:30", "set": {"a": true, "b": "x"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := program.Parse(b)
		if err != nil {
			var pe *program.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *program.Error", err)
			}
			return
		}
		// A program that parses evaluates without panicking, at any time,
		// and its next step is after the moment asked about.
		for _, at := range []time.Time{time.Unix(0, 0), time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC), time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)} {
			p.Settings(at)
			if next, ok := p.Next(at); ok && !next.After(at) {
				t.Fatalf("Next(%s) = %s, not after", at, next)
			}
		}
	})
}
