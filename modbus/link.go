package modbus

import (
	"fmt"
	"time"

	"github.com/goburrow/modbus"
	"github.com/goburrow/serial"
)

// link is one connection to a source, used by one request at a time.
type link interface {
	// connect opens the connection if it is not open.
	connect() error
	close() error
	// client sends requests to unit over the open connection.
	client(unit uint8) modbus.Client
}

// tcpLink is Modbus TCP through goburrow's TCP handler.
type tcpLink struct {
	h *modbus.TCPClientHandler
	c modbus.Client
}

func newTCPLink(addr string, timeout time.Duration) *tcpLink {
	h := modbus.NewTCPClientHandler(addr)
	h.Timeout = timeout
	// The client opens and closes the connection itself; the handler's
	// idle timer would close it behind the client's back.
	h.IdleTimeout = 0
	return &tcpLink{h: h, c: modbus.NewClient(h)}
}

func (l *tcpLink) connect() error { return l.h.Connect() }
func (l *tcpLink) close() error   { return l.h.Close() }
func (l *tcpLink) client(unit uint8) modbus.Client {
	l.h.SlaveId = unit
	return l.c
}

// rtuLink is Modbus RTU: goburrow's RTU framing, with the client's own
// transport over goburrow's serial port (see rtuTransport).
type rtuLink struct {
	p *rtuPackager
	t *rtuTransport
	c modbus.Client
}

func newRTULink(s *Serial, timeout time.Duration) *rtuLink {
	h := modbus.NewRTUClientHandler(s.Device)
	p := &rtuPackager{h: h}
	t := &rtuTransport{
		cfg: serial.Config{
			Address:  s.Device,
			BaudRate: s.Baud,
			DataBits: s.DataBits,
			StopBits: s.StopBits,
			Parity:   map[Parity]string{ParityNone: "N", ParityEven: "E", ParityOdd: "O"}[s.Parity],
			Timeout:  timeout,
		},
		timeout: timeout,
	}
	return &rtuLink{p: p, t: t, c: modbus.NewClient2(p, t)}
}

func (l *rtuLink) connect() error { return l.t.connect() }
func (l *rtuLink) close() error   { return l.t.close() }
func (l *rtuLink) client(unit uint8) modbus.Client {
	l.p.h.SlaveId = unit
	return l.c
}

// rtuPackager is goburrow's RTU framing with the checksum checked first
// and reported as a *CRCError, so that a corrupted answer is told apart
// from one of the wrong unit or length.
type rtuPackager struct {
	h *modbus.RTUClientHandler
}

func (p *rtuPackager) Encode(pdu *modbus.ProtocolDataUnit) ([]byte, error) { return p.h.Encode(pdu) }

func (p *rtuPackager) Verify(req, resp []byte) error {
	if len(resp) >= rtuMinFrame {
		n := len(resp)
		got := uint16(resp[n-2]) | uint16(resp[n-1])<<8
		if want := crc16(resp[:n-2]); got != want {
			return &CRCError{Got: got, Want: want}
		}
	}
	if err := p.h.Verify(req, resp); err != nil {
		return err
	}
	// goburrow takes any other function code for an exception; an answer
	// to another request (a late one) is not.
	if resp[1] != req[1] && resp[1] != req[1]|0x80 {
		return fmt.Errorf("answer of function %d to a request of function %d", resp[1], req[1])
	}
	return nil
}

func (p *rtuPackager) Decode(adu []byte) (*modbus.ProtocolDataUnit, error) { return p.h.Decode(adu) }

// crc16 is Modbus RTU's checksum (CRC-16, polynomial 0xA001 reflected,
// initial value 0xFFFF), sent low byte first.
func crc16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}
