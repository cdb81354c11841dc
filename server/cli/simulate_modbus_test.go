package cli

import (
	"bufio"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	gm "github.com/goburrow/modbus"

	"github.com/hearthiot/hearth/modbus"
)

var listeningLine = regexp.MustCompile(`msg="modbus simulator listening" addr=(\S+)`)

// The command serves the chiller until its context ends; a Modbus TCP
// client reads its registers.
func TestSimulateModbusServes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr, logs := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runSimulateModbus(ctx, IO{Stdout: io.Discard, Stderr: logs, Getenv: func(string) string { return "" }},
			[]string{"--listen", "127.0.0.1:0", "--profile", "chiller", "--seed", "7", "--building", "hotel"})
		logs.Close()
	}()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var addr string
	select {
	case addr = <-found:
	case err := <-done:
		t.Fatalf("the command ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no listening line within 10s")
	}

	h := gm.NewTCPClientHandler(addr)
	h.Timeout = 2 * time.Second
	h.SlaveId = 1
	defer h.Close()
	c := gm.NewClient(h)
	b, err := c.ReadHoldingRegisters(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if mode, chw := uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|uint16(b[3]); mode != 1 || chw != 70 {
		t.Errorf("mode register %d, chilled water set-point register %d; want 1 (cooling) and 70 (7.0 °C)", mode, chw)
	}
	if b, err := c.ReadDiscreteInputs(0, 1); err != nil || len(b) != 1 {
		t.Errorf("running: % x, %v", b, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the command ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not end within 10s of its context")
	}
}

func TestSimulateModbusPrintMap(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, "", map[string]string{"HEARTH_PROFILE": "iaq"}, "simulate", "modbus", "--print-map", "--listen", "10.1.2.3:1502")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m, err := modbus.Parse(strings.NewReader(out), "iaq.yaml")
	if err != nil {
		t.Fatalf("the printed map does not parse: %v\n%s", err, out)
	}
	if m.Source.TCP != "10.1.2.3:1502" {
		t.Errorf("source %q, want the --listen address", m.Source.TCP)
	}
	if _, ok := m.Metric("co2_ppm"); !ok {
		t.Error("HEARTH_PROFILE=iaq did not print the sensor's map")
	}
}

func TestSimulateModbusRefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--profile", "boiler"}, `--profile "boiler": use chiller or iaq`},
		{[]string{"--building", "barn"}, `--building "barn": use office, hotel, hospital or school`},
		{[]string{"--unit-id", "0"}, `--unit-id 0: use 1 to 247`},
		{[]string{"--listen", "nowhere"}, `--listen "nowhere" is not HOST:PORT`},
		{[]string{"--print-map", "--listen", "127.0.0.1:0"}, `give a port other than 0`},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
	} {
		code, _, stderr := runCLI(t, "", nil, append([]string{"simulate", "modbus"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
