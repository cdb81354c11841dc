//go:build unix

package loadgen

import (
	"syscall"
	"time"
)

// processUsage returns the user and system CPU time this process used so
// far and its peak resident memory in bytes.
func processUsage() (cpu time.Duration, maxRSS int64, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	// Linux reports ru_maxrss in KiB; macOS and the BSDs differ, but this
	// tool reports it only as a rough figure.
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Maxrss) * 1024, true
}
