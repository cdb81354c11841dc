package server

import (
	"context"
	"fmt"
	"math"

	"github.com/hearthiot/hearth/device/events"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/store/remotewrite"
)

// startRemoteWrite starts mirroring the telemetry log to the remote write
// receivers, each from its saved position, before any device connects. A
// drop (the disk budget outgrown, a batch refused) is published on the
// bus, where alarm rules of kind "system" raise an alarm on it.
func (s *Server) startRemoteWrite(ctx context.Context) error {
	if len(s.cfg.RemoteWrite.URLs) == 0 {
		return nil
	}
	if s.wal == nil {
		return fmt.Errorf("remote write reads the telemetry log: it needs --telemetry-log")
	}
	m, err := remotewrite.New(s.cfg.RemoteWrite, s.wal, s.cfg.remoteWriteDir(), s.version,
		s.logger.With("component", "remote write"), func(d remotewrite.Drop) {
			s.events.Publish(events.SystemEvent{At: d.At, Level: "error", Code: "remote_write_dropped",
				Message: fmt.Sprintf("remote write to %s dropped %d samples (%s): %s", d.Remote, d.Samples, d.Reason, d.Detail),
				Source:  "remote write"})
		})
	if err != nil {
		return err
	}
	if err := m.Start(ctx); err != nil {
		return err
	}
	s.remote = m
	s.onStop("remote write", m.Stop)
	return nil
}

// walHold is the oldest telemetry log segment a remote has not sent: the
// segments from it on stay when the log is closed.
func (s *Server) walHold() uint64 {
	if s.remote == nil {
		return 0
	}
	return s.remote.Hold()
}

// remoteWriteStatus adapts the mirror to the gate's RemoteWrite.
type remoteWriteStatus struct{ m *remotewrite.Mirror }

func (r remoteWriteStatus) Status() []gate.RemoteWriteStatus {
	sts := r.m.Status()
	out := make([]gate.RemoteWriteStatus, len(sts))
	for i, st := range sts {
		var dropped uint64
		for _, n := range st.Dropped {
			dropped += n
		}
		out[i] = gate.RemoteWriteStatus{
			URL: st.URL, State: st.State, LagSamples: st.LagSamples, LagSeconds: st.LagSeconds,
			BacklogBytes: st.BacklogBytes, MaxBacklog: st.MaxBacklog, SamplesSent: st.SamplesSent, BytesSent: st.BytesSent,
			Retries: st.Retries, FailedBatches: st.FailedBatches, Dropped: dropped,
			LastSent: st.LastSent, LastError: st.LastError, LastErrorAt: st.LastErrAt,
		}
	}
	return out
}

// walHoldOrAll is the first segment to keep when the log is closed: none
// without a remote.
func (s *Server) walHoldOrAll() uint64 {
	if h := s.walHold(); h > 0 {
		return h
	}
	return math.MaxUint64
}
