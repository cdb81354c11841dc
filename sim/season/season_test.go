package season_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hearthiot/hearth/protocol/control"
	"github.com/hearthiot/hearth/sim/season"
)

// short is a fortnight of July: long enough for every strategy to act,
// short enough to run twice in a test.
func short(seed uint64, strategies ...string) season.Config {
	jst := time.FixedZone("JST", 9*3600)
	return season.Config{Seed: seed, From: time.Date(2026, 7, 6, 0, 0, 0, 0, jst), To: time.Date(2026, 7, 20, 0, 0, 0, 0, jst), Strategies: strategies}
}

func TestDeterministicForASeed(t *testing.T) {
	a, err := season.Run(short(7))
	if err != nil {
		t.Fatal(err)
	}
	b, err := season.Run(short(7))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("two runs of seed 7 differ (-first +second):\n%s", diff)
	}
	c, err := season.Run(short(8))
	if err != nil {
		t.Fatal(err)
	}
	if a[0].GasM3 == c[0].GasM3 {
		t.Fatalf("seeds 7 and 8 burnt the same gas, %.3f m³: the seed draws nothing", a[0].GasM3)
	}
	var ta, tb bytes.Buffer
	if err := season.WriteTable(&ta, a); err != nil {
		t.Fatal(err)
	}
	season.WriteTable(&tb, b)
	if ta.String() != tb.String() {
		t.Fatalf("tables differ:\n%s\n%s", ta.String(), tb.String())
	}
}

// TestSeasonSavesWithoutDiscomfort is the claim of docs/strategies.md: over
// the cooling season of seed 1, every strategy burns less gas than the
// buildings run by hand, all of them together at least 10 % less, and
// none is less comfortable by more than 1 % of the hours counted.
func TestSeasonSavesWithoutDiscomfort(t *testing.T) {
	rs, err := season.Run(season.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"none"}, control.Names...)
	want = append(want, "all")
	var got []string
	for _, r := range rs {
		got = append(got, r.Name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("runs (-want +got):\n%s", diff)
	}
	none := rs[0]
	if none.GasM3 <= 0 || none.Writes != 0 {
		t.Fatalf("the run without strategies: %+v", none)
	}
	for _, r := range rs[1:] {
		if r.GasM3 >= none.GasM3 {
			t.Errorf("%s burnt %.0f m³, no less than %.0f without it", r.Name, r.GasM3, none.GasM3)
		}
		if r.Writes == 0 {
			t.Errorf("%s changed no setting", r.Name)
		}
		if r.SupplyOffH > 1.01*none.SupplyOffH || r.WarmH > 1.01*none.WarmH || r.CO2H > 1.01*none.CO2H+0.5 {
			t.Errorf("%s is less comfortable: %+v against %+v", r.Name, r, none)
		}
	}
	if all := rs[len(rs)-1]; all.SavedPct < 10 {
		t.Errorf("all strategies saved %.1f %% of the gas, want at least 10 %%", all.SavedPct)
	}
}

func TestRefusesWhatItCannotRun(t *testing.T) {
	for _, c := range []struct {
		cfg  season.Config
		want string
	}{
		{short(1, "night_purge"), `strategy "night_purge"`},
		{season.Config{From: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}, "the end must come after the start"},
		{season.Config{From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, "at most a year"},
	} {
		_, err := season.Run(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Run(%+v) = %v, want an error saying %q", c.cfg, err, c.want)
		}
	}
}
