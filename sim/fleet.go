package sim

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// runClock is the timeline every bounded run shares: one epoch that all
// sessions measure against, the moment sending starts and stops, and the
// signals that end sending and the wait for replies.
type runClock struct {
	epoch   time.Time     // the clock every session of the run measures against
	start   time.Duration // since epoch, when sending began
	stopped time.Duration // since epoch, when sending stopped
	stop    chan struct{} // closed when sending must stop
	drain   chan struct{} // closed when waiting for replies must stop
	alive   atomic.Int64  // devices whose loop has not returned
	allGone chan struct{} // closed when alive drops to 0
}

func newRunClock() runClock {
	return runClock{
		epoch:   time.Now(),
		stop:    make(chan struct{}),
		drain:   make(chan struct{}),
		allGone: make(chan struct{}),
	}
}

// launch marks the start of sending and runs loop(i) for each of n
// devices in its own goroutine; allGone is closed when every loop has
// returned. The returned function waits for them.
func (r *runClock) launch(n int, loop func(i int)) (wait func()) {
	r.start = time.Since(r.epoch)
	r.alive.Store(int64(n))
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			loop(i)
			if r.alive.Add(-1) == 0 {
				close(r.allGone)
			}
		})
	}
	return wg.Wait
}

// offset staggers the first message of device i of n across one period, so
// that the devices together send at an even rate instead of in bursts.
func offset(period time.Duration, i, n int) time.Duration {
	if period == 0 {
		return 0
	}
	return time.Duration(float64(period) * float64(i) / float64(n))
}

// waited says why a device loop stopped waiting.
type waited int

const (
	waitedDue  waited = iota // the moment came, or a packet id is free
	waitedStop               // the run stops sending
	waitedGone               // the device's connection is gone
)

// idleTimer returns a stopped timer for waitUntil.
func idleTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// waitUntil waits on timer until due, unless sending stops or gone (nil:
// never) closes first; a moment already past returns at once, so that a
// loop that fell behind sends what is due without pause.
func (r *runClock) waitUntil(timer *time.Timer, due time.Time, gone <-chan struct{}) waited {
	wait := time.Until(due)
	if wait <= 0 {
		return waitedDue
	}
	timer.Reset(wait)
	select {
	case <-timer.C:
		return waitedDue
	case <-r.stop:
		return waitedStop
	case <-gone:
		return waitedGone
	}
}

// takeID takes a packet id not in flight from ids, waiting while all are,
// unless sending stops or gone closes first.
func (r *runClock) takeID(ids chan uint16, gone <-chan struct{}) (uint16, waited) {
	select {
	case id := <-ids:
		return id, waitedDue
	case <-r.stop:
		return 0, waitedStop
	case <-gone:
		return 0, waitedGone
	}
}

// supervise ends sending after duration, when ctx ends or when every device
// loop has returned, and calls progress every interval meanwhile (never
// when interval is 0). It returns once sending stopped; the wait for
// replies then ends after drainTimeout or when ctx ends, and the returned
// function releases the timers once every device is done.
func (r *runClock) supervise(ctx context.Context, duration, drainTimeout, interval time.Duration, progress func(elapsed time.Duration)) (release func()) {
	end := time.NewTimer(duration)
	defer end.Stop()
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	cancelled := false
wait:
	for {
		select {
		case <-end.C:
			break wait
		case <-r.allGone:
			break wait
		case <-ctx.Done():
			cancelled = true
			break wait
		case <-tick:
			progress(time.Since(r.epoch) - r.start)
		}
	}
	r.stopped = time.Since(r.epoch)
	close(r.stop)
	var once sync.Once
	endDrain := func() { once.Do(func() { close(r.drain) }) }
	if cancelled {
		endDrain()
		return func() {}
	}
	timer := time.AfterFunc(drainTimeout, endDrain)
	stopOnCancel := context.AfterFunc(ctx, endDrain)
	return func() {
		timer.Stop()
		stopOnCancel()
	}
}

// fleetDial says how the devices of a run connect: cfg's Broker, TLS,
// Devices, KeepAlive, ConnectTimeout and ConnectConcurrency, already given
// their defaults, and the reader sizes of the device sessions.
type fleetDial struct {
	cfg     LoadConfig
	readBuf int
	maxBody int
}

// connectFleet connects the devices with at most ConnectConcurrency dials
// at a time, and hands each session to open, which prepares the device (a
// subscription, its reader) and returns it; a session open refuses is
// closed. It returns the connected devices in order, how many failed, and
// how long connecting took. It fails when ctx ends or none connects.
func connectFleet[T any](ctx context.Context, fd fleetDial, epoch time.Time, logger *slog.Logger,
	open func(ctx context.Context, i int, s *session) (T, error)) (connected []T, failed int, took time.Duration, err error) {
	began := time.Now()
	cfg := fd.cfg
	results := make([]T, len(cfg.Devices))
	ok := make([]bool, len(cfg.Devices))
	errs := make([]error, len(cfg.Devices))
	parallel(ctx, len(cfg.Devices), cfg.ConnectConcurrency, func(i int) {
		s, err := dial(ctx, fd.dialConfig(i, epoch))
		if err == nil {
			results[i], err = open(ctx, i, s)
			if err != nil {
				s.close(nil)
			}
		}
		ok[i], errs[i] = err == nil, err
	})
	took = time.Since(began)

	var firstErr error
	for i := range results {
		switch {
		case ok[i]:
			connected = append(connected, results[i])
		case errs[i] != nil:
			failed++
			logger.Debug("device failed to connect", "device", cfg.Devices[i].Name, "error", errs[i])
			if firstErr == nil {
				firstErr = errs[i]
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return connected, failed, took, fmt.Errorf("connect devices: %w", err)
	}
	if len(connected) == 0 {
		return nil, failed, took, fmt.Errorf("connect devices: none of %d connected: %w", len(cfg.Devices), firstErr)
	}
	if failed > 0 {
		logger.Warn("devices failed to connect", "failed", failed, "first_error", firstErr)
	}
	return connected, failed, took, nil
}

// dialConfig is how device i connects: client id = username = its name,
// its secret as password and its certificate in the handshake, whichever
// it has.
func (fd fleetDial) dialConfig(i int, epoch time.Time) dialConfig {
	cfg := fd.cfg
	cred := cfg.Devices[i]
	dc := dialConfig{
		broker: cfg.Broker,
		connect: connectOptions{
			clientID:  cred.Name,
			keepAlive: uint16(cfg.KeepAlive / time.Second),
		},
		timeout: cfg.ConnectTimeout,
		readBuf: fd.readBuf,
		maxBody: fd.maxBody,
		epoch:   epoch,
	}
	if cred.Secret != "" {
		dc.connect.username, dc.connect.password = cred.Name, cred.Secret
	}
	if cfg.TLS != nil {
		dc.tls = cfg.TLS.Clone()
		if dc.tls.ServerName == "" {
			host, _, _ := net.SplitHostPort(cfg.Broker)
			dc.tls.ServerName = host
		}
		if cred.Certificate != nil {
			dc.tls.Certificates = []tls.Certificate{*cred.Certificate}
		}
	}
	return dc
}

// parallel calls fn(i) for i from 0 to n-1, at most workers calls at a
// time, and stops handing out work once ctx ends. It returns when every
// call it made has returned.
func parallel(ctx context.Context, n, workers int, fn func(i int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range jobs {
				fn(i)
			}
		})
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
}
