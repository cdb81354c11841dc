package modbus_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"

	"github.com/hearthiot/hearth/modbus"
)

func ptr(v float64) *float64 { return &v }

func TestParseEveryKey(t *testing.T) {
	t.Parallel()
	const text = `source:
  rtu:
    device: /dev/ttyUSB0
    baud: 9600
    parity: none
    stop_bits: 2
  unit_id: 3
  timeout: 250ms
  interval: 5s
  max_gap: 4
word_order: little
points:
  - metric: chw_supply_c
    description: chilled water supply
    function: input
    address: 0x10
    type: int32
    byte_order: little
    scale: 0.01
    offset: -1.5
    unit: °C
    interval: 1m
    unit_id: 7
  - setting: mode
    function: holding
    address: 100
    type: uint16
    writable: true
    values: {off: 0, cooling: 1, heating: 2}
  - metric: chw_setpoint_c
    setting: chw_setpoint_c
    function: holding
    address: 101
    type: float32
    word_order: big
    writable: true
    minimum: 4
    maximum: 15
  - setting: run_enable
    function: coil
    address: 0
    writable: true
  - metric: running
    function: discrete
    address: 0
    values: {stopped: 0, running: 1}
    setting: running
`
	m, err := modbus.Parse(strings.NewReader(text), "chiller.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &modbus.Map{
		Name: "chiller.yaml",
		Source: modbus.Source{
			RTU:    &modbus.Serial{Device: "/dev/ttyUSB0", Baud: 9600, DataBits: 8, Parity: modbus.ParityNone, StopBits: 2},
			UnitID: 3, Timeout: 250 * time.Millisecond, Interval: 5 * time.Second, MaxGap: 4,
		},
		Points: []*modbus.Point{
			{Metric: "chw_supply_c", Description: "chilled water supply", UnitID: 7, Function: modbus.Input, Address: 16, Type: modbus.Int32,
				WordOrder: modbus.Little, ByteOrder: modbus.Little, Scale: 0.01, Offset: -1.5, Unit: "°C", Interval: time.Minute, Line: 13},
			{Setting: "mode", UnitID: 3, Function: modbus.Holding, Address: 100, Type: modbus.Uint16, WordOrder: modbus.Little, Scale: 1, Writable: true,
				Values: map[string]int64{"off": 0, "cooling": 1, "heating": 2}, Line: 24},
			{Metric: "chw_setpoint_c", Setting: "chw_setpoint_c", UnitID: 3, Function: modbus.Holding, Address: 101, Type: modbus.Float32,
				Scale: 1, Writable: true, Minimum: ptr(4), Maximum: ptr(15), Line: 30},
			{Setting: "run_enable", UnitID: 3, Function: modbus.Coil, Address: 0, Type: modbus.Bool, WordOrder: modbus.Little, Scale: 1, Writable: true, Line: 39},
			{Metric: "running", Setting: "running", UnitID: 3, Function: modbus.Discrete, Address: 0, Type: modbus.Bool, WordOrder: modbus.Little, Scale: 1,
				Values: map[string]int64{"stopped": 0, "running": 1}, Line: 43},
		},
	}
	if d := cmp.Diff(want, m, cmpopts.IgnoreUnexported(modbus.Source{})); d != "" {
		t.Errorf("parsed map (-want +got):\n%s", d)
	}
	if p, ok := m.Setting("mode"); !ok || p != m.Points[1] {
		t.Error("Setting(mode) does not find the mode point")
	}
	if p, ok := m.Metric("running"); !ok || p != m.Points[4] {
		t.Error("Metric(running) does not find the running point")
	}
	if _, ok := m.Setting("nope"); ok {
		t.Error("Setting(nope) found something")
	}
	if got := len(m.Writable()); got != 3 {
		t.Errorf("%d writable settings, want 3", got)
	}
}

// header is a valid start of a map, four lines long, so that the first
// point's first line is 5.
const header = "source:\n  tcp: 10.0.0.5:502\npoints:\n"

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		text string
		want []string // each a line of the error
	}{
		{"bad type", header + "  - metric: chw_supply_c\n    function: input\n    address: 0\n    type: int17\n",
			[]string{`chiller.yaml:7: point chw_supply_c: type "int17" is not one of int16, uint16, int32, uint32, float32`}},
		{"unknown key", header + "  - metric: a\n    function: input\n    adress: 0\n    type: int16\n",
			[]string{`chiller.yaml:6: point a: unknown key "adress"; accepted: metric, setting, description, function, address,`,
				`chiller.yaml:4: point a: no address`}},
		{"unknown top-level key", "sauce: {}\n" + header + "  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`chiller.yaml:1: register map: unknown key "sauce"; accepted: source, word_order, byte_order, points`}},
		{"unknown source key", "source:\n  tcp: 10.0.0.5:502\n  port: 502\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`chiller.yaml:3: source: unknown key "port"`}},
		{"duplicate metric", header + "  - {metric: a, function: input, address: 0, type: int16}\n  - {metric: a, function: input, address: 1, type: int16}\n",
			[]string{`chiller.yaml:5: point a: metric a is also the metric of the point on line 4; metric names are unique in a map`}},
		{"duplicate setting", header + "  - {setting: a, function: input, address: 0, type: int16}\n  - {setting: a, function: input, address: 1, type: int16}\n",
			[]string{`chiller.yaml:5: point a: setting a is also the setting of the point on line 4`}},
		{"past the last address", header + "  - {metric: a, function: holding, address: 65535, type: float32}\n",
			[]string{`chiller.yaml:4: point a: float32 at 65535 takes 2 registers, past the last address 65535`}},
		{"address out of range", header + "  - {metric: a, function: holding, address: 70000, type: int16}\n",
			[]string{`chiller.yaml:4: point a: address: want a whole number from 0 to 65535, got the number 70000`}},
		{"negative address", header + "  - {metric: a, function: holding, address: -1, type: int16}\n",
			[]string{`point a: address: want a whole number from 0 to 65535, got the number -1`}},
		{"address as text", header + "  - {metric: a, function: holding, address: forty, type: int16}\n",
			[]string{`point a: address: want a whole number from 0 to 65535, got the text "forty"`}},
		{"writable input register", header + "  - {setting: a, function: input, address: 0, type: int16, writable: true, minimum: 0, maximum: 1}\n",
			[]string{`chiller.yaml:4: point a: writable, but input registers are read-only; only holding registers and coils can be written`,
				`chiller.yaml:4: point a: minimum and maximum bound writes, but the point is not writable`}[:1]},
		{"writable discrete input", header + "  - {setting: a, function: discrete, address: 0, writable: true}\n",
			[]string{`point a: writable, but discrete inputs are read-only`}},
		{"minimum above maximum", header + "  - {setting: a, function: holding, address: 0, type: int16, writable: true, minimum: 12, maximum: 4}\n",
			[]string{`chiller.yaml:4: point a: minimum 12 is above maximum 4`}},
		{"zero scale", header + "  - metric: a\n    function: holding\n    address: 0\n    type: int16\n    scale: 0\n",
			[]string{`chiller.yaml:8: point a: scale 0 makes every reading 0`}},
		{"neither metric nor setting", header + "  - {function: holding, address: 0, type: int16}\n",
			[]string{`chiller.yaml:4: point 1: neither metric nor setting; give the point a metric name, a setting key or both`}},
		{"key twice", header + "  - metric: a\n    function: holding\n    address: 0\n    address: 1\n    type: int16\n",
			[]string{`chiller.yaml:7: point a: address given twice (first on line 6)`}},
		{"no function", header + "  - {metric: a, address: 0, type: int16}\n",
			[]string{`chiller.yaml:4: point a: no function; give one of holding, input, coil, discrete`}},
		{"bad function", header + "  - {metric: a, function: register, address: 0, type: int16}\n",
			[]string{`chiller.yaml:4: point a: function "register" is not one of holding, input, coil, discrete`}},
		{"no type", header + "  - {metric: a, function: input, address: 0}\n",
			[]string{`chiller.yaml:4: point a: no type; give one of int16, uint16, int32, uint32, float32`}},
		{"type on a coil", header + "  - {metric: a, function: coil, address: 0, type: int16}\n",
			[]string{`chiller.yaml:4: point a: type does not apply to a coil, which holds one bit (0 or 1)`}},
		{"scale on a discrete", header + "  - {metric: a, function: discrete, address: 0, scale: 2}\n",
			[]string{`point a: scale does not apply to a discrete`}},
		{"word order of one register", header + "  - {metric: a, function: input, address: 0, type: int16, word_order: little}\n",
			[]string{`point a: word_order does not apply to int16, which is one register`}},
		{"bad order", header + "  - {metric: a, function: input, address: 0, type: int32, byte_order: middle}\n",
			[]string{`point a: byte_order "middle" is not one of big, little`}},
		{"bad metric name", header + "  - {metric: chw-supply, function: input, address: 0, type: int16}\n",
			[]string{`point 1: metric "chw-supply" is not a valid name`}},
		{"reserved metric name", header + "  - {metric: site, function: input, address: 0, type: int16}\n  - {metric: __name__, function: input, address: 1, type: int16}\n",
			[]string{`chiller.yaml:4: point site: metric "site" is reserved`, `chiller.yaml:5: point __name__: metric "__name__" is reserved`}},
		{"values on float32", header + "  - {setting: a, function: holding, address: 0, type: float32, values: {x: 1}}\n",
			[]string{`point a: values need an integer type or a bit, not float32`}},
		{"values share a raw number", header + "  - {setting: a, function: holding, address: 0, type: uint16, values: {on: 1, yes: 1}}\n",
			[]string{`point a: values: on and yes are both 1; each raw value has one name`}},
		{"values with scale", header + "  - {setting: a, function: holding, address: 0, type: uint16, scale: 0.1, values: {on: 1}}\n",
			[]string{`point a: values name raw numbers, so scale and offset do not apply`}},
		{"value past the type", header + "  - {setting: a, function: holding, address: 0, type: uint16, values: {low: -1}}\n",
			[]string{`point a: values: low is -1, beyond uint16's 0 to 65535`}},
		{"value of a bit", header + "  - {setting: a, function: coil, address: 0, values: {on: 2}}\n",
			[]string{`point a: values: on is 2, beyond bool's 0 to 1`}},
		{"values the wrong way round", header + "  - {setting: a, function: holding, address: 0, type: uint16, values: {0: off}}\n",
			[]string{`point a: values: want a name, got the number 0; names go on the left and raw numbers on the right (off: 0)`}},
		{"values without a setting", header + "  - {metric: a, function: holding, address: 0, type: uint16, values: {on: 1}}\n",
			[]string{`point a: values name a setting's raw values, but the point has no setting key`}},
		{"range without writable", header + "  - {setting: a, function: holding, address: 0, type: int16, minimum: 0}\n",
			[]string{`point a: minimum and maximum bound writes, but the point is not writable`}},
		{"writable register without a range", header + "  - {setting: a, function: holding, address: 0, type: int16, writable: true}\n",
			[]string{`point a: a writable register needs minimum and maximum (in engineering units) or values`}},
		{"writable without a setting", header + "  - {metric: a, function: holding, address: 0, type: int16, writable: true, minimum: 0, maximum: 1}\n",
			[]string{`point a: writable, but has no setting key`}},
		{"maximum past the register", header + "  - {setting: a, function: holding, address: 0, type: int16, scale: 0.1, writable: true, minimum: 0, maximum: 5000}\n",
			[]string{`point a: maximum 5000 needs the raw value 50000, beyond int16's -32768 to 32767`}},
		{"overlap", header + "  - {metric: a, function: input, address: 10, type: float32}\n  - {metric: b, function: input, address: 11, type: int16}\n",
			[]string{`chiller.yaml:5: point b: input register 11 overlap point a (input registers 10-11, line 4); each register belongs to one point`}},
		{"alias", header + "  - &p {metric: a, function: input, address: 0, type: int16}\n  - {metric: b, function: input, address: 1, type: int16, unit: *u}\n",
			[]string{`not valid YAML: unknown anchor 'u' referenced`}},
		{"alias value", "u: &u °C\n" + header + "  - {metric: b, function: input, address: 1, type: int16, unit: *u}\n",
			[]string{`chiller.yaml:1: register map: unknown key "u"`, `chiller.yaml:5: point b: unit: aliases (*u) are not supported; write the value out`}},
		{"interval without unit", header + "  - {metric: a, function: input, address: 0, type: int16, interval: 10}\n",
			[]string{`point a: interval: want a duration from 100ms to 24h0m0s such as 10s, got the number 10 (a number needs a unit: 10s or 10ms)`}},
		{"interval too short", header + "  - {metric: a, function: input, address: 0, type: int16, interval: 1ms}\n",
			[]string{`point a: interval "1ms" is not a duration from 100ms to 24h0m0s`}},
		{"no source", "points:\n  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`chiller.yaml:1: register map: no source; give tcp: HOST:PORT or rtu:`}},
		{"no points", "source:\n  tcp: 10.0.0.5:502\n",
			[]string{`chiller.yaml:1: register map: no points`}},
		{"empty points", "source:\n  tcp: 10.0.0.5:502\npoints: []\n",
			[]string{`chiller.yaml:3: register map: points: the list is empty`}},
		{"points not a list", "source:\n  tcp: 10.0.0.5:502\npoints: {a: 1}\n",
			[]string{`chiller.yaml:3: register map: points: want a list of points, got a mapping`}},
		{"point not a mapping", header + "  - chw_supply_c\n",
			[]string{`chiller.yaml:4: point 1: want a mapping of metric, setting,`}},
		{"tcp and rtu", "source:\n  tcp: 10.0.0.5:502\n  rtu: {device: /dev/ttyS0, baud: 9600}\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`chiller.yaml:1: source: tcp and rtu both given; a source is one or the other`}},
		{"neither tcp nor rtu", "source:\n  unit_id: 2\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`chiller.yaml:1: source: neither tcp nor rtu`}},
		{"tcp without port", "source:\n  tcp: 10.0.0.5\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`chiller.yaml:1: source: tcp "10.0.0.5" is not HOST:PORT with a port from 1 to 65535 (Modbus TCP's is 502)`}},
		{"rtu without baud", "source:\n  rtu: {device: /dev/ttyS0}\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`source: rtu: baud 0; give the line's speed, such as 9600 or 19200`}},
		{"rtu with 7 data bits", "source:\n  rtu: {device: /dev/ttyS0, baud: 9600, data_bits: 7}\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`source: rtu: data_bits 7: Modbus RTU sends 8-bit bytes; use 8`}},
		{"rtu parity", "source:\n  rtu: {device: /dev/ttyS0, baud: 9600, parity: mark}\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`chiller.yaml:2: source: rtu: parity "mark" is not one of none, even, odd`}},
		{"rtu broadcast unit", "source:\n  rtu: {device: /dev/ttyS0, baud: 9600}\n  unit_id: 0\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`source: unit_id 0: on a serial line units are 1 to 247`}},
		{"timeout without unit", "source:\n  tcp: 10.0.0.5:502\n  timeout: 1\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`chiller.yaml:3: source: timeout: want a duration from 10ms to 1m0s such as 10s, got the number 1 (a number needs a unit: 1s or 1ms)`}},
		{"max gap", "source:\n  tcp: 10.0.0.5:502\n  max_gap: 100\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n",
			[]string{`chiller.yaml:3: source: max_gap: want a whole number from 0 to 32, got the number 100`}},
		{"empty", "", []string{`chiller.yaml: empty; a register map needs source and points`}},
		{"only a comment", "# nothing yet\n", []string{`chiller.yaml: empty; a register map needs source and points`}},
		{"a list", "- a\n", []string{`chiller.yaml:1: register map: want a mapping of source, word_order, byte_order, points, got a list`}},
		{"syntax", "source:\n  tcp: [10.0.0.5:502\npoints:\n", []string{`not valid YAML: did not find expected ',' or ']'`}},
		{"two documents", header + "  - {metric: a, function: input, address: 0, type: int16}\n---\nsource: {}\n",
			[]string{`chiller.yaml:5: a second YAML document; a register map is one document`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := modbus.Parse(strings.NewReader(c.text), "chiller.yaml")
			var me *modbus.MapError
			if !errors.As(err, &me) {
				t.Fatalf("error %v, want a *MapError", err)
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range c.want {
				found := false
				for _, l := range lines {
					if strings.HasPrefix(l, w) || strings.Contains(l, w) && !strings.HasPrefix(w, "chiller.yaml") {
						found = true
					}
				}
				if !found {
					t.Errorf("error lacks %q; got:\n%s", w, err)
				}
			}
		})
	}
}

// One pass reports every problem, each on its line.
func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	text := header +
		"  - {metric: a, function: input, address: 0, type: int17}\n" +
		"  - {metric: b, function: input, address: 0, type: int16, colour: red}\n" +
		"  - {metric: c, function: input, address: 1, type: int16}\n" +
		"  - {metric: c, function: input, address: 2, type: int16, scale: 0}\n"
	_, err := modbus.Parse(strings.NewReader(text), "m.yaml")
	var me *modbus.MapError
	if !errors.As(err, &me) {
		t.Fatalf("error %v, want a *MapError", err)
	}
	var got []int
	for _, p := range me.Problems {
		got = append(got, p.Line)
	}
	if d := cmp.Diff([]int{4, 5, 7}, got); d != "" {
		t.Errorf("problem lines (-want +got):\n%s\n%s", d, err)
	}

	var many strings.Builder
	many.WriteString(header)
	for i := range 80 {
		fmt.Fprintf(&many, "  - {metric: m%d, function: input, address: %d, type: int99}\n", i, i)
	}
	_, err = modbus.Parse(strings.NewReader(many.String()), "m.yaml")
	if !errors.As(err, &me) || len(me.Problems) != 50 || me.More != 30 || !strings.HasSuffix(err.Error(), "m.yaml: and 30 more problems") {
		t.Errorf("80 bad points: %d problems listed, %d more; want 50 and 30", len(me.Problems), me.More)
	}
}

// The gateway agent keeps a register map as one section of its own file:
// the lines in messages are that file's.
func TestParseNodeOfALargerFile(t *testing.T) {
	t.Parallel()
	const agent = `# gateway agent
thing: chiller-1
broker: mqtts://hearth.example:8883
devices:
  - name: chiller
    registers:
      source:
        tcp: 192.168.1.20:502
      points:
        - metric: chw_supply_c
          function: input
          address: 0
          type: int17
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(agent), &doc); err != nil {
		t.Fatal(err)
	}
	section := doc.Content[0].Content[5].Content[0].Content[3] // devices[0].registers
	_, err := modbus.ParseNode(section, "agent.yaml")
	want := `agent.yaml:13: point chw_supply_c: type "int17" is not one of int16, uint16, int32, uint32, float32`
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	section.Content[3].Content[0].Content[7].Value = "int16"
	m, err := modbus.ParseNode(section, "agent.yaml")
	if err != nil || m.Source.TCP != "192.168.1.20:502" || len(m.Points) != 1 || m.Points[0].Line != 10 {
		t.Errorf("ParseNode = %+v, %v", m, err)
	}
}

// A map built in code is checked by Check and NewClient, with the same
// words and no lines.
func TestCheckMapBuiltInCode(t *testing.T) {
	t.Parallel()
	m := &modbus.Map{Name: "built", Source: modbus.Source{TCP: "127.0.0.1:502"}, Points: []*modbus.Point{
		{Setting: "x", Function: modbus.Input, Type: modbus.Int16, Scale: 1, Writable: true, Minimum: ptr(0), Maximum: ptr(1)},
		{Metric: "y", Function: modbus.Holding, Type: modbus.Bool, Scale: 1},
	}}
	err := m.Check()
	want := "built: point x: writable, but input registers are read-only; only holding registers and coils can be written\n" +
		"built: point y: type bool does not fit a holding"
	if err == nil || err.Error() != want {
		t.Errorf("Check:\n%v\nwant\n%s", err, want)
	}
	if _, err := modbus.NewClient(m, nil); err == nil || !strings.Contains(err.Error(), "point y") {
		t.Errorf("NewClient took a bad map: %v", err)
	}
	if err := (&modbus.Map{Name: "empty", Source: modbus.Source{TCP: "127.0.0.1:502"}}).Check(); err == nil || !strings.Contains(err.Error(), "no points") {
		t.Errorf("Check of a map without points: %v", err)
	}
}

func TestParseRefusesHugeFile(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("#", modbus.MaxMapSize+1)
	if _, err := modbus.Parse(strings.NewReader(big), "big.yaml"); err == nil || !strings.Contains(err.Error(), "at most 1 MiB") {
		t.Errorf("Parse of a huge file: %v", err)
	}
}
