package scheduler

import "time"

// VerifyOpen is verifyOpen, the sweep after lost events, for tests.
func (s *Scheduler) VerifyOpen(now time.Time) { s.verifyOpen(now) }
