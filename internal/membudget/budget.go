package membudget

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MachineShare is the share of the machine's memory the budget takes when
// neither a size nor a cgroup limit says otherwise. Half: the time-series
// store reads its data through the kernel's page cache, which needs room
// outside the process, and a machine without a container limit usually
// runs other things beside Hearth (a database, a reverse proxy, backups).
const MachineShare = 0.5

// MinBytes is the smallest budget: below it Hearth cannot hold its own
// code, caches and a few thousand connections.
const MinBytes = 64 << 20

// Spec is what --memory says: a size in bytes, or a percentage of the
// memory available (the cgroup limit, else the machine's memory). The zero
// Spec means "work it out".
type Spec struct {
	Bytes   int64
	Percent float64 // 0 < Percent <= 100 when set
}

// String is the form ParseSpec reads.
func (s Spec) String() string {
	switch {
	case s.Bytes > 0:
		return FormatSize(s.Bytes)
	case s.Percent > 0:
		return strconv.FormatFloat(s.Percent, 'f', -1, 64) + "%"
	}
	return ""
}

// ParseSpec reads a size (bytes, or a whole number with KiB, MiB, GiB or
// TiB) or a percentage (50%, 12.5%).
func ParseSpec(v string) (Spec, error) {
	v = strings.TrimSpace(v)
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || math.IsNaN(p) || p <= 0 || p > 100 {
			return Spec{}, fmt.Errorf("%q is not a share of memory: give more than 0%% and at most 100%%", v)
		}
		return Spec{Percent: p}, nil
	}
	n, err := ParseSize(v)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Bytes: n}, nil
}

// ParseSize reads a byte count with an optional KiB, MiB, GiB or TiB
// suffix: 536870912, 512MiB, 2GiB.
func ParseSize(v string) (int64, error) {
	num, mult := v, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}} {
		if s, ok := strings.CutSuffix(v, u.suffix); ok {
			num, mult = s, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != num || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size: use bytes or KiB, MiB, GiB, TiB (2GiB), or a share (50%%)", v)
	}
	return n * mult, nil
}

// FormatSize prints n in the largest unit that divides it.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// Budget is the memory Hearth may use and where that figure came from.
type Budget struct {
	Bytes int64
	// Source says where Bytes came from: "--memory", "cgroup v2",
	// "cgroup v1" or "machine".
	Source string
	// Available is the memory Bytes was taken from: the cgroup limit when
	// there is one, else the machine's memory (0 when Bytes was a size).
	Available int64
}

// Resolve turns a Spec into a Budget, reading the cgroup and /proc files
// under root ("/" on a real system) when the Spec is not a plain size.
func Resolve(spec Spec, root string) (Budget, error) {
	if spec.Bytes > 0 {
		if spec.Bytes < MinBytes {
			return Budget{}, fmt.Errorf("memory budget %s is below the minimum of %s", FormatSize(spec.Bytes), FormatSize(MinBytes))
		}
		return Budget{Bytes: spec.Bytes, Source: "--memory"}, nil
	}
	machine, err := MachineBytes(root)
	if err != nil {
		return Budget{}, err
	}
	avail, source := machine, "machine"
	if limit, v, err := CgroupLimit(root); err != nil {
		return Budget{}, err
	} else if limit > 0 && limit < machine {
		avail, source = limit, v
	}
	b := Budget{Source: source, Available: avail}
	switch {
	case spec.Percent > 0:
		b.Bytes = int64(float64(avail) * spec.Percent / 100)
		b.Source = strconv.FormatFloat(spec.Percent, 'f', -1, 64) + "% of " + source
	case source == "machine":
		b.Bytes = int64(float64(avail) * MachineShare)
	default:
		// A container's limit is what it was given to run Hearth in.
		b.Bytes = avail
	}
	if b.Bytes < MinBytes {
		return Budget{}, fmt.Errorf("memory budget %s (%s) is below the minimum of %s", FormatSize(b.Bytes), b.Source, FormatSize(MinBytes))
	}
	return b, nil
}

// MachineBytes reads MemTotal from root/proc/meminfo.
func MachineBytes(root string) (int64, error) {
	path := filepath.Join(root, "proc", "meminfo")
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read the machine's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb <= 0 {
			break
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return 0, fmt.Errorf("cannot parse %q: no MemTotal line in kB", path)
}

// CgroupLimit returns the memory limit of the cgroup this process runs in
// and "cgroup v2" or "cgroup v1", or 0 when there is none (no cgroup files,
// or "max"). Nested cgroups each may have a limit; the smallest on the path
// from the process's cgroup up to the root counts.
func CgroupLimit(root string) (int64, string, error) {
	membership, err := os.ReadFile(filepath.Join(root, "proc", "self", "cgroup"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("read the process's cgroup: %w", err)
	}
	var v1Path, v2Path string
	v2 := false
	for _, line := range strings.Split(string(membership), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2, v2Path = true, parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				v1Path = parts[2]
			}
		}
	}
	if v1Path != "" {
		// A v1 memory controller wins over a v2 line of a hybrid set-up,
		// where v2 has no memory controller.
		limit, err := smallestLimit(filepath.Join(root, "sys", "fs", "cgroup", "memory"), v1Path, "memory.limit_in_bytes")
		return limit, "cgroup v1", err
	}
	if v2 {
		limit, err := smallestLimit(filepath.Join(root, "sys", "fs", "cgroup"), v2Path, "memory.max")
		return limit, "cgroup v2", err
	}
	return 0, "", nil
}

// smallestLimit reads file in each directory from mount/path up to mount
// and returns the smallest limit found, 0 for none. Inside a container the
// path /proc/self/cgroup names is often not under the mount (a cgroup
// namespace shows "/"; without one, the host's path): the walk then finds
// only the mount's own file, which is the container's limit.
func smallestLimit(mount, path, file string) (int64, error) {
	var smallest int64
	dir := filepath.Join(mount, filepath.Clean("/"+path))
	for {
		n, err := readLimit(filepath.Join(dir, file))
		if err != nil {
			return 0, err
		}
		if n > 0 && (smallest == 0 || n < smallest) {
			smallest = n
		}
		if dir == mount || len(dir) < len(mount) {
			return smallest, nil
		}
		dir = filepath.Dir(dir)
	}
}

// unlimitedV1 is where cgroup v1 reports "no limit": the largest multiple
// of the page size that fits an int64, or anything near it.
const unlimitedV1 = 1 << 62

// readLimit reads one limit file: a byte count, "max" (none), or missing
// (none).
func readLimit(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cgroup limit: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("cannot parse %q in %s: want a byte count or max", s, path)
	}
	if n >= unlimitedV1 {
		return 0, nil
	}
	return n, nil
}
