package scheduler

import (
	"slices"
	"sync"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/de"
	"github.com/rickar/cal/v2/fr"
	"github.com/rickar/cal/v2/gb"
	"github.com/rickar/cal/v2/jp"
	"github.com/rickar/cal/v2/us"
)

// holidaySets are the countries whose public holidays a calendar may
// follow, computed for any year by github.com/rickar/cal.
var holidaySets = map[string][]*cal.Holiday{
	"JP": jp.Holidays,
	"US": us.Holidays,
	"GB": gb.Holidays,
	"DE": de.Holidays,
	"FR": fr.Holidays,
}

// Countries lists the codes of the holiday sets a calendar may follow.
func Countries() []string {
	out := make([]string, 0, len(holidaySets))
	for c := range holidaySets {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// japaneseNames are the names Japan's Cabinet Office gives its national
// holidays, by the English names of the holiday library.
var japaneseNames = map[string]string{
	"New Year's Day":            "元日",
	"Coming of Age Day":         "成人の日",
	"National Foundation Day":   "建国記念の日",
	"The Emperor's Birthday":    "天皇誕生日",
	"Vernal Equinox Day":        "春分の日",
	"Showa Day":                 "昭和の日",
	"Constitution Memorial Day": "憲法記念日",
	"Greenery Day":              "みどりの日",
	"Children's Day":            "こどもの日",
	"Marine Day":                "海の日",
	"Mountain Day":              "山の日",
	"Respect for the Aged Day":  "敬老の日",
	"Autumnal Equinox Day":      "秋分の日",
	"Sports Day":                "スポーツの日",
	"Culture Day":               "文化の日",
	"Labor Thanksgiving Day":    "勤労感謝の日",
	"National holiday between Respect for the Aged Day and Autumnal Equinox Day":          "国民の休日",
	"National Holiday Between Showa Day And New Emperor Enthronement Day":                 "国民の休日",
	"New Emperor Enthronement Day":                                                        "天皇の即位の日",
	"National holiday between New Emperor Enthronement Day and Constitution Memorial Day": "国民の休日",
	"The New Emperor Enthronement Ceremony":                                               "即位礼正殿の儀の行われる日",
}

// substituteName is the name of a day off that stands in for a holiday on
// a Sunday (Japan's 振替休日).
func substituteName(country, holiday string) string {
	if country == "JP" {
		return "振替休日"
	}
	return holiday + " (observed)"
}

// localName is a holiday's name as people of its country call it.
func localName(country, name string) string {
	if country == "JP" {
		if n, ok := japaneseNames[name]; ok {
			return n
		}
	}
	return name
}

// holidayYears computes and keeps each country's holidays of a year, by
// date ("2026-11-23" → "勤労感謝の日"). Holidays do not change, so what is
// computed once is kept for the process.
type holidayYears struct {
	mu    sync.Mutex
	years map[holidayYear]map[string]string
}

type holidayYear struct {
	country string
	year    int
}

var holidayCache = &holidayYears{years: map[holidayYear]map[string]string{}}

// holiday names the public holiday of country on date, "" when there is
// none.
func holiday(country string, date time.Time) string {
	return holidayCache.of(country, date.Year())[date.Format(time.DateOnly)]
}

func (h *holidayYears) of(country string, year int) map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := holidayYear{country, year}
	if m, ok := h.years[key]; ok {
		return m
	}
	m := map[string]string{}
	// A holiday of the year before can be observed in this one (a New
	// Year's Eve on a weekend), so both years are computed.
	for _, y := range []int{year - 1, year} {
		for _, hd := range holidaySets[country] {
			if hd.Type != cal.ObservancePublic && hd.Type != cal.ObservanceBank {
				continue
			}
			actual, observed := hd.Calc(y)
			if !actual.IsZero() && actual.Year() == year {
				m[actual.Format(time.DateOnly)] = localName(country, hd.Name)
			}
			if !observed.IsZero() && !observed.Equal(actual) && observed.Year() == year {
				d := observed.Format(time.DateOnly)
				if _, taken := m[d]; !taken {
					m[d] = substituteName(country, localName(country, hd.Name))
				}
			}
		}
	}
	h.years[key] = m
	return m
}
