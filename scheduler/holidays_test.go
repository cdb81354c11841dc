package scheduler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestJapaneseHolidays checks the computed national holidays of 2026 and
// 2027 against the list the Cabinet Office publishes (内閣府「国民の祝日」),
// substitute holidays (振替休日) and the citizens' holiday between 敬老の日
// and 秋分の日 (国民の休日) included.
func TestJapaneseHolidays(t *testing.T) {
	want := map[int]map[string]string{
		2026: {
			"2026-01-01": "元日",
			"2026-01-12": "成人の日",
			"2026-02-11": "建国記念の日",
			"2026-02-23": "天皇誕生日",
			"2026-03-20": "春分の日",
			"2026-04-29": "昭和の日",
			"2026-05-03": "憲法記念日",
			"2026-05-04": "みどりの日",
			"2026-05-05": "こどもの日",
			"2026-05-06": "振替休日",
			"2026-07-20": "海の日",
			"2026-08-11": "山の日",
			"2026-09-21": "敬老の日",
			"2026-09-22": "国民の休日",
			"2026-09-23": "秋分の日",
			"2026-10-12": "スポーツの日",
			"2026-11-03": "文化の日",
			"2026-11-23": "勤労感謝の日",
		},
		2027: {
			"2027-01-01": "元日",
			"2027-01-11": "成人の日",
			"2027-02-11": "建国記念の日",
			"2027-02-23": "天皇誕生日",
			"2027-03-21": "春分の日",
			"2027-03-22": "振替休日",
			"2027-04-29": "昭和の日",
			"2027-05-03": "憲法記念日",
			"2027-05-04": "みどりの日",
			"2027-05-05": "こどもの日",
			"2027-07-19": "海の日",
			"2027-08-11": "山の日",
			"2027-09-20": "敬老の日",
			"2027-09-23": "秋分の日",
			"2027-10-11": "スポーツの日",
			"2027-11-03": "文化の日",
			"2027-11-23": "勤労感謝の日",
		},
	}
	for year, days := range want {
		got := map[string]string{}
		for d := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == year; d = d.AddDate(0, 0, 1) {
			if name := holiday("JP", d); name != "" {
				got[d.Format(time.DateOnly)] = name
			}
		}
		if diff := cmp.Diff(days, got); diff != "" {
			t.Errorf("Japanese holidays of %d (-Cabinet Office +computed):\n%s", year, diff)
		}
	}
}
