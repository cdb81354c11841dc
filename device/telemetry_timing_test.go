package device_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/device"
)

// payload20 is a typical message of an air handler: 20 values, no ts.
func payload20() []byte {
	var b strings.Builder
	b.WriteString("{")
	for i := range 20 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"metric_name_%02d":%d.%d`, i, 100+i*7, i)
	}
	b.WriteString("}")
	return []byte(b.String())
}

func BenchmarkDecodeTelemetry20(b *testing.B) {
	p := payload20()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		rs, err := device.DecodeTelemetry(p, telemetryNow, device.TelemetryLimits{})
		if err != nil || len(rs) != 20 {
			b.Fatalf("DecodeTelemetry: %d readings, %v", len(rs), err)
		}
	}
}

func BenchmarkDecodeTelemetry20Parallel(b *testing.B) {
	p := payload20()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := device.DecodeTelemetry(p, telemetryNow, device.TelemetryLimits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
