//go:build !unix

package loadgen

import "time"

// processUsage is not measured where getrusage is missing.
func processUsage() (cpu time.Duration, maxRSS int64, ok bool) { return 0, 0, false }
