package server

import (
	"context"
	"time"

	"github.com/hearthiot/hearth/jobs"
)

// startJobService builds the job service before the broker, which routes
// device job requests to it; its rollouts begin in startJobs, once the
// scheduler whose calendars its maintenance windows read runs.
func (s *Server) startJobService(context.Context) error {
	svc, err := jobs.New(jobs.Deps{
		Store: s.store, Devices: s.registry, Publisher: s.out, Calendars: jobCalendars{s}, Artifacts: s.artifacts,
		Logger: s.logger.With("component", "jobs"),
	}, jobs.Config{})
	if err != nil {
		return err
	}
	s.jobs = svc
	return nil
}

// startJobs runs the rollouts of the jobs in progress, resuming where the
// last run left them.
func (s *Server) startJobs(ctx context.Context) error {
	if err := s.jobs.Start(ctx); err != nil {
		return err
	}
	s.onStop("jobs", s.jobs.Stop)
	return nil
}

// jobCalendars answers the job service from the operating calendars.
type jobCalendars struct{ s *Server }

func (c jobCalendars) Zone(device string) (*time.Location, bool) {
	if c.s.scheduler == nil {
		return nil, false
	}
	cal, ok := c.s.scheduler.CalendarOf(device)
	if !ok {
		return nil, false
	}
	return cal.Location(), true
}

// Idle reports whether the device's program has it off at t: the mode the
// last step at or before t set, looking back into the day before.
func (c jobCalendars) Idle(device string, t time.Time) (bool, bool) {
	if c.s.scheduler == nil {
		return false, false
	}
	cal, ok := c.s.scheduler.CalendarOf(device)
	if !ok {
		return false, false
	}
	local := t.In(cal.Location())
	now := local.Format("15:04")
	for back := 0; back < 2; back++ {
		day := cal.Resolve(cal.Today(t).AddDate(0, 0, -back))
		for i := len(day.Steps) - 1; i >= 0; i-- {
			st := day.Steps[i]
			if back == 0 && st.At > now {
				continue
			}
			if mode, ok := st.Set["mode"].(string); ok {
				return mode == "off", true
			}
		}
	}
	return false, true
}
