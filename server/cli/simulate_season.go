package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hearthiot/hearth/protocol/control"
	"github.com/hearthiot/hearth/sim/season"
)

// runSimulateSeason runs the simulator's buildings through a season with
// and without the energy-saving strategies and prints the comparison: the
// table of docs/strategies.md.
func runSimulateSeason(_ context.Context, io IO, args []string) error {
	fs := newFlagSet("simulate season", io)
	strategy := fs.String("strategy", "all", "strategies to compare, comma-separated: "+strings.Join(control.Names, ", ")+", or all")
	seed := fs.Uint64("seed", 1, "seed of the buildings and the weather; the same seed gives the same table")
	from := fs.String("from", "2026-06-01", "first day of the season, `YYYY-MM-DD`")
	to := fs.String("to", "2026-09-30", "last day of the season, `YYYY-MM-DD`")
	step := fs.Duration("step", 5*time.Minute, "physics step, 1m to 15m")
	format := fs.String("format", "table", "output `format`: table (Markdown) or json")
	if err := parse(fs, args, io); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	jst := time.FixedZone("JST", 9*3600)
	f, err := time.ParseInLocation(time.DateOnly, *from, jst)
	if err != nil {
		return fmt.Errorf("%w: --from %q: give a date YYYY-MM-DD", errUsage, *from)
	}
	t, err := time.ParseInLocation(time.DateOnly, *to, jst)
	if err != nil {
		return fmt.Errorf("%w: --to %q: give a date YYYY-MM-DD", errUsage, *to)
	}
	if *step < time.Minute || *step > 15*time.Minute {
		return fmt.Errorf("%w: --step %s: use 1m to 15m", errUsage, *step)
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("%w: --format %q: use table or json", errUsage, *format)
	}
	var names []string
	if *strategy != "all" {
		for _, n := range strings.Split(*strategy, ",") {
			n = strings.TrimSpace(n)
			if !control.Known(n) {
				return fmt.Errorf("%w: --strategy %q: use %s or all", errUsage, n, strings.Join(control.Names, ", "))
			}
			names = append(names, n)
		}
	}
	rs, err := season.Run(season.Config{Seed: *seed, From: f, To: t.AddDate(0, 0, 1), Step: *step, Strategies: names})
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if *format == "json" {
		enc := json.NewEncoder(io.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rs)
	}
	fmt.Fprintf(io.Stdout, "Cooling season %s to %s, seed %d, four buildings (office, hotel, hospital, school), step %s\n\n", *from, *to, *seed, *step)
	return season.WriteTable(io.Stdout, rs)
}
