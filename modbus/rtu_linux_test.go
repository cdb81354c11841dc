package modbus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/hearthiot/hearth/modbus"
	"github.com/hearthiot/hearth/sim/modbussim"
)

// openPTY opens a pseudo-terminal pair: the master for the simulator's RTU
// slave, and the path of the other end for the client, which opens it as
// a serial line. The test holds the other end open too, in raw mode, so
// that the line keeps its settings while the client closes and reopens it.
func openPTY(t *testing.T) (master *os.File, path string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var n uint32
	var unlock int32
	if err := ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Skipf("TIOCGPTN: %v", err)
	}
	if err := ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Skipf("TIOCSPTLCK: %v", err)
	}
	path = fmt.Sprintf("/dev/pts/%d", n)
	hold, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open %s: %v", path, err)
	}
	raw := syscall.Termios{Cflag: syscall.CS8 | syscall.CREAD | syscall.CLOCAL | syscall.B19200}
	raw.Cc[syscall.VMIN] = 1
	if err := ioctl(hold, syscall.TCSETS, unsafe.Pointer(&raw)); err != nil {
		t.Fatalf("raw mode on %s: %v", path, err)
	}
	t.Cleanup(func() { _ = hold.Close() })
	return master, path
}

// ioctl runs an ioctl on f without File.Fd, which would put f in blocking
// mode, where Close no longer ends a Read in another goroutine.
func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// startRTU serves a bare simulator over a pseudo-terminal and returns it
// with a map of the matrix on the other end.
func startRTU(t *testing.T, timeout string) (*modbussim.Sim, *modbus.Map, []matrixPoint) {
	t.Helper()
	master, path := openPTY(t)
	sim, err := modbussim.New(modbussim.Config{Profile: modbussim.Bare, UnitID: 7}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.ServeRTU(ctx, master) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeRTU: %v", err)
		}
	})
	text, points := matrix()
	text = strings.Replace(text, "  tcp: ADDR\n  timeout: 2s\n",
		"  rtu: {device: "+path+", baud: 19200, parity: none, stop_bits: 2}\n  unit_id: 7\n  timeout: "+timeout+"\n", 1)
	fill(sim, points)
	return sim, parseMap(t, text, ""), points
}

// Modbus RTU against a real peer on a pseudo-terminal: every type and
// order, writes with read-back, an exception, a bad CRC and a timeout,
// each followed by a good round.
func TestRTUOverPseudoTerminal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, m, points := startRTU(t, "300ms")
	c := newClient(t, m)

	good := func(what string) {
		t.Helper()
		r := c.Read(ctx)
		if len(r.Faults) > 0 {
			t.Fatalf("%s: faults:%s", what, faultText(r.Faults))
		}
		got := values(r)
		for _, p := range points {
			want := p.value
			if p.fn == modbus.Holding {
				want = p.newValue
			}
			if got[p.name] != want {
				t.Errorf("%s: %s read %v, want %v", what, p.name, got[p.name], want)
			}
		}
	}
	for _, p := range points {
		if p.fn != modbus.Holding {
			continue
		}
		if rd, err := c.Write(ctx, p.name, p.newValue); err != nil || rd.Value != p.newValue {
			t.Errorf("write %s = %v: %v, %v", p.name, p.newValue, rd.Value, err)
		}
		if held := sim.Registers(modbus.Holding, p.address, len(p.newWords)); !slices.Equal(held, p.newWords) {
			t.Errorf("write %s: the device holds %04x, want %04x", p.name, held, p.newWords)
		}
	}
	if rd, err := c.Write(ctx, "coil_bit", false); err != nil || rd.SettingValue() != false {
		t.Errorf("write coil_bit: %v, %v", rd.SettingValue(), err)
	}
	sim.SetBits(modbus.Coil, 9, true)
	good("first round")

	sim.Fail(modbus.Input, 1000, modbus.IllegalDataAddress)
	r := c.Read(ctx)
	if len(r.Faults) != 1 || r.Faults[0].Kind != modbus.FaultException || r.Faults[0].Exception != modbus.IllegalDataAddress ||
		r.Faults[0].Error() != "read input register 1000 of unit 7: exception 2 (illegal data address)" {
		t.Errorf("round with an exception: faults:%s", faultText(r.Faults))
	}
	sim.Fail(modbus.Input, 1000, 0)

	sim.CorruptCRC(1)
	r = c.Read(ctx)
	var crc *modbus.CRCError
	if len(r.Faults) != 1 || r.Faults[0].Kind != modbus.FaultCRC || !errors.As(r.Faults[0], &crc) || crc.Got == crc.Want {
		t.Errorf("round with a bad CRC: faults:%s", faultText(r.Faults))
	}
	good("after the bad CRC")

	// The answer comes after the client gave up on it; it must not be
	// taken for the answer to the next request.
	sim.SetDelay(700 * 1e6)
	r = c.Read(ctx)
	if len(r.Faults) == 0 || r.Faults[0].Kind != modbus.FaultTimeout || len(r.Readings) != 0 {
		t.Errorf("round with a silent unit: %d readings, faults:%s", len(r.Readings), faultText(r.Faults))
	}
	sim.SetDelay(0)
	eventually(t, "the late answer goes out", sim.Idle)
	good("after the timeout")

	st := c.Stats()
	if st.Faults[modbus.FaultCRC] != 1 || st.Faults[modbus.FaultException] != 1 || st.Connects != 3 {
		t.Errorf("stats %+v; want 1 CRC fault, 1 exception, 3 openings of the line", st)
	}
}

// A frame for another unit on the bus is not answered: to the client, a
// timeout.
func TestRTUOtherUnitIsSilent(t *testing.T) {
	t.Parallel()
	_, m, _ := startRTU(t, "100ms")
	for _, p := range m.Points {
		p.UnitID = 8
	}
	m.Points = m.Points[:1]
	c := newClient(t, m)
	r := c.Read(context.Background())
	if len(r.Faults) != 1 || r.Faults[0].Kind != modbus.FaultTimeout || !strings.HasSuffix(r.Faults[0].Error(), "no answer within 100ms") {
		t.Errorf("faults:%s", faultText(r.Faults))
	}
}

func TestRTUNoSuchDevice(t *testing.T) {
	t.Parallel()
	m := parseMap(t, "source: {rtu: {device: /dev/no-such-tty, baud: 9600}}\npoints:\n  - {metric: a, function: input, address: 0, type: int16}\n", "")
	c := newClient(t, m)
	r := c.Read(context.Background())
	if len(r.Faults) != 1 || r.Faults[0].Kind != modbus.FaultConnect || !strings.Contains(r.Faults[0].Error(), "cannot connect to /dev/no-such-tty") {
		t.Errorf("faults:%s", faultText(r.Faults))
	}
}
