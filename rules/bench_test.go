package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hearthiot/hearth/device"
	"github.com/hearthiot/hearth/store"
)

type acceptAll struct{}

func (acceptAll) Accept(string, []byte, time.Time) (device.Storing, error) { return nil, nil }

type rulesOf []store.MessageRule

func (r rulesOf) ListMessageRules() ([]store.MessageRule, error) { return r, nil }

// nothing takes shadow updates and publishes; the benchmark uses neither.
type nothing struct{}

func (nothing) Update(string, string, []byte, device.Actor, time.Time) ([]byte, error) { return nil, nil }
func (nothing) Publish(string, []byte, byte) error                                    { return nil }

// BenchmarkHandle is one message of 20 values through one rule with a
// mapping, taken as telemetry (storing left out).
func BenchmarkHandle(b *testing.B) {
	e, err := New(Deps{Store: rulesOf{{ID: "r", Name: "r", SQL: "SELECT *, chw_supply_c * 1.8 + 32 AS chw_supply_f FROM 'dt/+/data'",
		Actions: []store.RuleAction{{Kind: ActionTelemetry}}}}, Devices: devices{}, Telemetry: acceptAll{}, Shadows: nothing{}, Publisher: nothing{}})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Load(); err != nil {
		b.Fatal(err)
	}
	var p strings.Builder
	p.WriteString(`{"chw_supply_c": 7.12`)
	for i := range 19 {
		fmt.Fprintf(&p, `, "m%02d": %d.25`, i, i)
	}
	p.WriteString("}")
	payload := []byte(p.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Handle("gw-1", "dt/gw-1/data", payload, now); err != nil {
			b.Fatal(err)
		}
	}
}
