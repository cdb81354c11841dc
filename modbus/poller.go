package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Poller reads a register map's points at their intervals and reports each
// round to a callback.
//
// It has Start and Stop rather than a Run(ctx): the server starts its
// components in order and stops them in reverse, each bounded by its own
// context, and a caller needs a moment after which no report arrives any
// more (the gateway agent must not publish after its MQTT client is
// gone). Stop is that moment: it returns once the round in flight has
// ended, bounded by the source's timeout, and the connection is closed.
// A round that Stop cuts short is dropped, not reported: a report holds
// only whole rounds, and none comes after Stop returns.
type Poller struct {
	c      *Client
	report func(Round)
	logger *slog.Logger
	groups []*pollGroup

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// pollGroup is the points of one interval.
type pollGroup struct {
	every  time.Duration
	points []*Point
	next   time.Time
}

// NewPoller returns a poller of m's points. report receives every round,
// from the poller's goroutine, one at a time; a slow report delays the
// next round, so it should hand the readings on rather than do I/O that
// may block for long.
func NewPoller(m *Map, report func(Round), logger *slog.Logger) (*Poller, error) {
	if report == nil {
		return nil, errors.New("new modbus poller: no report function")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c, err := NewClient(m, logger)
	if err != nil {
		return nil, err
	}
	p := &Poller{c: c, report: report, logger: logger}
	byEvery := map[time.Duration]*pollGroup{}
	for _, pt := range m.Points {
		every := m.interval(pt)
		g := byEvery[every]
		if g == nil {
			g = &pollGroup{every: every}
			byEvery[every] = g
			p.groups = append(p.groups, g)
		}
		g.points = append(g.points, pt)
	}
	slices.SortFunc(p.groups, func(a, b *pollGroup) int { return int(a.every - b.every) })
	return p, nil
}

// Client is the poller's client, for one-off reads; Write and Stats are
// also on the poller.
func (p *Poller) Client() *Client { return p.c }

// Start begins polling: the first round at once, then each point at its
// interval. It does not wait for the device: an unreachable device is a
// fault in the rounds, not an error here.
func (p *Poller) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return errors.New("start modbus poller: already started")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start modbus poller: %w", err)
	}
	p.started = true
	run, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	p.logger.Info("modbus poller started", "source", p.c.m.Source.describe(), "points", len(p.c.m.Points), "map", p.c.m.Name)
	go p.run(run)
	return nil
}

// Stop ends polling, waits for the round in flight to end and closes the
// connection. The round Stop cuts short is dropped, not reported. If ctx
// ends first it returns ctx's error; the poller then finishes in the
// background.
func (p *Poller) Stop(ctx context.Context) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return p.c.Close()
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop modbus poller of %s: %w", p.c.m.Source.describe(), ctx.Err())
	}
}

// Write writes a setting between rounds; see Client.Write.
func (p *Poller) Write(ctx context.Context, setting string, value any) (Reading, error) {
	return p.c.Write(ctx, setting, value)
}

// Stats returns the counters of the poller's client.
func (p *Poller) Stats() Stats { return p.c.Stats() }

func (p *Poller) run(ctx context.Context) {
	defer close(p.done)
	defer func() {
		if err := p.c.Close(); err != nil {
			p.logger.Warn("modbus poller stopped", "error", err)
			return
		}
		p.logger.Info("modbus poller stopped", "source", p.c.m.Source.describe())
	}()
	now := time.Now()
	for _, g := range p.groups {
		g.next = now
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	var due []*Point
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		due = due[:0]
		for _, g := range p.groups {
			if !g.next.After(now) {
				due = append(due, g.points...)
			}
		}
		if len(due) > 0 {
			round := p.c.Read(ctx, due...)
			if ctx.Err() != nil {
				return // stopping: a round cut short is not reported
			}
			p.report(round)
		}
		after := time.Now()
		next := time.Time{}
		for _, g := range p.groups {
			if !g.next.After(now) {
				g.next = g.next.Add(g.every)
				if !g.next.After(after) {
					// The round took longer than the interval: skip the
					// missed times rather than poll in a burst.
					g.next = after.Add(g.every)
				}
			}
			if next.IsZero() || g.next.Before(next) {
				next = g.next
			}
		}
		timer.Reset(time.Until(next))
	}
}
