package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hearthiot/hearth/device"
)

// diskWatch keeps an eye on the free space of the data directory's file
// system. Below the floor, telemetry is refused (the devices keep it and
// send it again) so that the disk never fills: bbolt, the log and the
// time-series store all need room to write safely, and shadows, pages and
// the API keep working on what is left.
type diskWatch struct {
	dir   string
	floor uint64 // bytes; 0 turns the watch off
	free  atomic.Uint64
	low   atomic.Bool
	stop  chan struct{}
	done  chan struct{}
}

// diskCheckEvery is how often the free space is read.
const diskCheckEvery = 2 * time.Second

// startDiskWatch reads the free space now and every diskCheckEvery.
func (s *Server) startDiskWatch(context.Context) error {
	d := &diskWatch{dir: s.cfg.DataDir, floor: uint64(s.cfg.MinFreeDisk), stop: make(chan struct{}), done: make(chan struct{})}
	if err := d.check(); err != nil {
		return fmt.Errorf("read the free space of %s: %w", s.cfg.DataDir, err)
	}
	logger := s.logger.With("component", "disk")
	if d.low.Load() {
		logger.Error("the data directory's disk is below its free-space floor: telemetry is refused until there is room",
			"free_bytes", d.free.Load(), "floor_bytes", d.floor)
	}
	go func() {
		defer close(d.done)
		t := time.NewTicker(diskCheckEvery)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-t.C:
				was := d.low.Load()
				if err := d.check(); err != nil {
					logger.Warn("free space not read", "error", err)
					continue
				}
				switch now := d.low.Load(); {
				case now && !was:
					logger.Error("the data directory's disk is below its free-space floor: telemetry is refused until there is room",
						"free_bytes", d.free.Load(), "floor_bytes", d.floor)
				case was && !now:
					logger.Info("free space is back above the floor: telemetry is accepted again", "free_bytes", d.free.Load())
				}
			}
		}
	}()
	s.disk = d
	s.onStop("disk space", func(context.Context) error { close(d.stop); <-d.done; return nil })
	return nil
}

// check reads the free space (what an unprivileged writer may use).
func (d *diskWatch) check() error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.dir, &st); err != nil {
		return err
	}
	free := st.Bavail * uint64(st.Bsize)
	d.free.Store(free)
	d.low.Store(d.floor > 0 && free < d.floor)
	return nil
}

// refuse says why telemetry is refused now, or nil.
func (d *diskWatch) refuse() error {
	if d == nil || !d.low.Load() {
		return nil
	}
	return &device.TelemetryError{Code: device.CodeStorageFull, Message: fmt.Sprintf(
		"Hearth's disk is nearly full (%d MiB free, below its floor of %d MiB); keep the readings and send them again later",
		d.free.Load()>>20, d.floor>>20)}
}
