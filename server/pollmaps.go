package server

import (
	"errors"

	"github.com/hearthiot/hearth/device/poll"
	"github.com/hearthiot/hearth/gate"
	"github.com/hearthiot/hearth/modbus"
)

// MapChecker checks register maps for the gate with direct polling's
// rules, so that the gate and the web layer link no Modbus code.
type MapChecker struct{}

func (MapChecker) CheckMap(device, text string) (gate.MapSummary, error) {
	m, err := poll.Check(device, text)
	var me *modbus.MapError
	switch {
	case errors.As(err, &me):
		ge := &gate.Error{Kind: gate.KindInvalid, Message: me.Error()}
		for _, p := range me.Problems {
			ge.Lines = append(ge.Lines, gate.LineProblem{Line: p.Line, Message: p.Message})
		}
		return gate.MapSummary{}, ge
	case errors.Is(err, poll.ErrRTU):
		return gate.MapSummary{}, gate.Invalid("%v", err)
	case err != nil:
		return gate.MapSummary{}, err
	}
	return gate.MapSummary{Source: "tcp " + m.Source.TCP, Points: len(m.Points)}, nil
}
