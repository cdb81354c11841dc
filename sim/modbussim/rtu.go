package modbussim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/hearthiot/hearth/modbus"
)

// ServeRTU serves the simulated device as a Modbus RTU slave on a serial
// line (or one end of a pseudo-terminal) until ctx ends, then closes line.
// It answers frames addressed to its unit and ignores others and frames
// with a bad checksum, as a slave on a shared bus does. Fail, SetDelay and
// CorruptCRC apply.
//
// A pseudo-terminal's master reads EIO while nothing has its other end
// open; ServeRTU waits for the other end to be opened again rather than
// fail, as a slave waits for its master.
func (s *Sim) ServeRTU(ctx context.Context, line io.ReadWriteCloser) error {
	stop := context.AfterFunc(ctx, func() { _ = line.Close() })
	defer stop()
	r := bufio.NewReaderSize(line, 512)
	for {
		frame, err := readFrame(r)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, syscall.EIO):
			r.Reset(line)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(5 * time.Millisecond):
			}
			continue
		case err != nil:
			return fmt.Errorf("serve modbus rtu: %w", err)
		case frame == nil || frame[0] != s.cfg.UnitID:
			continue
		}
		answer := s.answer(frame[0], frame[1], frame[2:len(frame)-2])
		crc := crc16(answer)
		answer = append(answer, byte(crc), byte(crc>>8))
		s.mu.Lock()
		if s.corrupt > 0 {
			s.corrupt--
			answer[len(answer)-1] ^= 0x5A
		}
		s.mu.Unlock()
		if _, err := line.Write(answer); err != nil && !errors.Is(err, syscall.EIO) {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("serve modbus rtu: %w", err)
		}
	}
}

// readFrame reads one request frame. Requests are framed by their
// function's layout rather than by line silence; a frame with a bad CRC,
// or of a function the simulator does not know, is dropped with whatever
// the reader holds, and readFrame returns nil.
func readFrame(r *bufio.Reader) ([]byte, error) {
	head := make([]byte, 2, 260)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	var rest int
	switch head[1] {
	case 1, 2, 3, 4, 5, 6:
		rest = 6 // address, quantity or value, CRC
	case 15, 16:
		more := make([]byte, 5) // address, quantity, byte count
		if _, err := io.ReadFull(r, more); err != nil {
			return nil, err
		}
		head = append(head, more...)
		rest = int(more[4]) + 2
	default:
		_, _ = r.Discard(r.Buffered())
		return nil, nil
	}
	frame := append(head, make([]byte, rest)...)
	if _, err := io.ReadFull(r, frame[len(head):]); err != nil {
		return nil, err
	}
	n := len(frame)
	if crc16(frame[:n-2]) != uint16(frame[n-2])|uint16(frame[n-1])<<8 {
		_, _ = r.Discard(r.Buffered())
		return nil, nil
	}
	return frame, nil
}

// answer serves one request PDU and returns the answer's unit, function
// and data, without the CRC.
func (s *Sim) answer(unit, fn byte, data []byte) []byte {
	fail := func(e modbus.Exception) []byte { return []byte{unit, fn | 0x80, byte(e)} }
	u16 := func(i int) uint16 { return uint16(data[i])<<8 | uint16(data[i+1]) }
	if len(data) < 4 {
		return fail(modbus.IllegalDataValue)
	}
	addr, q := u16(0), int(u16(2))
	switch fn {
	case 1, 2:
		if q < 1 || q > 2000 || int(addr)+q > 65536 {
			return fail(modbus.IllegalDataValue)
		}
		bits, e := s.readBits(unit, modbus.Function(fn), addr, q)
		if e != 0 {
			return fail(e)
		}
		out := append([]byte{unit, fn, byte((q + 7) / 8)}, make([]byte, (q+7)/8)...)
		for i, b := range bits {
			if b {
				out[3+i/8] |= 1 << (i % 8)
			}
		}
		return out
	case 3, 4:
		if q < 1 || q > 125 || int(addr)+q > 65536 {
			return fail(modbus.IllegalDataValue)
		}
		regs, e := s.readRegisters(unit, modbus.Function(fn), addr, q)
		if e != 0 {
			return fail(e)
		}
		out := []byte{unit, fn, byte(2 * q)}
		for _, w := range regs {
			out = append(out, byte(w>>8), byte(w))
		}
		return out
	case 5:
		v := u16(2)
		if v != 0xFF00 && v != 0 {
			return fail(modbus.IllegalDataValue)
		}
		if e := s.writeCoils(unit, addr, []bool{v == 0xFF00}); e != 0 {
			return fail(e)
		}
		return append([]byte{unit, fn}, data[:4]...)
	case 6:
		if e := s.writeRegisters(unit, addr, []uint16{u16(2)}); e != 0 {
			return fail(e)
		}
		return append([]byte{unit, fn}, data[:4]...)
	case 15:
		if q < 1 || q > 1968 || len(data) != 5+(q+7)/8 {
			return fail(modbus.IllegalDataValue)
		}
		bits := make([]bool, q)
		for i := range bits {
			bits[i] = data[5+i/8]>>(i%8)&1 == 1
		}
		if e := s.writeCoils(unit, addr, bits); e != 0 {
			return fail(e)
		}
		return append([]byte{unit, fn}, data[:4]...)
	case 16:
		if q < 1 || q > 123 || len(data) != 5+2*q {
			return fail(modbus.IllegalDataValue)
		}
		words := make([]uint16, q)
		for i := range words {
			words[i] = u16(5 + 2*i)
		}
		if e := s.writeRegisters(unit, addr, words); e != 0 {
			return fail(e)
		}
		return append([]byte{unit, fn}, data[:4]...)
	}
	return fail(modbus.IllegalFunction)
}

// crc16 is Modbus RTU's checksum, table-driven (the client's is bitwise,
// so that each checks the other).
func crc16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc = crc>>8 ^ crcTable[byte(crc)^c]
	}
	return crc
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()
