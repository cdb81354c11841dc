package server

import (
	"context"
	"time"
)

// historyPruneInterval is how often shadow history past its retention is
// deleted. Pruning runs in small batches, so shadow writes go on meanwhile.
const historyPruneInterval = 6 * time.Hour

// startHousekeeping runs the periodic maintenance of the store: deleting
// shadow history and audit entries older than the configured retention,
// and expired page sessions, once at start and then every historyPruneInterval.
func (s *Server) startHousekeeping(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(historyPruneInterval)
		defer t.Stop()
		for {
			s.pruneHistory(time.Now())
			s.pruneSessions(time.Now())
			s.pruneAudit(time.Now())
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	s.onStop("housekeeping", func(context.Context) error {
		cancel()
		<-done
		return nil
	})
	return nil
}

// pruneHistory deletes shadow history recorded before now minus the
// retention. A failure is logged; the next run tries again.
func (s *Server) pruneHistory(now time.Time) {
	before := now.Add(-s.cfg.HistoryRetention)
	n, err := s.store.PruneHistory(before, 0)
	if err != nil {
		s.logger.Error("prune shadow history", "error", err, "deleted", n)
		return
	}
	if n > 0 {
		s.logger.Info("pruned shadow history", "deleted", n, "before", before.UTC().Format(time.RFC3339))
	}
}

// sessionPruneBatch bounds one transaction of session pruning.
const sessionPruneBatch = 1000

// pruneSessions deletes page sessions that have expired; the store already
// refuses them, this only frees their space. A failure is logged.
func (s *Server) pruneSessions(now time.Time) {
	total := 0
	for {
		n, err := s.store.PruneSessions(now, sessionPruneBatch)
		total += n
		if err != nil {
			s.logger.Error("prune sessions", "error", err, "deleted", total)
			return
		}
		if n < sessionPruneBatch {
			break
		}
	}
	if total > 0 {
		s.logger.Info("pruned expired sessions", "deleted", total)
	}
}

// pruneAudit deletes audit entries older than the history retention; the
// audit log and the history of changes are kept as long.
func (s *Server) pruneAudit(now time.Time) {
	before := now.Add(-s.cfg.HistoryRetention)
	total := 0
	for {
		n, err := s.store.PruneAudit(before, sessionPruneBatch)
		total += n
		if err != nil {
			s.logger.Error("prune audit log", "error", err, "deleted", total)
			return
		}
		if n < sessionPruneBatch {
			break
		}
	}
	if total > 0 {
		s.logger.Info("pruned audit log", "deleted", total)
	}
}
