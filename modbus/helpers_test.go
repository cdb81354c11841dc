package modbus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/sim/modbussim"
)

// testLogger logs to the test's output, and drops what goroutines that
// outlive the test (a simulator's connections closing) log after it.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{w: t.Output()}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(b), nil
	}
	return w.w.Write(b)
}

// startSim runs a simulator on a free port of 127.0.0.1 until the test
// ends.
func startSim(t testing.TB, cfg modbussim.Config) *modbussim.Sim {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := modbussim.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

// parseMap parses a map from text, with the source's address filled in.
func parseMap(t testing.TB, text string, addr string) *modbus.Map {
	t.Helper()
	m, err := modbus.Parse(strings.NewReader(strings.ReplaceAll(text, "ADDR", addr)), t.Name()+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newClient(t testing.TB, m *modbus.Map) *modbus.Client {
	t.Helper()
	c, err := modbus.NewClient(m, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// values are a round's readings by point name.
func values(r modbus.Round) map[string]float64 {
	out := map[string]float64{}
	for _, rd := range r.Readings {
		out[rd.Point.Name()] = rd.Value
	}
	return out
}

func faultText(fs []*modbus.Fault) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s: %v", f.Kind, f)
	}
	return b.String()
}

// eventually waits for cond, failing the test after a generous bound.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// matrixPoint is a point of the matrix map: the raw words it holds at
// first and after a write of newValue, laid out by the tables of
// codec_test.go rather than by the code under test.
type matrixPoint struct {
	name            string
	fn              modbus.Function
	typ             modbus.Type
	layout          layout
	address         uint16
	value, newValue float64
	words, newWords []uint16
}

// matrix is a register map with a point of every register type in every
// word and byte order, in the holding table (writable) and the input
// table, and a coil and a discrete input.
func matrix() (text string, points []matrixPoint) {
	samples := []struct {
		typ         modbus.Type
		abcd, next  []byte
		value, then float64
		lo, hi      string
	}{
		{modbus.Int16, []byte{0xFE, 0xDC}, []byte{0x04, 0xD2}, -292, 1234, "-32768", "32767"},
		{modbus.Uint16, []byte{0xFE, 0xDC}, []byte{0xBE, 0xEF}, 0xFEDC, 0xBEEF, "0", "65535"},
		{modbus.Int32, []byte{0xFE, 0xDC, 0xBA, 0x98}, []byte{0x0A, 0x0B, 0x0C, 0x0D}, -19088744, 0x0A0B0C0D, "-2147483648", "2147483647"},
		{modbus.Uint32, []byte{0x12, 0x34, 0x56, 0x78}, []byte{0xA1, 0xB2, 0xC3, 0xD4}, 0x12345678, 0xA1B2C3D4, "0", "4294967295"},
		{modbus.Float32, []byte{0x42, 0xF6, 0xE9, 0x79}, []byte{0xC0, 0xE8, 0x00, 0x00}, 123.456, -7.25, "-1e6", "1e6"},
	}
	words := func(b []byte) []uint16 {
		out := make([]uint16, len(b)/2)
		for i := range out {
			out[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		return out
	}
	var b strings.Builder
	b.WriteString("source:\n  tcp: ADDR\n  timeout: 2s\npoints:\n")
	for _, fn := range []modbus.Function{modbus.Holding, modbus.Input} {
		addr := uint16(0)
		if fn == modbus.Input {
			addr = 1000
		}
		for _, s := range samples {
			for _, l := range layouts {
				if s.typ.Width() == 1 && l.word == modbus.Little {
					continue // one register has no word order
				}
				p := matrixPoint{name: fmt.Sprintf("%s_%s_%s", fn, s.typ, strings.ToLower(l.name)), fn: fn, typ: s.typ, layout: l,
					address: addr, value: s.value, newValue: s.then, words: words(l.wire(s.abcd)), newWords: words(l.wire(s.next))}
				points = append(points, p)
				addr += uint16(s.typ.Width())
				fmt.Fprintf(&b, "  - {metric: %s, function: %s, address: %d, type: %s, byte_order: %s", p.name, fn, p.address, s.typ, l.byte)
				if s.typ.Width() == 2 {
					fmt.Fprintf(&b, ", word_order: %s", l.word)
				}
				if fn == modbus.Holding {
					fmt.Fprintf(&b, ", setting: %s, writable: true, minimum: %s, maximum: %s", p.name, s.lo, s.hi)
				}
				b.WriteString("}\n")
			}
		}
	}
	b.WriteString("  - {metric: coil_bit, setting: coil_bit, function: coil, address: 9, writable: true}\n")
	b.WriteString("  - {metric: discrete_bit, function: discrete, address: 17}\n")
	return b.String(), points
}

// fill sets the simulator's registers to the matrix's first words.
func fill(s *modbussim.Sim, points []matrixPoint) {
	for _, p := range points {
		s.SetRegisters(p.fn, p.address, p.words...)
	}
	s.SetBits(modbus.Coil, 9, true)
	s.SetBits(modbus.Discrete, 17, true)
}
