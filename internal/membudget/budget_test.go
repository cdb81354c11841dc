package membudget_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearthiot/hearth/internal/membudget"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want membudget.Spec
		err  string
	}{
		{in: "2GiB", want: membudget.Spec{Bytes: 2 << 30}},
		{in: "512MiB", want: membudget.Spec{Bytes: 512 << 20}},
		{in: "1TiB", want: membudget.Spec{Bytes: 1 << 40}},
		{in: "65536KiB", want: membudget.Spec{Bytes: 64 << 20}},
		{in: "1073741824", want: membudget.Spec{Bytes: 1 << 30}},
		{in: "50%", want: membudget.Spec{Percent: 50}},
		{in: "12.5%", want: membudget.Spec{Percent: 12.5}},
		{in: "100%", want: membudget.Spec{Percent: 100}},
		{in: "0%", err: "not a share"},
		{in: "101%", err: "not a share"},
		{in: "NaN%", err: "not a share"},
		{in: "%", err: "not a share"},
		{in: "2GB", err: "not a size"},
		{in: "2 GiB", err: "not a size"},
		{in: "-1", err: "not a size"},
		{in: "0", err: "not a size"},
		{in: "007MiB", err: "not a size"},
		{in: "9999999999TiB", err: "not a size"},
		{in: "", err: "not a size"},
	} {
		got, err := membudget.ParseSpec(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSpec(%q) = %+v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if back, err := membudget.ParseSpec(got.String()); err != nil || back != got {
			t.Errorf("ParseSpec(%q.String() = %q) = %+v, %v", tc.in, got.String(), back, err)
		}
	}
}

// system writes the files a Linux system exports under a temporary root:
// relative path → content.
func system(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const meminfo8G = "MemTotal:        8388608 kB\nMemFree:         1000000 kB\n"

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name       string
		files      map[string]string
		spec       membudget.Spec
		want       int64
		wantSource string
		err        string
	}{{
		name:       "cgroup v2 in a namespace",
		files:      map[string]string{"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "1073741824\n"},
		want:       1 << 30,
		wantSource: "cgroup v2",
	}, {
		name: "cgroup v2 nested: the smallest limit on the path counts",
		files: map[string]string{
			"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/system.slice/hearth.service\n",
			"sys/fs/cgroup/memory.max":                                 "max\n",
			"sys/fs/cgroup/system.slice/memory.max":                    "2147483648\n",
			"sys/fs/cgroup/system.slice/hearth.service/memory.max":     "max\n",
			"sys/fs/cgroup/system.slice/hearth.service/memory.current": "1234\n",
		},
		want:       2 << 30,
		wantSource: "cgroup v2",
	}, {
		name:       "cgroup v2 without a limit: half the machine",
		files:      map[string]string{"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/user.slice\n", "sys/fs/cgroup/memory.max": "max\n"},
		want:       4 << 30,
		wantSource: "machine",
	}, {
		name: "cgroup v1",
		files: map[string]string{
			"proc/meminfo":     meminfo8G,
			"proc/self/cgroup": "12:cpuset:/\n11:memory:/docker/abc\n10:cpu,cpuacct:/docker/abc\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "805306368\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":            "9223372036854771712\n",
		},
		want:       768 << 20,
		wantSource: "cgroup v1",
	}, {
		name: "cgroup v1 unlimited, as Docker shows it without -m",
		files: map[string]string{
			"proc/meminfo":     meminfo8G,
			"proc/self/cgroup": "11:memory:/\n0::/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		},
		want:       4 << 30,
		wantSource: "machine",
	}, {
		name:       "a limit above the machine's memory is none",
		files:      map[string]string{"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "17179869184\n"},
		want:       4 << 30,
		wantSource: "machine",
	}, {
		name:       "no cgroup files at all",
		files:      map[string]string{"proc/meminfo": meminfo8G},
		want:       4 << 30,
		wantSource: "machine",
	}, {
		name:       "a share of the cgroup limit",
		files:      map[string]string{"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "1073741824\n"},
		spec:       membudget.Spec{Percent: 75},
		want:       768 << 20,
		wantSource: "75% of cgroup v2",
	}, {
		name:       "a size needs no files",
		spec:       membudget.Spec{Bytes: 3 << 30},
		want:       3 << 30,
		wantSource: "--memory",
	}, {
		name: "a size below the minimum",
		spec: membudget.Spec{Bytes: 1 << 20},
		err:  "below the minimum",
	}, {
		name:  "a share below the minimum",
		files: map[string]string{"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "100000000\n"},
		spec:  membudget.Spec{Percent: 10},
		err:   "below the minimum",
	}, {
		name:  "a damaged limit file",
		files: map[string]string{"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "lots\n"},
		err:   `cannot parse "lots"`,
	}, {
		name:  "no meminfo",
		files: map[string]string{"proc/self/cgroup": "0::/\n"},
		err:   "read the machine's memory",
	}, {
		name:  "a damaged meminfo",
		files: map[string]string{"proc/meminfo": "MemTotal: many\n"},
		err:   "no MemTotal line",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			root := system(t, tc.files)
			got, err := membudget.Resolve(tc.spec, root)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Resolve = %+v, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Bytes != tc.want || got.Source != tc.wantSource {
				t.Errorf("Resolve = %d from %q; want %d from %q", got.Bytes, got.Source, tc.want, tc.wantSource)
			}
		})
	}
}

// The real system's files must parse: whatever this machine is, a budget
// comes out of them.
func TestResolveThisMachine(t *testing.T) {
	b, err := membudget.Resolve(membudget.Spec{}, "/")
	if err != nil {
		t.Fatal(err)
	}
	machine, err := membudget.MachineBytes("/")
	if err != nil {
		t.Fatal(err)
	}
	if b.Bytes <= 0 || b.Bytes > machine {
		t.Errorf("budget %d (%s) outside (0, %d]", b.Bytes, b.Source, machine)
	}
}

func TestWatchHysteresis(t *testing.T) {
	sizes := membudget.Budget{Bytes: 1 << 30}.Split(0)
	if sizes.GoLimit >= sizes.Budget || sizes.TSDBCaches >= sizes.Budget || sizes.ShedHeap >= sizes.GoLimit ||
		sizes.ResumeHeap >= sizes.ShedHeap || sizes.ResumeResident >= sizes.ShedResident || sizes.ShedResident >= sizes.Budget {
		t.Fatalf("shares out of order: %+v", sizes)
	}
	var u membudget.Usage
	w := membudget.NewWatch(sizes, func() membudget.Usage { return u })
	steps := []struct {
		usage membudget.Usage
		want  bool
	}{
		{membudget.Usage{LiveHeap: sizes.ShedHeap - 1}, false},
		{membudget.Usage{LiveHeap: sizes.ShedHeap}, true},
		{membudget.Usage{LiveHeap: sizes.ResumeHeap}, true}, // not below yet
		{membudget.Usage{LiveHeap: sizes.ResumeHeap - 1}, false},
		{membudget.Usage{Resident: sizes.ShedResident}, true},
		{membudget.Usage{Resident: sizes.ResumeResident - 1, LiveHeap: sizes.ResumeHeap}, true},
		{membudget.Usage{Resident: sizes.ResumeResident - 1, LiveHeap: sizes.ResumeHeap - 1}, false},
	}
	for i, st := range steps {
		u = st.usage
		if got := w.Check(); got != st.want || w.Shedding() != st.want {
			t.Errorf("step %d (%+v): shedding %v; want %v", i, st.usage, got, st.want)
		}
	}
	if got := w.Sheds(); got != 2 {
		t.Errorf("sheds = %d; want 2", got)
	}
	if got := membudget.NewWatch(membudget.Budget{Bytes: 1 << 30}.Split(64<<20), nil).Sizes().TSDBCaches; got != 64<<20 {
		t.Errorf("explicit time-series caches = %d; want %d", got, 64<<20)
	}
	// A cap larger than the caches' share comes out of the Go limit: the
	// two together stay within where refusals start, as by default.
	big := membudget.Budget{Bytes: 2 << 30}.Split(1 << 30)
	if big.GoLimit+big.TSDBCaches > big.ShedResident {
		t.Errorf("--tsdb-memory 1GiB of 2GiB: Go limit %d + caches %d pass the refusal level %d", big.GoLimit, big.TSDBCaches, big.ShedResident)
	}
	if small := (membudget.Budget{Bytes: 1 << 30}).Split(64 << 20); small.GoLimit != (1<<30)*7/10 {
		t.Errorf("a cap below the share leaves the Go limit at %d; want 70%% of the budget", small.GoLimit)
	}
}

// Stop without Start returns, and Stop after Start waits for the readings
// to end: no reading reports after it.
func TestWatchStop(t *testing.T) {
	sizes := membudget.Budget{Bytes: 1 << 30}.Split(0)
	done := make(chan struct{})
	go func() {
		membudget.NewWatch(sizes, func() membudget.Usage { return membudget.Usage{} }).Stop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop of a watch never started did not return")
	}
	var reads, after atomic.Int64
	var stopped atomic.Bool
	w := membudget.NewWatch(sizes, func() membudget.Usage {
		reads.Add(1)
		if stopped.Load() {
			after.Add(1)
		}
		return membudget.Usage{}
	})
	w.Start(time.Millisecond, nil)
	for reads.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	w.Stop()
	stopped.Store(true)
	time.Sleep(20 * time.Millisecond)
	if n := after.Load(); n != 0 {
		t.Errorf("%d readings after Stop returned", n)
	}
}

// The process's own readings come from the runtime and /proc.
func TestReadUsage(t *testing.T) {
	u := membudget.ReadUsage()
	if u.Resident <= 0 {
		t.Errorf("resident = %d; want a positive figure", u.Resident)
	}
}

// The collector's pace leaves a collection's goal within half the Go
// limit, in steps of 50, from Go's default up to 400.
func TestGCPercent(t *testing.T) {
	const limit = 1000 << 20
	for _, c := range []struct {
		live int64
		want int
	}{
		{0, membudget.MinGCPercent},         // no collection yet
		{1 << 20, membudget.MaxGCPercent},   // a tiny heap in a large budget
		{100 << 20, membudget.MaxGCPercent}, // goal 500 MiB: exactly half
		{120 << 20, 300},                    // 316 % rounds down to 300
		{200 << 20, 150},                    // goal 500 MiB at 150 %
		{250 << 20, membudget.MinGCPercent}, // 100 % reaches half the limit
		{800 << 20, membudget.MinGCPercent}, // past it: Go's default, and the limit
	} {
		if got := membudget.GCPercent(limit, c.live); got != c.want {
			t.Errorf("GCPercent(%d MiB limit, %d MiB live) = %d; want %d", limit>>20, c.live>>20, got, c.want)
		}
	}
	if got := membudget.GCPercent(0, 1<<20); got != membudget.MinGCPercent {
		t.Errorf("no limit: %d; want %d", got, membudget.MinGCPercent)
	}
}

// A pacing watch sets the pace from each reading, only when it changes.
func TestWatchPacesGC(t *testing.T) {
	sizes := membudget.Budget{Bytes: 1 << 30}.Split(0) // Go limit ~717 MiB
	live := int64(10 << 20)
	w := membudget.NewWatch(sizes, func() membudget.Usage { return membudget.Usage{LiveHeap: live} })
	if got := w.GCPercent(); got != 0 {
		t.Errorf("before PaceGC: %d; want 0", got)
	}
	var set []int
	w.PaceGC(func(p int) int { set = append(set, p); return 0 })
	for _, l := range []int64{10 << 20, 100 << 20, 100 << 20, 500 << 20} {
		live = l
		w.Check()
	}
	// 10 MiB: 400; 100 MiB: a goal of half the limit is 3.6 times it, so
	// 250; 500 MiB: past half the limit, Go's default.
	if want := []int{membudget.MaxGCPercent, 250, membudget.MinGCPercent}; !slices.Equal(set, want) {
		t.Errorf("pace set %v; want %v", set, want)
	}
	if got := w.GCPercent(); got != membudget.MinGCPercent {
		t.Errorf("GCPercent() = %d; want %d", got, membudget.MinGCPercent)
	}
}
