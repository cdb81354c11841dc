package modbus

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// span is a planned request in a form easy to compare.
type span struct {
	Unit   uint8
	Fn     Function
	Addr   uint16
	Count  int
	Points int
}

func spans(rs []request) []span {
	out := make([]span, len(rs))
	for i, r := range rs {
		out[i] = span{r.unit, r.fn, r.addr, r.count, len(r.points)}
	}
	return out
}

func pt(unit uint8, fn Function, addr uint16, typ Type) *Point {
	return &Point{Metric: fmt.Sprintf("p%d_%d_%d", unit, fn, addr), UnitID: unit, Function: fn, Address: addr, Type: typ, Scale: 1}
}

func TestPlanGroupsContiguousPointsOfOneUnitAndTable(t *testing.T) {
	t.Parallel()
	points := []*Point{
		pt(1, Input, 4, Int16), pt(1, Input, 0, Float32), pt(1, Input, 2, Uint32), // 0-5, out of order
		pt(1, Input, 6, Int16),                     // after a gap of 1
		pt(1, Holding, 6, Int16),                   // another table
		pt(2, Input, 5, Int16),                     // another unit
		pt(1, Coil, 0, Bool), pt(1, Coil, 1, Bool), // bits
		pt(1, Coil, 3, Bool), // after a gap of 1
		pt(1, Discrete, 1, Bool),
	}
	got := spans(plan(points, 0, nil))
	want := []span{
		{1, Coil, 0, 2, 2}, {1, Coil, 3, 1, 1},
		{1, Discrete, 1, 1, 1},
		{1, Holding, 6, 1, 1},
		{1, Input, 0, 5, 3}, {1, Input, 6, 1, 1},
		{2, Input, 5, 1, 1},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("plan with max_gap 0 (-want +got):\n%s", d)
	}
	got = spans(plan(points, 1, nil))
	want = []span{
		{1, Coil, 0, 4, 3},
		{1, Discrete, 1, 1, 1},
		{1, Holding, 6, 1, 1},
		{1, Input, 0, 7, 4},
		{2, Input, 5, 1, 1},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("plan with max_gap 1 (-want +got):\n%s", d)
	}
}

func TestPlanLimits(t *testing.T) {
	t.Parallel()
	var regs, bits []*Point
	for a := range 300 {
		regs = append(regs, pt(1, Holding, uint16(a), Int16))
	}
	for a := range 4500 {
		bits = append(bits, pt(1, Coil, uint16(a), Bool))
	}
	// float32s from 0: 62 fit in 124 registers, the 63rd would end at 125.
	var floats []*Point
	for a := 0; a < 200; a += 2 {
		floats = append(floats, pt(1, Input, uint16(a), Float32))
	}
	cases := []struct {
		name   string
		points []*Point
		want   []span
	}{
		{"125 registers", regs, []span{{1, Holding, 0, 125, 125}, {1, Holding, 125, 125, 125}, {1, Holding, 250, 50, 50}}},
		{"2000 coils", bits, []span{{1, Coil, 0, 2000, 2000}, {1, Coil, 2000, 2000, 2000}, {1, Coil, 4000, 500, 500}}},
		{"a float32 does not straddle two requests", floats, []span{{1, Input, 0, 124, 62}, {1, Input, 124, 76, 38}}},
		{"the last address", []*Point{pt(1, Input, 65534, Float32), pt(1, Input, 65533, Int16)}, []span{{1, Input, 65533, 3, 2}}},
	}
	for _, c := range cases {
		if d := cmp.Diff(c.want, spans(plan(c.points, 0, nil))); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
	}
}

// A point that failed alone is read alone, and no request reads across it.
func TestPlanKeepsFailingPointsApart(t *testing.T) {
	t.Parallel()
	a, bad, c, d := pt(1, Input, 0, Int16), pt(1, Input, 1, Int16), pt(1, Input, 2, Int16), pt(1, Input, 3, Int16)
	alone := map[*Point]bool{bad: true}
	want := []span{{1, Input, 0, 1, 1}, {1, Input, 1, 1, 1}, {1, Input, 2, 2, 2}}
	if diff := cmp.Diff(want, spans(plan([]*Point{a, bad, c, d}, 0, alone))); diff != "" {
		t.Errorf("with the bad point (-want +got):\n%s", diff)
	}
	// Not asked for, the bad point still keeps a gap-bridging request
	// from reading its register.
	want = []span{{1, Input, 0, 1, 1}, {1, Input, 2, 2, 2}}
	if diff := cmp.Diff(want, spans(plan([]*Point{a, c, d}, 4, alone))); diff != "" {
		t.Errorf("bridging the bad point's register (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]span{{1, Input, 0, 4, 3}}, spans(plan([]*Point{a, c, d}, 4, nil))); diff != "" {
		t.Errorf("bridging a gap (-want +got):\n%s", diff)
	}
}

func TestPlanDropsRepeatedPoints(t *testing.T) {
	t.Parallel()
	a := pt(1, Input, 0, Int16)
	if got := spans(plan([]*Point{a, a, a}, 0, nil)); len(got) != 1 || got[0].Points != 1 {
		t.Errorf("plan of one point three times: %+v", got)
	}
}

func TestCRC16(t *testing.T) {
	t.Parallel()
	// Read 10 holding registers from unit 1: the specification's example.
	frame := []byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A}
	if got := crc16(frame); got != 0xCDC5 {
		t.Errorf("crc16 = %04x, want cdc5 (sent c5 cd)", got)
	}
}

func TestRTUAnswerLength(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		req  []byte
		want int
	}{
		{[]byte{1, 1, 0, 0, 0, 9, 0, 0}, 7},     // 9 coils: 2 bytes
		{[]byte{1, 2, 0, 0, 0, 8, 0, 0}, 6},     // 8 inputs: 1 byte
		{[]byte{1, 3, 0, 0, 0, 125, 0, 0}, 255}, // the most registers
		{[]byte{1, 4, 0, 0, 0, 2, 0, 0}, 9},
		{[]byte{1, 5, 0, 0, 0xFF, 0, 0, 0}, 8},
		{[]byte{1, 6, 0, 0, 0, 1, 0, 0}, 8},
		{[]byte{1, 16, 0, 0, 0, 2, 4, 0, 0, 0, 0, 0, 0}, 8},
		{[]byte{1, 3}, 5},
	} {
		if got := rtuAnswerLength(c.req); got != c.want {
			t.Errorf("rtuAnswerLength(% x) = %d, want %d", c.req, got, c.want)
		}
	}
}
