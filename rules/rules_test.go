package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store"
)

// devices is a fixed registry: gw-1 is a gateway that speaks for iaq-7.
type devices struct{}

func (devices) Device(name string) (store.Device, error) {
	switch name {
	case "gw-1":
		return store.Device{Name: name, Customer: "acme", Site: "tower"}, nil
	case "iaq-7":
		return store.Device{Name: name, Customer: "acme", Site: "tower", Attributes: map[string]string{GatewayAttribute: "gw-1"}}, nil
	case "other":
		return store.Device{Name: name, Customer: "acme", Site: "tower"}, nil
	}
	return store.Device{}, store.ErrNotFound
}

func (d devices) Labels(name string) (string, string, bool) {
	dev, err := d.Device(name)
	return dev.Customer, dev.Site, err == nil
}

var now = time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)

// run translates and applies a statement to a message of gw-1.
func run(t *testing.T, sql, topic, payload string) Result {
	t.Helper()
	e := &Engine{d: Deps{Devices: devices{}}, stats: map[string]*counters{}}
	res, err := e.DryRun(store.MessageRule{ID: "r", Name: "r", SQL: sql, Actions: []store.RuleAction{{Kind: ActionTelemetry}}}, "gw-1", topic, []byte(payload), now)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return res
}

// Statements from AWS IoT SQL's documentation and its common uses,
// translated and run on a message.
func TestSQLExamples(t *testing.T) {
	for _, c := range []struct {
		sql, topic, payload string
		matched             bool
		values              string // the mapped values as JSON
	}{
		{"SELECT * FROM 'iot/test'", "iot/test", `{"a": 1, "b": "x"}`, true, `{"a":1,"b":"x"}`},
		{"SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50", "topic/subtopic", `{"color": "red", "temperature": 51}`, true, `{"rgb":"red"}`},
		{"SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50", "topic/subtopic", `{"color": "red", "temperature": 49}`, false, `null`},
		{"SELECT temperature FROM 'a/b' WHERE temperature > 50 AND humidity < 30", "a/b", `{"temperature": 60, "humidity": 20}`, true, `{"temperature":60}`},
		{"select temperature from 'a/b' where temperature > 50 or humidity < 30", "a/b", `{"temperature": 10, "humidity": 20}`, true, `{"temperature":10}`},
		{"SELECT topic(2) AS site, topic() AS t, state.reported.temp AS temp FROM 'dt/+/data'", "dt/tower/data", `{"state": {"reported": {"temp": 7}}}`, true, `{"site":"tower","t":"dt/tower/data","temp":7}`},
		{"SELECT *, timestamp() AS received FROM 'my/topic'", "my/topic", `{"v": 1}`, true, fmt.Sprintf(`{"received":%d,"v":1}`, now.UnixMilli())},
		{"SELECT concat(a, '-', b) AS c FROM 'x'", "x", `{"a": "p", "b": 2}`, true, `{"c":"p-2"}`},
		{"SELECT abs(temp - 20) AS deviation FROM 'x' WHERE temp <> 0", "x", `{"temp": 12}`, true, `{"deviation":8}`},
		{"SELECT (temp - 32) * 5 / 9 AS celsius FROM 'x' WHERE NOT (status = 'off')", "x", `{"temp": 212, "status": "on"}`, true, `{"celsius":100}`},
		{"SELECT clientid() AS cid FROM 'x' WHERE a IS NOT NULL", "x", `{"a": 0}`, true, `{"cid":"gw-1"}`},
		{"SELECT clientid() AS cid FROM 'x' WHERE a IS NULL", "x", `{"a": 0}`, false, `null`},
		{"SELECT missing.deep.field AS m, v FROM 'x'", "x", `{"v": 1}`, true, `{"v":1}`},
		{"SELECT round(power(v, 2)) AS sq, mod(v, 2) AS odd, sqrt(16) AS four FROM 'x'", "x", `{"v": 3}`, true, `{"four":4,"odd":1,"sq":9}`},
		{"SELECT lower(s) AS l, upper(s) AS u FROM 'x' WHERE isundefined(nope)", "x", `{"s": "Ab"}`, true, `{"l":"ab","u":"AB"}`},
		{"SELECT v FROM 'x/#'", "x/y/z", `{"v": 1}`, true, `{"v":1}`},
		{"SELECT v FROM 'x/+'", "x/y/z", `{"v": 1}`, false, `null`},
		{"SELECT v FROM 'x' WHERE s = 'it''s'", "x", `{"v": 1, "s": "it's"}`, true, `{"v":1}`},
	} {
		res := run(t, c.sql, c.topic, c.payload)
		got, _ := json.Marshal(res.Values)
		if res.Matched != c.matched || string(got) != c.values || res.Error != "" && c.matched {
			t.Errorf("%s on %s: matched %v, values %s, error %q; want %v, %s", c.sql, c.payload, res.Matched, got, res.Error, c.matched, c.values)
		}
	}
}

// The device and time a mapping names, and what is refused.
func TestMappingDeviceAndTime(t *testing.T) {
	res := run(t, "SELECT temp AS chw_supply_c, ts FROM 'dt/+/+/data'", "dt/tower/gw-1/data", `{"temp": 7.1, "ts": "2026-12-07T10:00:00+09:00"}`)
	if res.Error != "" || res.Device != "gw-1" || !res.Time.Equal(now) || len(res.Actions) != 1 ||
		string(res.Actions[0].Payload) != fmt.Sprintf(`{"ts":%d,"values":{"chw_supply_c":7.1}}`, now.UnixMilli()) {
		t.Fatalf("mapped: %+v", res)
	}
	// A gateway speaks for the devices whose gateway attribute names it.
	res = run(t, "SELECT sensor AS device, co2 FROM 'gw/+'", "gw/a", `{"sensor": "iaq-7", "co2": 612}`)
	if res.Error != "" || res.Device != "iaq-7" {
		t.Fatalf("gateway's sensor: %+v", res)
	}
	for payload, says := range map[string]string{
		`{"sensor": "other", "co2": 612}`:  "may speak only for itself",
		`{"sensor": "nobody", "co2": 612}`: "may speak only for itself",
		`{"sensor": 5, "co2": 612}`:        "may speak only for itself",
	} {
		if res := run(t, "SELECT sensor AS device, co2 FROM 'gw/+'", "gw/a", payload); !strings.Contains(res.Error, says) {
			t.Errorf("%s: %+v; want %q", payload, res, says)
		}
	}
	for payload, says := range map[string]string{
		`[1, 2]`:                     "not a JSON object",
		`{"v": 1} {"v": 2}`:          "after its JSON object",
		`{"v": 1, "ts": "tomorrow"}`: "timestamp",
		`{"v": 1, "ts": -5}`:         "out of range",
		`{"v": "x"}`:                 "",
	} {
		res := run(t, "SELECT v, ts FROM 'x'", "x", payload)
		if says != "" && !strings.Contains(res.Error, says) {
			t.Errorf("%s: %+v; want an error saying %q", payload, res, says)
		}
		if says == "" && (res.Error != "" || res.Actions[0].Error != "no numeric values to store") {
			t.Errorf("%s: %+v; want the telemetry action refusing it", payload, res)
		}
	}
	for in, want := range map[any]int64{
		"2026-12-07T01:00:00Z": now.UnixMilli(), "2026-12-07T10:00:00.250+09:00": now.UnixMilli() + 250,
		float64(now.Unix()): now.UnixMilli(), float64(now.UnixMilli()): now.UnixMilli(), "1796605200": now.UnixMilli(),
	} {
		if got, err := ParseTime(in); err != nil || got.UnixMilli() != want {
			t.Errorf("ParseTime(%v) = %v, %v; want %d", in, got, err, want)
		}
	}
}

// Statements that cannot be translated say where and why.
func TestSQLRefused(t *testing.T) {
	for sql, says := range map[string]string{
		"DELETE FROM 'x'":                    "begins with SELECT",
		"SELECT a":                           "FROM",
		"SELECT a FROM x":                    "single quotes",
		"SELECT a FROM 'x":                   "not closed",
		"SELECT a FROM 'x' ORDER BY a":       "only WHERE",
		"SELECT a FROM 'x' WHERE":            "needs a condition",
		"SELECT md5(a) AS h FROM 'x'":        "function md5 is not supported",
		"SELECT a + 1 FROM 'x'":              "needs AS name",
		"SELECT a AS 'b' FROM 'x'":           "AS",
		"SELECT a FROM 'x' WHERE b = \"c\"":  "single quotes",
		"SELECT a FROM 'x' WHERE b IN ('c')": "IN is not supported",
		"SELECT a, FROM 'x'":                 "empty item",
		"SELECT a FROM 'x' WHERE s = 'open":  "not closed",
		"SELECT a FROM 'x' WHERE a ~ 1":      "unexpected",
	} {
		if _, _, _, err := TranslateSQL(sql); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("TranslateSQL(%q) = %v; want an error saying %q", sql, err, says)
		}
	}
}

// FuzzTranslateSQL: whatever the statement, translation either fails with
// an SQLError or gives a rule that compiles or is refused with a rule
// Error; it never panics.
func FuzzTranslateSQL(f *testing.F) {
	for _, s := range []string{"SELECT * FROM 'a/b'", "SELECT a AS b, topic(2) AS c FROM 'a/+/c' WHERE a > 1 AND NOT b IS NULL",
		"SELECT concat(a, 'x''y') AS z FROM '#'", "SELECT (a - 32) * 5 / 9 AS c FROM 'x' WHERE s <> 'off' OR t = true", "select"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		topic, cond, fields, err := TranslateSQL(sql)
		if err != nil {
			if _, ok := err.(*SQLError); !ok {
				t.Fatalf("TranslateSQL(%q): %T %v", sql, err, err)
			}
			return
		}
		_, err = Compile(store.MessageRule{ID: "r", Name: "r", Topic: topic, Condition: cond, Select: fields, Actions: []store.RuleAction{{Kind: ActionTelemetry}}})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Compile of %q: %T %v", sql, err, err)
			}
		}
	})
}

// FuzzMapping: whatever a device sends, a rule's evaluation returns (an
// error, or values), and never panics.
func FuzzMapping(f *testing.F) {
	for _, s := range []string{`{"temp": 7.1, "ts": "2026-12-07T10:00:00+09:00"}`, `{"sensor": "iaq-7", "co2": 1}`, `[]`, `{"ts": 1e300}`, `{"temp": "x"}`, `nul`} {
		f.Add(s)
	}
	e := &Engine{d: Deps{Devices: devices{}}, stats: map[string]*counters{}}
	r := store.MessageRule{ID: "r", Name: "r", SQL: "SELECT temp * 1.8 + 32 AS f, sensor AS device, ts, concat(a, b) AS c FROM 'dt/#' WHERE temp > -100 OR isundefined(temp)",
		Actions: []store.RuleAction{{Kind: ActionTelemetry}, {Kind: ActionShadow}, {Kind: ActionRepublish, Topic: "hearth/things/${device}/m"}}}
	f.Fuzz(func(t *testing.T, payload string) {
		res, err := e.DryRun(r, "gw-1", "dt/x", []byte(payload), now)
		if err != nil {
			t.Fatal(err)
		}
		if res.Matched && res.Error == "" && len(res.Actions) != 3 {
			t.Fatalf("%q: %d actions", payload, len(res.Actions))
		}
	})
}
