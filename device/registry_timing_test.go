package device_test

import (
	"fmt"
	"testing"
)

func BenchmarkAuthenticateSecret(b *testing.B) {
	f := newFixture(b)
	iss := f.create(b, "bench-0")
	for i := 1; i < 100; i++ {
		f.create(b, fmt.Sprintf("bench-%d", i))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.reg.AuthenticateSecret("bench-0", iss.Secret); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkLabels(b *testing.B) {
	f := newFixture(b)
	for i := range 100 {
		f.create(b, fmt.Sprintf("bench-%d", i))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, ok := f.reg.Labels("bench-42"); !ok {
				b.Fatal("unknown device")
			}
		}
	})
}
