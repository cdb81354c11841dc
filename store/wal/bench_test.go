package wal_test

import (
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/store/wal"
)

// BenchmarkGroupCommit writes 20-sample records from many goroutines at
// once, as the broker's connections do, and reports records per commit
// and per second.
func BenchmarkGroupCommit(b *testing.B) {
	for _, writers := range []int{1, 16, 256} {
		b.Run("writers="+itoa(writers), func(b *testing.B) {
			l, _, err := wal.Open(b.TempDir(), wal.Options{}, func(wal.Record) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(true)
			r := record("dev", 1)
			for len(r.Points) < 20 {
				r.Points = append(r.Points, r.Points[0])
			}
			var wg sync.WaitGroup
			per := b.N/writers + 1
			start := time.Now()
			b.ResetTimer()
			for range writers {
				wg.Go(func() {
					for range per {
						if err := l.Write(r); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			st := l.Stats()
			b.ReportMetric(float64(st.Records)/float64(st.Syncs), "records/commit")
			b.ReportMetric(float64(st.Records)/time.Since(start).Seconds(), "records/s")
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
