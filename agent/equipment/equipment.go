package equipment

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/hearthiot/hearth/agent"
	"github.com/hearthiot/hearth/modbus"
)

// Modbus is equipment behind a register map.
type Modbus struct {
	c        *modbus.Client
	m        *modbus.Map
	interval time.Duration
	now      func() time.Time
	last     map[*modbus.Point]time.Time // when each point was last read
}

// New returns the equipment read and written through c. The agent polls
// every interval; a point whose own interval in the map is longer is read
// only when it is due, one with a shorter interval at every poll.
func New(c *modbus.Client, interval time.Duration) *Modbus {
	return &Modbus{c: c, m: c.Map(), interval: interval, now: time.Now, last: map[*modbus.Point]time.Time{}}
}

// pointInterval is how often the map asks a point to be read.
func (e *Modbus) pointInterval(p *modbus.Point) time.Duration {
	switch {
	case p.Interval > 0:
		return p.Interval
	case e.m.Source.Interval > 0:
		return e.m.Source.Interval
	}
	return modbus.DefaultInterval
}

// due lists the points to read at now. A point is due when its interval
// has passed since it was last read, less a tenth of the agent's interval,
// so that polls that come a little early do not skip it.
func (e *Modbus) due(now time.Time) []*modbus.Point {
	slack := e.interval / 10
	var out []*modbus.Point
	for _, p := range e.m.Points {
		last, read := e.last[p]
		if !read || e.pointInterval(p) <= e.interval || now.Sub(last) >= e.pointInterval(p)-slack {
			out = append(out, p)
		}
	}
	return out
}

// Poll reads the points that are due.
func (e *Modbus) Poll(ctx context.Context) agent.Poll {
	now := e.now()
	points := e.due(now)
	if len(points) == 0 {
		return agent.Poll{}
	}
	r := e.c.Read(ctx, points...)
	p := agent.Poll{Values: r.Metrics(), Settings: r.Settings()}
	for _, rd := range r.Readings {
		e.last[rd.Point] = now
		p.Read = append(p.Read, rd.Point.Name())
	}
	for _, f := range r.Faults {
		for _, pt := range f.Points {
			p.Faults = append(p.Faults, agent.Fault{Point: pt.Name(), Kind: string(f.Kind), Message: f.Error()})
		}
	}
	return p
}

// Settings lists the map's writable points.
func (e *Modbus) Settings() []agent.Setting {
	var out []agent.Setting
	for _, p := range e.m.Writable() {
		s := agent.Setting{Key: p.Setting, Unit: p.Unit, Min: math.NaN(), Max: math.NaN()}
		if p.Minimum != nil {
			s.Min = *p.Minimum
		}
		if p.Maximum != nil {
			s.Max = *p.Maximum
		}
		if p.Values != nil {
			for name := range p.Values {
				s.Values = append(s.Values, name)
			}
			slices.SortFunc(s.Values, func(a, b string) int {
				switch x, y := p.Values[a], p.Values[b]; {
				case x < y:
					return -1
				case x > y:
					return 1
				}
				return 0
			})
		} else if p.Type == modbus.Bool {
			s.Bool = true
		}
		out = append(out, s)
	}
	return out
}

// ReadSetting reads one setting from the equipment.
func (e *Modbus) ReadSetting(ctx context.Context, key string) (any, error) {
	p, ok := e.m.Setting(key)
	if !ok {
		return nil, fmt.Errorf("read setting %s: not in the register map", key)
	}
	r := e.c.Read(ctx, p)
	if len(r.Faults) > 0 {
		return nil, fmt.Errorf("read setting %s: %w", key, r.Faults[0])
	}
	if len(r.Readings) == 0 {
		return nil, fmt.Errorf("read setting %s: %w", key, ctx.Err())
	}
	return r.Readings[0].SettingValue(), nil
}

// Close closes the Modbus connection; the agent closes the equipment a
// new register map replaces.
func (e *Modbus) Close() error { return e.c.Close() }

// WriteSetting writes a setting, which the Modbus client checks against
// the map's range again, and returns what it reads back.
func (e *Modbus) WriteSetting(ctx context.Context, key string, v any) (any, error) {
	rd, err := e.c.Write(ctx, key, v)
	if err != nil {
		return nil, err
	}
	return rd.SettingValue(), nil
}
