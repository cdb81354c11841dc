package modbus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/sim/modbussim"
)

// mixedMap is a map of n points cycling through the register types and
// orders, spaced gap registers apart.
func mixedMap(n, gap int) string {
	types := []string{"int16", "uint16", "int32", "uint32", "float32"}
	orders := []string{"big", "little"}
	var b strings.Builder
	b.WriteString("source: {tcp: ADDR, timeout: 2s}\npoints:\n")
	addr := 0
	for i := range n {
		typ := types[i%len(types)]
		fmt.Fprintf(&b, "  - {metric: m%d, function: holding, address: %d, type: %s, byte_order: %s, scale: 0.1", i, addr, typ, orders[i/5%2])
		width := 1
		if !strings.HasSuffix(typ, "16") {
			width = 2
			fmt.Fprintf(&b, ", word_order: %s", orders[i/10%2])
		}
		b.WriteString("}\n")
		addr += width + gap
	}
	return b.String()
}

// benchmarkRead reads 100 mixed points from the simulator over TCP on
// 127.0.0.1, round after round, and reports points per second.
func benchmarkRead(b *testing.B, gap int) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sim, err := modbussim.New(modbussim.Config{Addr: "127.0.0.1:0", Profile: modbussim.Bare}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	if err := sim.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer sim.Stop(context.Background())
	const n = 100
	m, err := modbus.Parse(strings.NewReader(strings.ReplaceAll(mixedMap(n, gap), "ADDR", sim.Addr())), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	c, err := modbus.NewClient(m, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	before := sim.Requests()
	rounds := 0
	for b.Loop() {
		r := c.Read(ctx)
		if len(r.Faults) > 0 || len(r.Readings) != n {
			b.Fatalf("%d readings, faults:%s", len(r.Readings), faultText(r.Faults))
		}
		rounds++
	}
	b.ReportMetric(float64(n*rounds)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(sim.Requests()-before)/float64(rounds), "requests/round")
}

// BenchmarkReadGrouped: 100 contiguous points in 160 registers, read in
// two requests.
func BenchmarkReadGrouped(b *testing.B) { benchmarkRead(b, 0) }

// BenchmarkReadScattered: 100 points with a register between each, one
// request per point.
func BenchmarkReadScattered(b *testing.B) { benchmarkRead(b, 1) }

// BenchmarkDecode is the decoding of one scaled int32 alone.
func BenchmarkDecode(b *testing.B) {
	p := modbus.Point{Metric: "x", Type: modbus.Int32, WordOrder: modbus.Little, Scale: 0.01, Offset: 0}
	wire := []byte{0x12, 0x34, 0x00, 0x01}
	for b.Loop() {
		if _, err := p.Value(wire); err != nil {
			b.Fatal(err)
		}
	}
}
