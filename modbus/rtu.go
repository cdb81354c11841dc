package modbus

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/goburrow/serial"
)

const (
	rtuMinFrame       = 5 // unit, function, one byte, CRC
	rtuMaxFrame       = 256
	rtuExceptionFrame = 5
)

// rtuTransport sends RTU frames over a serial line and reads the answer.
//
// It takes the place of goburrow's own RTU transport, which in v0.1.0
// compares the answer's function code with the request's code ANDed with
// 0x80 (always 0) and so never completes an exception frame it has not
// read whole in its first read (a short read shows up as a bad CRC), sleeps
// for the time a full answer would take before it reads at all, and has an
// idle timer that closes the port under a lock its Send does not take, so
// that a request can lose its port halfway. This one reads exactly the
// frame it expects (the exception frame once the function code says so),
// keeps the 3.5-character silence between frames, and leaves opening and
// closing to the client.
type rtuTransport struct {
	cfg     serial.Config
	timeout time.Duration

	port io.ReadWriteCloser
	last time.Time // when the line last carried a frame
	// dirty is set when the port was closed after a failed request: a
	// late answer to it may still come, and is read and dropped before
	// the next request.
	dirty bool
}

func (t *rtuTransport) connect() error {
	if t.port != nil {
		return nil
	}
	p, err := serial.Open(&t.cfg)
	if err != nil {
		return err
	}
	t.port = p
	return nil
}

func (t *rtuTransport) close() error {
	if t.port == nil {
		return nil
	}
	err := t.port.Close()
	t.port = nil
	t.dirty = true
	return err
}

// drain reads and drops what the line carries until it has been quiet for
// the timeout: the answer to a request given up on must not be taken for
// the answer to the next.
func (t *rtuTransport) drain() error {
	var buf [rtuMaxFrame]byte
	for range 64 {
		_, err := t.port.Read(buf[:])
		if errors.Is(err, serial.ErrTimeout) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return errors.New("the line does not fall quiet")
}

// silence is the quiet time Modbus RTU requires between frames: 3.5
// characters of 11 bits, or 1.75 ms above 19200 baud.
func (t *rtuTransport) silence() time.Duration {
	if t.cfg.BaudRate <= 0 || t.cfg.BaudRate > 19200 {
		return 1750 * time.Microsecond
	}
	return time.Duration(3.5 * 11 * float64(time.Second) / float64(t.cfg.BaudRate))
}

var errNotOpen = errors.New("serial line not open")

// Send writes one request frame and returns the answer frame.
func (t *rtuTransport) Send(req []byte) ([]byte, error) {
	if t.port == nil {
		return nil, errNotOpen
	}
	if t.dirty {
		if err := t.drain(); err != nil {
			return nil, err
		}
		t.dirty = false
	}
	if wait := t.silence() - time.Since(t.last); wait > 0 {
		time.Sleep(wait)
	}
	if _, err := t.port.Write(req); err != nil {
		return nil, err
	}
	defer func() { t.last = time.Now() }()
	want := rtuAnswerLength(req)
	var buf [rtuMaxFrame]byte
	n := 0
	deadline := time.Now().Add(t.timeout)
	for {
		if n >= 2 && buf[1]&0x80 != 0 {
			want = rtuExceptionFrame
		}
		if n >= want {
			break
		}
		k, err := t.port.Read(buf[n:want])
		n += k
		switch {
		case err != nil && n > 0:
			return nil, fmt.Errorf("answer cut short after %d of %d bytes: %w", n, want, err)
		case err != nil:
			return nil, err
		case k == 0:
			return nil, io.ErrUnexpectedEOF
		case time.Now().After(deadline) && n < want:
			return nil, fmt.Errorf("answer cut short after %d of %d bytes: %w", n, want, serial.ErrTimeout)
		}
	}
	return append([]byte(nil), buf[:n]...), nil
}

// rtuAnswerLength is the length of the answer to an RTU request when it is
// not an exception.
func rtuAnswerLength(req []byte) int {
	if len(req) < 6 {
		return rtuMinFrame
	}
	q := int(req[4])<<8 | int(req[5])
	switch Function(req[1]) {
	case Coil, Discrete:
		return 5 + (q+7)/8
	case Holding, Input:
		return 5 + 2*q
	}
	switch req[1] {
	case 5, 6, 15, 16: // writes echo address and value or quantity
		return 8
	}
	return rtuMinFrame
}
