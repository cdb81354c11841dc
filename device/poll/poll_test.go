package poll_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/device/poll"
	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/sim/modbussim"
)

// The service itself runs against the real server, store, shadows and a
// simulated controller in server's TestDirectPolling; this checks what a
// register map for direct polling must be.
func TestCheck(t *testing.T) {
	m, err := poll.Check("plant-chiller", modbussim.ChillerMap)
	if err != nil || m.Source.TCP != modbussim.DefaultAddr || len(m.Writable()) == 0 {
		t.Fatalf("the shipped chiller map: %v", err)
	}
	rtu := "source:\n  rtu: {device: /dev/ttyUSB0, baud: 9600}\npoints:\n  - metric: co2_ppm\n    function: input\n    address: 0\n    type: uint16\n"
	if _, err := poll.Check("sensor", rtu); !errors.Is(err, poll.ErrRTU) {
		t.Errorf("a serial map: %v, want ErrRTU", err)
	}
	var me *modbus.MapError
	if _, err := poll.Check("sensor", "source:\n  tcp: 10.0.0.5:502\npoints: []\n"); !errors.As(err, &me) || !strings.HasPrefix(err.Error(), "sensor:") {
		t.Errorf("a map without points: %v, want a *modbus.MapError naming the device", err)
	}
}
