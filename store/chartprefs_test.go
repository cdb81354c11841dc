package store_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/store"
)

// TestChartMetrics: a user keeps the metrics charted per device type; a
// choice of the wrong shape is refused and the stored one stays.
func TestChartMetrics(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	const who = "fm@hearth.example"
	mustOK(t, s.CreateUser(store.User{Email: who, Role: store.RoleOperator}))
	good := map[string][]string{"chiller": {"load_pct", "gas_m3h"}}
	_, err := s.UpdateUser(who, func(u *store.User) error { u.ChartMetrics = good; return nil })
	mustOK(t, err)
	many := map[string][]string{}
	for i := range 65 {
		many["type"+strconv.Itoa(i)] = []string{"co2_ppm"}
	}
	for _, bad := range []map[string][]string{
		{"chiller": {}},
		{"chiller": {"a", "b", "c", "d", "e", "f", "g", "h", "i"}},
		{"chiller": {"co2_ppm,humidity_pct"}},
		{"chiller": {""}},
		{"chiller": {strings.Repeat("m", 129)}},
		{"": {"co2_ppm"}},
		many,
	} {
		_, err := s.UpdateUser(who, func(u *store.User) error { u.ChartMetrics = bad; return nil })
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("chart metrics %v: %v, want ErrInvalid", bad, err)
		}
	}
	u, err := s.GetUser(who)
	mustOK(t, err)
	if !slices.Equal(u.ChartMetrics["chiller"], good["chiller"]) || len(u.ChartMetrics) != 1 {
		t.Errorf("stored chart metrics %v, want %v", u.ChartMetrics, good)
	}
}
