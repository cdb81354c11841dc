package gate

import (
	"testing"
	"time"
)

// A month asked for in one zone is the same calendar month in the site's:
// 2026-11 read at midnight in UTC+14 is 2026-11 in Tokyo, not October
// (the instant is October there). The zero time is the site's own
// current month.
func TestReportMonth(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	kiritimati := time.FixedZone("UTC+14", 14*3600)
	honolulu := time.FixedZone("UTC-10", -10*3600)
	now := time.Date(2026, 11, 30, 20, 0, 0, 0, time.UTC) // 1 December in Tokyo
	for _, tt := range []struct {
		month time.Time
		want  time.Time
	}{
		{time.Date(2026, 11, 1, 0, 0, 0, 0, kiritimati), time.Date(2026, 11, 1, 0, 0, 0, 0, tokyo)},
		{time.Date(2026, 11, 1, 0, 0, 0, 0, honolulu), time.Date(2026, 11, 1, 0, 0, 0, 0, tokyo)},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, tokyo)},
		{time.Time{}, time.Date(2026, 12, 1, 0, 0, 0, 0, tokyo)},
	} {
		if got := reportMonth(tt.month, now, tokyo); !got.Equal(tt.want) || got.Location() != tokyo {
			t.Errorf("reportMonth(%s) = %s, want %s", tt.month, got, tt.want)
		}
	}
}
